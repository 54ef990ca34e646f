"""The kubernetes backend: the dev-style endpoint rendered and schema-validated, and each guardrail
that applies reproduced with the incident values of the EKS/vLLM performance-evaluation notes."""

from __future__ import annotations

import copy

from components.rules import engines, manifests, probes, security
from components.rules.backends import render as render_backend
from tests.backends.backend_helpers import assert_clean, rules_of, spec


def objects(**overrides):
    return {o["kind"]: o for o in render_backend(spec("kubernetes", **overrides), region="us-east-1")}


def engine_container(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]


def test_dev_style_endpoint_renders_every_object_schema_valid_and_clean(validator):
    rendered = render_backend(
        spec("kubernetes", autoscaling={"maxReplicas": 3}, loadBalancer="alb"), region="us-east-1"
    )
    assert [o["kind"] for o in rendered] == [
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Ingress",
    ]
    assert_clean(rendered, validator)


def test_engine_command_and_args_come_from_the_rule_library():
    c = engine_container(objects()["Deployment"])
    assert c["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    parsed = engines.parse_args(c["args"])
    assert parsed["--served-model-name"] == "Llama-3.1-8B-Instruct"  # G5
    assert parsed["--port"] == "8000" and c["ports"][0]["containerPort"] == 8000  # G3
    assert parsed["--tensor-parallel-size"] == "2" and c["resources"]["limits"]["nvidia.com/gpu"] == "2"  # G11
    assert parsed["--max-model-len"] == "8192"  # G10


def test_g4_rollout_cannot_deadlock_on_one_gpu():
    dep = objects()["Deployment"]
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    broken = copy.deepcopy(dep)
    broken["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }  # the Kubernetes default
    assert ("G4", "spec.strategy.rollingUpdate.maxSurge") in rules_of(broken)


def test_g4_perf_eval_probes_and_a_startup_probe_that_survives_model_load():
    c = engine_container(objects(maxDeploySeconds=3600)["Deployment"])
    assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert c["readinessProbe"]["timeoutSeconds"] >= 5
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 3600
    # The perf-eval fix's liveness (initialDelay 300, period 30, 3 failures = 390 s) without a startup probe
    # kills a model that loads for longer: G4 says so.
    dep = objects()["Deployment"]
    c = engine_container(dep)
    del c["startupProbe"]
    c["livenessProbe"] = {
        "httpGet": {"path": "/health", "port": 8000},
        "initialDelaySeconds": 300,
        "periodSeconds": 30,
        "timeoutSeconds": 10,
        "failureThreshold": 3,
    }
    assert ("G4", "spec.template.spec.containers[0].startupProbe") in rules_of(dep)


def test_g4_one_second_probe_timeout_is_caught():
    dep = objects()["Deployment"]
    engine_container(dep)["readinessProbe"]["timeoutSeconds"] = 1
    assert ("G4", "spec.template.spec.containers[0].readinessProbe.timeoutSeconds") in rules_of(dep)


def test_g11_pinned_to_g5_xlarge_not_the_cheapest_gpu():
    dep = objects(instanceType="g5.xlarge", engineArgs={"maxModelLen": 8192})["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "g5.xlarge"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    del pod["nodeSelector"]
    assert ("G11", "spec.template.spec.nodeSelector") in rules_of(dep)


def test_g12_t4_gets_the_flashinfer_workaround():
    dep = objects(instanceType="g4dn.xlarge", engineArgs={"maxModelLen": 4096})["Deployment"]
    c = engine_container(dep)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["VLLM_USE_FLASHINFER_SAMPLER"] == "0"
    assert engines.parse_args(c["args"])["--dtype"] == "float16"  # no bfloat16 on compute capability 7.5
    c["env"] = [e for e in c["env"] if e["name"] != "VLLM_USE_FLASHINFER_SAMPLER"]
    assert ("G12", "spec.template.spec.containers[0].env[VLLM_USE_FLASHINFER_SAMPLER]") in rules_of(dep)


def test_g11_cuda_visible_devices_is_caught_in_a_deployment():
    dep = objects()["Deployment"]
    engine_container(dep)["env"].append({"name": "CUDA_VISIBLE_DEVICES", "value": "7"})
    assert ("G11", "spec.template.spec.containers[0].env[CUDA_VISIBLE_DEVICES]") in rules_of(dep)


def test_g13_shm_and_ephemeral_storage():
    dep = objects()["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    assert engine_container(dep)["resources"]["requests"]["ephemeral-storage"] == "50Gi"
    engine_container(dep)["volumeMounts"] = [
        m for m in engine_container(dep)["volumeMounts"] if m["mountPath"] != "/dev/shm"
    ]
    assert ("G13", "spec.template.spec.containers[0].volumeMounts") in rules_of(dep)


def test_g5_served_name_with_a_slash_is_caught():
    dep = objects()["Deployment"]
    args = engine_container(dep)["args"]
    args[args.index("--served-model-name") + 1] = "meta-llama/Llama-3.1-8B-Instruct"
    assert ("G5", "spec.template.spec.containers[0].args[--served-model-name]") in rules_of(dep)


def test_s3_weights_through_the_s3_csi_driver_read_only():
    got = objects()
    pv, pvc = got["PersistentVolume"], got["PersistentVolumeClaim"]
    assert pv["spec"]["csi"]["driver"] == "s3.csi.aws.com" and pv["spec"]["csi"]["volumeAttributes"] == {
        "bucketName": "my-models"
    }
    assert "prefix llama31_8b/" in pv["spec"]["mountOptions"] and "region us-east-1" in pv["spec"]["mountOptions"]
    assert (
        pvc["spec"]["volumeName"] == pv["metadata"]["name"]
        and pv["spec"]["claimRef"]["name"] == pvc["metadata"]["name"]
    )
    c = engine_container(got["Deployment"])
    assert {"name": "model-weights", "mountPath": "/opt/ml/model", "readOnly": True} in c["volumeMounts"]
    assert engines.parse_args(c["args"])["--model"] == "/opt/ml/model"


def test_s3_weights_through_an_init_container(validator):
    got = objects(kubernetes={"weights": "init-container", "serviceAccountName": "model-reader"})
    assert "PersistentVolume" not in got
    pod = got["Deployment"]["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert (
        init["command"][:4] == ["aws", "s3", "sync", "s3://my-models/llama31_8b/"]
        and pod["serviceAccountName"] == "model-reader"
    )
    assert validator.validate(got["Deployment"]).status == "passed"


def test_hugging_face_token_from_a_secret_never_a_plain_value(validator):
    got = objects(
        modelSource={
            "type": "huggingface",
            "modelId": "meta-llama/Llama-3.1-8B-Instruct",
            "revision": "0e9e39f249a16976918f6564b8830bc894c89659",
            "tokenSecret": {"name": "hf-token"},
        }
    )
    c = engine_container(got["Deployment"])
    env = {e["name"]: e for e in c["env"]}
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "llama-3-1-8b-vllm-api-key"
    parsed = engines.parse_args(c["args"])
    assert parsed["--model"] == "meta-llama/Llama-3.1-8B-Instruct" and parsed["--revision"].startswith("0e9e39f2")
    assert security.check_plaintext_secrets(got["Deployment"]) == []
    assert validator.validate(got["Deployment"]).status == "passed"


def test_nlb_service_as_the_perf_eval_fix_ip_targets(validator):
    svc = objects(loadBalancer="nlb", publicAlb=True)["Service"]
    notes = svc["metadata"]["annotations"]
    assert svc["spec"]["type"] == "LoadBalancer" and svc["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    assert notes["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
    assert notes["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert notes["service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"] == "/health"
    assert "Ingress" not in objects(loadBalancer="nlb")
    assert validator.validate(svc).status == "passed"


def test_alb_ingress_in_the_endpoint_namespace_fronts_the_endpoint_service():
    got = objects(publicAlb=True)
    ing = got["Ingress"]
    assert ing["metadata"]["namespace"] == "inference"
    assert ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/backend-protocol"] == "HTTP"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": got["Service"]["metadata"]["name"], "port": {"number": 80}}
    assert got["Service"]["spec"]["ports"][0]["targetPort"] == "http"


def test_hpa_owns_the_replica_count_when_autoscaling():
    got = objects(autoscaling={"minReplicas": 0, "maxReplicas": 4})
    assert "replicas" not in got["Deployment"]["spec"]
    hpa = got["HorizontalPodAutoscaler"]["spec"]
    assert hpa["minReplicas"] == 1 and hpa["maxReplicas"] == 4
    assert hpa["metrics"][0]["pods"]["metric"]["name"] == "vllm:num_requests_waiting"
    assert objects()["Deployment"]["spec"]["replicas"] == 1 and "HorizontalPodAutoscaler" not in objects()


def test_sglang_deployment_runs_with_metrics():
    c = engine_container(objects(engine="sglang", engineArgs={"maxModelLen": 8192})["Deployment"])
    assert "--enable-metrics" in c["args"] and c["ports"][0]["containerPort"] == 30000
    assert (
        c["readinessProbe"]["httpGet"]["port"] == 30000
        and c["readinessProbe"]["timeoutSeconds"] == probes.MIN_TIMEOUT_SECONDS
    )


def test_the_transform_leaves_a_rendered_deployment_unchanged():
    dep = objects()["Deployment"]
    fixed, changes = manifests.fix(dep)
    assert changes == [] and fixed == dep
