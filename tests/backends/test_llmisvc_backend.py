"""The llmisvc backend: a KServe LLMInferenceService (serving.kserve.io/v1alpha2), read at kserve/kserve@v0.20.0.

- the presets start `vllm serve /mnt/models --served-model-name {{ .Spec.Model.Name }} --port 8000` and the
  workload Service targets 8000 (config/llmisvcconfig/config-llm-template.yaml, pkg/controller/v1alpha2/llmisvc/
  workload.go); with prefill/decode the decode pod's vLLM moves to 8001 behind the routing sidecar
  (config-llm-decode-template.yaml);
- the storage initializer reads the Hugging Face token from the Secret the `serving.kserve.io/secretName`
  annotation names, key HF_TOKEN only (pkg/credentials/hf/hf_secret.go);
- the CRD's own rule: `replicas and scaling are mutually exclusive` (config/crd/full/llmisvc, the plan's schema);
- the state is the Ready condition (pkg/apis/serving/v1alpha2/llm_inference_service_lifecycle.go).
"""

from __future__ import annotations

import copy

import jsonschema

from components.kube_reader import KubeReader
from components.rules import addons, ordering
from components.rules.backends import check_operators, llmisvc, operators_for, validate_backends
from components.rules.backends import render as render_backend
from components.rules.catalog import G2, G3, G5, O3, O8
from components.rules.resources import Resource
from components.rules.spec import ClusterSpec, PlatformSpec
from components.rules.validate import validate_endpoint
from stacks.live.reader import read_endpoint
from stacks.schemas import CrdRegistry
from tests import k8s_server as k
from tests.backends.backend_helpers import assert_clean, rules_of, spec

SCHEDULER = {"router": "scheduler", "gateway": {"name": "llm-d-gateway", "namespace": "llm-d"}}
HF = {"type": "huggingface", "modelId": "Qwen/Qwen3-8B", "tokenSecret": {"name": "hf-token", "key": "HF_TOKEN"}}


def one(**overrides):
    (obj,) = render_backend(spec("llmisvc", loadBalancer="none", **overrides))
    return obj


def main(pod):
    (c,) = [c for c in pod["containers"] if c["name"] == "main"]
    return c


def errors(**overrides):
    s = spec("llmisvc", **{"loadBalancer": "none", **overrides})
    problems = validate_endpoint(s, "endpoints[0]") + validate_backends(
        [s], ClusterSpec(mode="eks", name="c"), PlatformSpec()
    )
    return [p for p in problems if p.severity == "error"]


def test_single_node_renders_schema_valid_and_clean_on_the_presets_port(validator):
    obj = one()
    assert (obj["apiVersion"], obj["kind"]) == ("serving.kserve.io/v1alpha2", "LLMInferenceService")
    assert_clean([obj], validator)
    assert obj["spec"]["model"] == {"uri": "s3://my-models/llama31_8b", "name": "Llama-3.1-8B-Instruct"}
    assert "prefill" not in obj["spec"] and "router" not in obj["spec"]
    c = main(obj["spec"]["template"])
    assert "image" not in c and "command" not in c  # the presets' llm-d image and `vllm serve` command
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert {p["httpGet"]["port"] for p in (c["readinessProbe"], c["livenessProbe"], c["startupProbe"])} == {8000}
    args = c["args"]
    assert args[args.index("--served-model-name") + 1 : args.index("--served-model-name") + 3] == [
        "Llama-3.1-8B-Instruct",
        "publishers/inference/models/Llama-3.1-8B-Instruct",
    ]
    assert args[args.index("--port") + 1] == "8000" and obj["spec"]["parallelism"] == {"tensor": 2}


def test_prefill_decode_renders_valid_with_decode_vllm_on_8001_behind_the_sidecar(validator):
    obj = one(llmisvc={**SCHEDULER, "prefillReplicas": 2}, modelSource=HF, model="Qwen/Qwen3-8B")
    assert_clean([obj], validator)
    body = obj["spec"]
    assert body["router"] == {
        "route": {},
        "gateway": {"refs": [{"name": "llm-d-gateway", "namespace": "llm-d"}]},
        "scheduler": {},
    }
    decode, prefill = main(body["template"]), main(body["prefill"]["template"])
    assert (decode["ports"][0]["containerPort"], prefill["ports"][0]["containerPort"]) == (8001, 8000)
    assert decode["readinessProbe"]["httpGet"]["port"] == 8001 and prefill["readinessProbe"]["httpGet"]["port"] == 8000

    def kv(c):
        return [e["value"] for e in c["env"] if e["name"] == "VLLM_ADDITIONAL_ARGS"]

    assert kv(decode) == ['--kv_transfer_config \'{"kv_connector":"NixlConnector","kv_role":"kv_consumer"}\'']
    assert kv(prefill) == ['--kv_transfer_config \'{"kv_connector":"NixlConnector","kv_role":"kv_producer"}\'']
    assert body["prefill"]["replicas"] == 2 and body["model"]["uri"] == "hf://Qwen/Qwen3-8B"
    # The token reaches KServe's storage initializer through the annotation, not the engine's env.
    assert obj["metadata"]["annotations"] == {"serving.kserve.io/secretName": "hf-token"}
    assert not [e for e in decode["env"] if e["name"] == "HF_TOKEN"]


def test_g3_decode_container_on_the_single_node_port_is_reported():
    obj = one(llmisvc={**SCHEDULER, "prefillReplicas": 1})
    broken = copy.deepcopy(obj)
    main(broken["spec"]["template"])["ports"][0]["containerPort"] = 8000
    assert (G3, "spec.template.containers[0].ports[0].containerPort") in rules_of(broken)


def test_g5_a_model_name_with_the_org_is_reported():
    broken = one()
    broken["spec"]["model"]["name"] = "meta-llama/Llama-3.1-8B-Instruct"
    assert (G5, "spec.model.name") in rules_of(broken)


def test_extra_args_are_shell_quoted_for_the_presets_eval_and_read_back_unquoted():
    obj = one(extraArgs=["--speculative-config", '{"method": "ngram"}'])
    c = main(obj["spec"]["template"])
    assert c["args"][-1] == '\'{"method": "ngram"}\''
    (view,) = llmisvc.engine_views(obj)
    assert view.flags["--speculative-config"] == '{"method": "ngram"}'


def test_config_refusals_are_one_line_naming_key_value_and_fix():
    cases = [
        ({"engine": "sglang"}, "endpoints[0].engine", "sglang", "use engine: vllm, or backend: kubernetes for SGLang"),
        ({"port": 9000}, "endpoints[0].port", 9000, "remove port (8000)"),
        (
            {"modelSource": {**HF, "tokenSecret": {"name": "hf-token", "key": "token"}}},
            "endpoints[0].modelSource.tokenSecret.key",
            "token",
            "store the token under key HF_TOKEN and set tokenSecret.key: HF_TOKEN",
        ),
        (
            {"llmisvc": {"router": "scheduler"}},
            "endpoints[0].llmisvc.gateway",
            None,
            "set llmisvc.gateway {name, namespace} of that Gateway, or llmisvc.router: none",
        ),
        (
            {"llmisvc": {"prefillReplicas": 2}},
            "endpoints[0].llmisvc.prefillReplicas",
            2,
            "set llmisvc.router: scheduler (with llmisvc.gateway), or remove prefillReplicas",
        ),
        ({"loadBalancer": "alb"}, "endpoints[0].loadBalancer", "alb", "set loadBalancer: none"),
        (
            {"autoscaling": {"minReplicas": 1, "maxReplicas": 2}},
            "endpoints[0].autoscaling",
            {"minReplicas": 1, "maxReplicas": 2, "cooldownSeconds": 300, "utilization": 0.7},
            "remove autoscaling and set replicas",
        ),
    ]
    for overrides, path, value, fix in cases:
        found = [p for p in errors(**overrides) if p.path == path]
        assert [(p.value, p.fix) for p in found] == [(value, fix)], (overrides, [str(p) for p in errors(**overrides)])
        assert "\n" not in str(found[0])
    assert errors() == []
    assert errors(llmisvc={**SCHEDULER, "prefillReplicas": 1}) == []


def test_g2_a_name_whose_workload_service_kserve_would_hash_is_refused():
    assert [p.rule for p in errors(name="a" * 44)] == [G2]
    assert errors(name="a" * 43) == []
    assert llmisvc.workload_service_name(spec("llmisvc", name="a" * 43)) == "a" * 43 + "-kserve-workload-svc"


def test_the_crds_own_rule_replicas_or_scaling_comes_back_with_its_message(schema_validator):
    broken = one()
    broken["spec"]["scaling"] = {"minReplicas": 1, "maxReplicas": 2, "wva": {"hpa": {}}}
    result = schema_validator.validate(broken)
    assert result.status == "failed"
    messages = [v.problem.message for v in result.cel.violations]
    assert any("replicas and scaling are mutually exclusive" in m for m in messages), messages
    assert schema_validator.validate(one()).cel.counts.violated == 0


def test_the_platform_installs_the_llmisvc_charts_and_their_presets_when_an_endpoint_uses_it():
    plan = addons.resolve_addons("eks", PlatformSpec(), operators_for(["llmisvc"]))
    assert plan["llmisvc_operator"] and not plan["kserve_operator"]
    assert [
        addons.CHARTS[c][1:]
        for c in (*addons.OPERATOR_CHARTS["llmisvc_operator"], *addons.OPERATOR_EXTRA_CHARTS["llmisvc_operator"])
    ] == [
        ("oci://ghcr.io/kserve/charts/kserve-llmisvc-crd", "v0.20.0"),
        ("oci://ghcr.io/kserve/charts/kserve-llmisvc-resources", "v0.20.0"),
        ("oci://ghcr.io/kserve/charts/kserve-runtime-configs", "v0.20.0"),
    ]
    assert addons.EXTRA_CHART_VALUES["llmisvc_presets"]["kserve"]["llmisvcConfigs"] == {"enabled": True}
    assert addons.llmisvc_values({}, inference_pool_crds=False)["kserve"]["llmisvc"]["createGIECRDs"] is False


def test_o8_switched_off_operator_and_both_kserve_charts_are_refused():
    s = spec("llmisvc", loadBalancer="none")
    (o8,) = check_operators([s], "eks", PlatformSpec(llmisvc_operator=False), [])
    assert (o8.rule, o8.path, o8.fix) == (
        O8,
        "endpoints[0].backend",
        "set platform.llmisvcOperator: true or auto (the platform then installs KServe LLMInferenceService from its upstream charts)",
    )
    both = validate_backends(
        [s], ClusterSpec(mode="eks", name="c"), PlatformSpec(kserve_operator=True, llmisvc_operator=True)
    )
    assert [(p.path, p.value) for p in both] == [("platform.llmisvcOperator", True)]


def test_o3_o8_an_llminferenceservice_waits_for_the_llmisvc_charts_not_kserves():
    """KServe's two controllers share serving.kserve.io: the kind picks the charts."""

    def chart(urn, ref):
        return Resource("kubernetes:helm.sh/v4:Chart", urn, {"chart": ref}, urn)

    def llm(*deps):
        return Resource(
            "kubernetes:serving.kserve.io/v1alpha2:LLMInferenceService", "qwen", {"spec": {}}, "isvc", tuple(deps)
        )

    cluster = Resource("eks:index:Cluster", "c", {}, "eks")
    kserve_crd = chart("kserve-crd", "oci://ghcr.io/kserve/charts/kserve-crd")
    (finding,) = ordering.check_backend_operators([cluster, kserve_crd, llm("kserve-crd")])
    assert finding[1].rule == O8 and "kserve-llmisvc-resources" in finding[1].fix
    crd = chart("llmisvc-crd", "oci://ghcr.io/kserve/charts/kserve-llmisvc-crd")
    ctrl = chart("llmisvc", "oci://ghcr.io/kserve/charts/kserve-llmisvc-resources")
    assert [f[1].rule for f in ordering.check_crd_order([crd, ctrl, llm()])] == [O3]
    assert ordering.check_crd_order([crd, ctrl, llm("llmisvc-crd", "llmisvc")]) == []
    assert ordering.check_backend_operators([cluster, crd, ctrl, llm("llmisvc-crd", "llmisvc")]) == []


def llmisvc_status(ready: str, reason: str = "", message: str = "") -> dict:
    return k.llmisvc("serving.kserve.io/v1alpha2", ready, reason, message)


def test_g15_live_state_is_the_ready_condition_read_from_the_api_server(kube_api):
    path = "/apis/serving.kserve.io/v1alpha2/namespaces/inference/llminferenceservices/qwen"
    entry = {"backend": "llmisvc", "namespace": "inference", "resourceName": "qwen"}

    def read():
        with KubeReader(kube_api.kubeconfig(), "the `kubeconfig` stack output", 2.0) as kube:
            return read_endpoint(kube, "qwen", entry)

    kube_api.answer(path, llmisvc_status("True"))
    assert read().readiness == "ready"
    kube_api.answer(
        path, llmisvc_status("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    )
    live = read()
    assert (live.readiness, live.detail) == (
        "pending",
        "NotReady: MinimumReplicasUnavailable: Deployment does not have minimum availability.",
    )
    assert kube_api.hits[path] == 2


def test_g15_fixture_status_matches_the_crd_status_schema(crd_dir):
    (found, *_) = CrdRegistry(crd_dir).schema("serving.kserve.io", "v1alpha2", "LLMInferenceService")
    jsonschema.Draft7Validator(found.schema["properties"]["status"]).validate(
        llmisvc_status("False", "X", "y")["status"]
    )


def test_a_stack_with_llmisvc_endpoints_single_node_and_prefill_decode_passes_the_offline_plan(crd_dir):
    """Pulumi.eks.yaml with its kserve endpoint moved to llmisvc, once on one node and once with prefill/decode:
    both LLMInferenceServices pass their CRD's schema and rules, the platform declares the llmisvc charts and no
    kserve ones, and each object waits for them (O3)."""
    from stacks import plan as plan_cmd
    from tests.example_stacks import user_values

    values = user_values("eks")
    first, _, kserve_ep = values["llm-serving:endpoints"]
    single = {**kserve_ep, "name": "qwen3-0-6b-llmisvc", "backend": "llmisvc"}
    pd = {**single, "name": "qwen3-0-6b-llmisvc-pd", "llmisvc": {**SCHEDULER, "prefillReplicas": 1}}
    values["llm-serving:endpoints"] = [first, single, pd]
    plan = plan_cmd.build_plan_from_values("eks", values, crd_dir=str(crd_dir))
    assert not plan.failed
    objects = [o for o in plan.objects if o.kind == "LLMInferenceService"]
    assert sorted(o.name for o in objects) == ["qwen3-0-6b-llmisvc", "qwen3-0-6b-llmisvc-pd"]
    assert all(o.schema.status == "passed" and o.schema.cel.counts.violated == 0 for o in objects)
    charts = {str(r.inputs.get("chart")) for r in plan.resources if r.type_ == "kubernetes:helm.sh/v4:Chart"}
    assert {
        "oci://ghcr.io/kserve/charts/kserve-llmisvc-crd",
        "oci://ghcr.io/kserve/charts/kserve-llmisvc-resources",
        "oci://ghcr.io/kserve/charts/kserve-runtime-configs",
    } <= charts
    assert "oci://ghcr.io/kserve/charts/kserve-resources" not in charts


def test_grid_points_on_llmisvc_an_instance_or_the_presets_cannot_run_are_pruned_with_their_rule(tmp_path):
    from stacks.tuning import grid as grid_mod

    path = tmp_path / "g.yaml"
    path.write_text(
        "name: llmisvc\ntarget: pulumi\n"
        "base: {name: q, model: Qwen/Qwen3-4B-Instruct-2507, engine: vllm, instanceType: ml.g5.8xlarge, backend: llmisvc,"
        " modelSource: {type: s3, bucket: my-models, path: q/}}\n"
        "parameters: {engine: [vllm, sglang], engineArgs.tensorParallelSize: [1, 4]}\n"
    )
    points = grid_mod.expand(grid_mod.load(path))
    found = {
        (p.params["engine"], p.params["engineArgs.tensorParallelSize"]): sorted(
            {x.rule for x in p.problems if x.severity == "error"}
        )
        for p in points
    }
    assert found == {
        ("vllm", 1): [],
        ("vllm", 4): ["G11"],
        ("sglang", 1): ["BACKEND"],
        ("sglang", 4): ["BACKEND", "G11"],
    }


def test_g3_g13_fix_puts_the_decode_engine_back_on_8001_and_restores_dev_shm():
    """KServe's Service reaches decode pods through the sidecar on 8000, which forwards to vLLM on 8001 whatever the
    object says: a `--port 8000` on the decode container is set back to 8001, a missing /dev/shm mount restored."""
    obj = one(llmisvc={**SCHEDULER, "prefillReplicas": 1})
    broken = copy.deepcopy(obj)
    c = main(broken["spec"]["template"])
    c["args"][c["args"].index("--port") + 1] = "8000"
    c["volumeMounts"] = []
    fixed, changes = llmisvc.BACKEND.fix(broken)
    assert [(ch.path, ch.old, ch.new, ch.rule) for ch in changes] == [
        ("spec.template.containers[0].args[--port]", "8000", "8001", G3),
        ("spec.template.containers[0].volumeMounts[/dev/shm]", None, "dshm", "G13"),
    ]
    assert fixed == obj and llmisvc.BACKEND.check(fixed) == []


def test_a_kserve_and_an_llmisvc_endpoint_on_one_new_cluster_are_refused_with_auto_operators():
    """Both `auto` operators turn on for these endpoints, and their charts would both create KServe's shared objects."""
    endpoints = [spec("kserve"), spec("llmisvc", name="other", loadBalancer="none")]
    found = validate_backends(endpoints, ClusterSpec(mode="eks", name="c"), PlatformSpec())
    assert [(p.path, p.value) for p in found] == [("platform.llmisvcOperator", True)]


def test_prefill_decode_gives_the_tenant_gateway_no_upstream_the_workload_service_would_send_to_prefill_pods():
    assert llmisvc.upstream(spec("llmisvc", llmisvc={**SCHEDULER, "prefillReplicas": 1})) is None
    single = llmisvc.upstream(spec("llmisvc", llmisvc=SCHEDULER))
    assert (single.host, single.port) == ("llama-3-1-8b-vllm-kserve-workload-svc.inference.svc.cluster.local", 8000)
