"""The kserve backend: rendered and schema-validated, a real ClusterIP Service (KServe's own
is headless), no hf:// storage (KServe has none), and the T4 workarounds (Triton failed to compile on a T4)."""

from __future__ import annotations

from components.rules import engines
from components.rules.backends import render as render_backend
from tests.backends.backend_helpers import assert_clean, rules_of, spec

HF = {"type": "huggingface", "modelId": "Qwen/Qwen2.5-0.5B-Instruct"}


def objects(**overrides):
    return {o["kind"]: o for o in render_backend(spec("kserve", **overrides))}


def predictor(obj):
    return obj["spec"]["predictor"]


def test_dev_style_endpoint_renders_schema_valid_and_clean(validator):
    rendered = render_backend(spec("kserve"))
    assert [o["kind"] for o in rendered] == ["InferenceService", "Service", "Ingress"]
    assert_clean(rendered, validator)
    isvc = rendered[0]
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "RawDeployment"}
    c = predictor(isvc)["containers"][0]
    assert c["name"] == "kserve-container" and {"name": "STORAGE_URI", "value": "s3://my-models/llama31_8b"} in c["env"]
    assert engines.parse_args(c["args"])["--model"] == "/mnt/models"


def test_gateway_service_is_a_real_cluster_ip_on_port_80_by_port_name():
    got = objects()
    svc = got["Service"]
    assert svc["spec"]["type"] == "ClusterIP" and "clusterIP" not in svc["spec"]
    assert svc["spec"]["selector"] == {"serving.kserve.io/inferenceservice": "llama-3-1-8b-vllm"}
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert predictor(got["InferenceService"])["containers"][0]["ports"][0]["name"] == "http"
    backend = got["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == svc["metadata"]["name"]
    headless = {**svc, "spec": {**svc["spec"], "clusterIP": "None"}}
    assert ("B1", "spec.clusterIP") in rules_of(headless)


def test_hugging_face_model_downloaded_by_the_engine_not_storage_uri(validator):
    got = objects(model="Qwen/Qwen2.5-0.5B-Instruct", modelSource=HF, loadBalancer="none")
    c = predictor(got["InferenceService"])["containers"][0]
    assert engines.parse_args(c["args"])["--model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert "model" not in predictor(got["InferenceService"]) and not [e for e in c["env"] if e["name"] == "STORAGE_URI"]
    assert_clean(list(got.values()), validator)
    broken = got["InferenceService"]
    predictor(broken)["model"] = {
        "modelFormat": {"name": "huggingface"},
        "storageUri": "hf://Qwen/Qwen2.5-0.5B-Instruct",
    }
    assert ("B1", "spec.predictor.model.storageUri") in rules_of(broken)


def test_t4_gets_the_documented_workarounds():
    isvc = objects(
        instanceType="g4dn.xlarge", engineArgs={"maxModelLen": 4096, "maxNumSeqs": 32, "enforceEager": True}
    )["InferenceService"]
    c = predictor(isvc)["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert (
        env["VLLM_USE_TRITON_FLASH_ATTN"] == "0"
        and env["NCCL_P2P_DISABLE"] == "1"
        and env["VLLM_USE_FLASHINFER_SAMPLER"] == "0"
    )
    parsed = engines.parse_args(c["args"])
    assert parsed["--dtype"] == "float16" and parsed["--max-model-len"] == "4096" and "--enforce-eager" in parsed
    c["env"] = [e for e in c["env"] if e["name"] != "VLLM_USE_TRITON_FLASH_ATTN"]
    assert ("G12", "spec.predictor.containers[0].env[VLLM_USE_TRITON_FLASH_ATTN]") in rules_of(isvc)


def test_g4_predictor_rollout_and_probes():
    isvc = objects()["InferenceService"]
    assert predictor(isvc)["deploymentStrategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    predictor(isvc)["deploymentStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    predictor(isvc)["containers"][0]["readinessProbe"]["timeoutSeconds"] = 1
    found = rules_of(isvc)
    assert ("G4", "spec.predictor.deploymentStrategy.rollingUpdate.maxSurge") in found
    assert ("G4", "spec.predictor.containers[0].readinessProbe.timeoutSeconds") in found


def test_g11_predictor_pinned_and_gpu_by_limit():
    isvc = objects()["InferenceService"]
    assert predictor(isvc)["nodeSelector"] == {"node.kubernetes.io/instance-type": "g5.12xlarge"}
    del predictor(isvc)["nodeSelector"]
    predictor(isvc)["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "1"  # TP size is 2
    found = rules_of(isvc)
    assert ("G11", "spec.predictor.nodeSelector") in found and (
        "G11",
        "spec.predictor.containers[0].resources.limits.nvidia.com/gpu",
    ) in found


def test_nlb_makes_the_gateway_service_a_load_balancer(validator):
    got = objects(loadBalancer="nlb")
    assert got["Service"]["spec"]["type"] == "LoadBalancer" and "Ingress" not in got
    assert validator.validate(got["Service"]).status == "passed"


def test_the_alb_ingress_carries_the_tags_it_is_given():
    from components.rules import tags

    rendered = render_backend(
        spec("kserve", loadBalancer="alb"), alb_tags=tags.alb_tags("prod", "chat", {"team": "ml"})
    )
    (ingress,) = [o for o in rendered if o["kind"] == "Ingress"]
    annotation = ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/tags"]
    assert dict(pair.split("=", 1) for pair in annotation.split(",")) == {
        "team": "ml",
        tags.STACK_TAG: "prod",
        tags.ENDPOINT_TAG: "chat",
    }
