"""O8 (and O3 for their kinds): OME and KServe are installed by the platform that runs their endpoints, from
upstream's charts at pinned versions, before the endpoints' custom resources.

Sources, read at the pinned tags: kserve/kserve@v0.20.0 charts/kserve-crd/README.md and
charts/kserve-resources/README.md (`oci://ghcr.io/kserve/charts/<chart> --version v0.20.0`),
charts/kserve-resources/values.yaml (`controller.deploymentMode: Knative` by default),
pkg/constants/constants.go (RawDeployment is now called Standard); sgl-project/ome@v0.1.5 README.md and
.github/workflows/release.yaml (`oci://ghcr.io/moirai-internal/charts/<chart> --version 0.1.5`),
charts/ome-resources/values.yaml, templates/ome-controller/configmap.yaml (namespace `ome` hard-coded),
cmd/manager/main.go (the KEDA CRD is looked up once, at start). helm.v4.Chart renders nothing under mocks,
so these tests check what the program passes to each Chart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.rules import ConfigError
from components.rules.catalog import G11, O8
from stacks import config as stack_config
from tests.clusters.helpers import resolve, run_stack, stack_values

EKS = {"mode": "eks", "name": "llm", "publicAccessCidrs": ["34.201.17.8/32"]}
OME = {
    "name": "q-ome",
    "backend": "ome",
    "model": "Qwen/Qwen3-0.6B",
    "engine": "sglang",
    "instanceType": "g5.2xlarge",
    "modelSource": {"type": "huggingface"},
}
KSERVE = {
    "name": "q-ks",
    "backend": "kserve",
    "model": "Qwen/Qwen3-0.6B",
    "engine": "vllm",
    "instanceType": "g5.2xlarge",
    "modelSource": {"type": "huggingface"},
    "loadBalancer": "none",
}
PLAIN = {
    "name": "q-plain",
    "model": "Qwen/Qwen3-0.6B",
    "engine": "vllm",
    "instanceType": "g5.2xlarge",
    "modelSource": {"type": "huggingface"},
    "loadBalancer": "none",
}


@pytest.fixture(scope="module")
def both():
    plan, seen, _ = run_stack(stack_values(EKS, [OME, KSERVE]))
    return plan, seen


def charts(plan) -> dict[str, dict]:
    return {r.name: r.inputs for r in plan.resources if r.type_ == "kubernetes:helm.sh/v4:Chart"}


def deps(seen, name: str) -> set[str]:
    by_urn = {reg.urn: n for n, reg in seen.items()}
    return {by_urn.get(urn, urn) for urn in seen[name].dependencies}


def test_o8_kserve_is_installed_from_its_v0_20_0_oci_charts_in_standard_mode(both):
    plan, _ = both
    crd, operator = charts(plan)["platform-kserve-crd"], charts(plan)["platform-kserve-operator"]
    assert (crd["chart"], crd["version"], crd["name"], crd["namespace"]) == (
        "oci://ghcr.io/kserve/charts/kserve-crd",
        "v0.20.0",
        "kserve-crd",
        "kserve",
    )
    assert (operator["chart"], operator["version"], operator["name"], operator["namespace"]) == (
        "oci://ghcr.io/kserve/charts/kserve-resources",
        "v0.20.0",
        "kserve-resources",
        "kserve",
    )
    assert "repositoryOpts" not in operator  # an OCI reference is the whole chart address
    controller = operator["values"]["kserve"]["controller"]
    # Upstream's default is Knative (Knative Serving and Istio); Standard is RawDeployment's name since v0.20.
    assert controller["deploymentMode"] == "Standard"
    assert controller["gateway"] == {"disableIngressCreation": True, "disableIstioVirtualHost": True}
    assert controller["nodeSelector"] == {"llm-serving/node-role": "system"}


def test_o8_ome_is_installed_from_its_0_1_5_oci_charts_in_namespace_ome(both):
    plan, _ = both
    crd, operator = charts(plan)["platform-ome-crd"], charts(plan)["platform-ome-operator"]
    assert (crd["chart"], crd["version"], crd["name"], crd["namespace"]) == (
        "oci://ghcr.io/moirai-internal/charts/ome-crd",
        "0.1.5",
        "ome-crd",
        "ome",
    )
    assert (operator["chart"], operator["version"], operator["name"], operator["namespace"]) == (
        "oci://ghcr.io/moirai-internal/charts/ome-resources",
        "0.1.5",
        "ome",
        "ome",
    )
    values = operator["values"]
    # Upstream: 3 controller replicas of 2 CPUs / 4Gi each, and a model agent of 10 CPUs / 100Gi on every node.
    assert values["ome"]["controller"]["replicaCount"] == 1
    assert values["ome"]["controller"]["resources"]["requests"] == {"cpu": "200m", "memory": "512Mi"}
    assert values["ome"]["controller"]["nodeSelector"] == {"llm-serving/node-role": "system"}
    assert (
        values["modelAgent"]["gpuNodesOnly"] is True
    )  # upstream's gpuNodeLabel nvidia.com/gpu.present, set on every GPU group
    assert values["modelAgent"]["resources"]["requests"] == {"cpu": "100m", "memory": "512Mi"}
    assert "deploymentMode" not in values["ome"]["controller"]  # upstream's RawDeployment stays


def test_o8_each_operator_chart_waits_for_its_crd_chart_cert_manager_and_the_controllers_webhook(both):
    _, seen = both
    assert {
        "platform-kserve-crd",
        "platform-cert-manager",
        "platform-load-balancer-controller",
        "platform-ns-kserve",
    } <= deps(seen, "platform-kserve-operator")
    # OME's controller registers KEDA's ScaledObject only if the CRD exists when it starts.
    assert {
        "platform-ome-crd",
        "platform-cert-manager",
        "platform-keda",
        "platform-load-balancer-controller",
        "platform-ns-ome",
    } <= deps(seen, "platform-ome-operator")
    assert "platform-ns-kserve" in deps(seen, "platform-kserve-crd") and "platform-ns-ome" in deps(
        seen, "platform-ome-crd"
    )


@pytest.mark.parametrize(
    "resource, backend",
    [
        ("default/q-ks", "kserve"),
        ("default/q-ome", "ome"),
        ("default/q-ome-clusterbasemodel", "ome"),
        ("default/q-ome-clusterservingruntime", "ome"),
    ],
)
def test_o3_ome_and_kserve_custom_resources_wait_for_the_crd_chart_and_the_operator_chart(both, resource, backend):
    # Both operators' InferenceService webhooks fail closed (failurePolicy: Fail): the CRD alone is not enough.
    _, seen = both
    assert {f"platform-{backend}-crd", f"platform-{backend}-operator"} <= deps(seen, resource)


def test_o8_auto_installs_an_operator_only_for_a_stack_whose_endpoints_use_it():
    plan, _, _ = run_stack(stack_values(EKS, [KSERVE]))
    names = set(charts(plan))
    assert {"platform-kserve-crd", "platform-kserve-operator"} <= names
    assert not {"platform-ome-crd", "platform-ome-operator"} & names
    plan, _, _ = run_stack(stack_values(EKS, [PLAIN]))
    assert not [n for n in charts(plan) if "kserve" in n or "ome" in n]


def test_o8_true_installs_an_operator_without_any_endpoint_and_the_addons_output_names_it():
    plan, _, outputs = run_stack(stack_values(EKS, [], platform={"omeOperator": True}))
    assert {"platform-ome-crd", "platform-ome-operator"} <= set(charts(plan))
    assert not [n for n in charts(plan) if "kserve" in n]
    addons, _ = resolve(outputs["cluster"]["addons"])
    assert "ome_operator" in addons and "kserve_operator" not in addons


def test_o8_an_operator_switched_off_while_an_endpoint_needs_it_fails_naming_the_platform_key():
    with pytest.raises(ConfigError) as exc:
        stack_config.parse(
            {"cluster": EKS, "endpoints": [PLAIN, KSERVE], "platform": {"kserveOperator": False}}, "us-east-1", "prod"
        )
    (problem,) = [p for p in exc.value.problems if p.rule == O8]
    assert problem.path == "endpoints[1].backend" and problem.value == "kserve"
    assert "KServe operator is switched off (platform.kserveOperator: false)" in problem.message
    assert problem.fix.startswith("set platform.kserveOperator: true or auto")


def test_o8_ome_needs_cert_manager_for_its_webhook_certificate():
    with pytest.raises(ConfigError) as exc:
        stack_config.parse(
            {"cluster": EKS, "endpoints": [OME], "platform": {"certManager": False}}, "us-east-1", "prod"
        )
    assert [(p.path, p.fix) for p in exc.value.problems if p.rule == O8] == [
        ("endpoints[0].backend", "set platform.certManager: true")
    ]


def test_o8_an_adopted_clusters_operators_are_the_users_and_not_installed_by_default():
    existing = {"mode": "existing", "name": "theirs"}
    cfg = stack_config.parse({"cluster": existing, "endpoints": [OME, KSERVE]}, "us-east-1", "prod")
    assert [p for p in cfg.warnings if p.rule == O8] == []
    plan, _, _ = run_stack(stack_values(existing, [OME, KSERVE]))
    assert not [n for n in charts(plan) if "kserve" in n or "ome" in n]


# ---------------------------------------------------------------- endpoints-only stacks


def project(tmp_path: Path, platform_file: str | None) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: llm-serving\nruntime: python\n")
    if platform_file is not None:
        (tmp_path / "Pulumi.staging.yaml").write_text(platform_file)
    return tmp_path


STAGING = """config:
  aws:region: us-west-2
  llm-serving:cluster:
    mode: eks
    name: llm-staging
    gpuNodeGroups:
      - {name: g6e, instanceType: g6e.12xlarge, minSize: 0, desiredSize: 1, maxSize: 2}
  llm-serving:platform: {PLATFORM}
  llm-serving:endpoints: []
"""


def endpoints_only(tmp_path: Path, endpoints: list[dict], platform_file: str | None, platform_stack: str = "staging"):
    values = {
        "cluster": {"mode": "eks", "name": "llm-staging"},
        "endpoints": endpoints,
        "platformStack": platform_stack,
    }
    return stack_config.parse(values, "us-west-2", "staging-endpoints", project_dir=project(tmp_path, platform_file))


def test_o8_an_endpoints_only_stack_whose_platform_stack_does_not_install_kserve_fails_naming_that_files_key(tmp_path):
    ks = {**KSERVE, "instanceType": "g6e.12xlarge"}
    with pytest.raises(ConfigError) as exc:
        endpoints_only(tmp_path, [ks], STAGING.replace("{PLATFORM}", "{workloadIdentity: irsa}"))
    (problem,) = exc.value.problems
    assert (problem.path, problem.rule) == ("endpoints[0].backend", O8)
    assert (
        "platform stack 'staging' does not install the KServe operator (Pulumi.staging.yaml:platform.kserveOperator is unset (auto) and none of that stack's own endpoints uses kserve)"
        in problem.message
    )
    assert problem.fix == "set Pulumi.staging.yaml:platform.kserveOperator: true, `pulumi up` that stack, then this one"


def test_o8_an_endpoints_only_stack_passes_when_its_platform_stack_installs_the_operator(tmp_path):
    ks = {**KSERVE, "instanceType": "g6e.12xlarge"}
    cfg = endpoints_only(tmp_path, [ks], STAGING.replace("{PLATFORM}", "{kserveOperator: true}"))
    assert [p for p in cfg.warnings if p.rule == O8] == []


def test_o8_without_the_platform_stacks_file_it_is_a_warning_naming_the_key_that_stack_must_set(tmp_path):
    cfg = endpoints_only(tmp_path, [OME], None, platform_stack="acme/llm-serving/prod")
    (warning,) = [p for p in cfg.warnings if p.rule == O8]
    assert warning.path == "endpoints[0].backend" and warning.severity == "warning"
    assert "make sure platform stack 'acme/llm-serving/prod' sets platform.omeOperator: true" in warning.fix


# ---------------------------------------------------------------- G11 against the platform stack's groups


def test_g11_an_endpoints_only_stack_places_its_endpoints_on_the_platform_stacks_node_groups(tmp_path):
    plain = {**PLAIN, "instanceType": "g5.12xlarge"}
    with pytest.raises(ConfigError) as exc:
        endpoints_only(tmp_path, [plain], STAGING.replace("{PLATFORM}", "{}"))
    (problem,) = exc.value.problems
    assert (problem.path, problem.value, problem.rule) == ("endpoints[0].instanceType", "g5.12xlarge", G11)
    assert (
        "no GPU node group of platform stack 'staging' (cluster llm-staging) has this instance type (have: g6e.12xlarge)"
        in problem.message
    )
    assert (
        problem.fix
        == "add {name: g5-12xlarge, instanceType: g5.12xlarge, minSize: 0, desiredSize: 1, maxSize: 1} to Pulumi.staging.yaml:cluster.gpuNodeGroups, or change the endpoint's instanceType"
    )


def test_g11_an_endpoint_on_a_type_the_platform_stack_offers_passes(tmp_path):
    cfg = endpoints_only(tmp_path, [{**PLAIN, "instanceType": "g6e.12xlarge"}], STAGING.replace("{PLATFORM}", "{}"))
    assert cfg.endpoints[0].instance_type == "g6e.12xlarge"


def test_g11_a_platform_stack_whose_file_is_not_in_the_project_is_not_judged(tmp_path):
    # Another project's or backend's stack: its node groups are not known here.
    cfg = endpoints_only(
        tmp_path,
        [{**PLAIN, "instanceType": "g5.12xlarge"}],
        STAGING.replace("{PLATFORM}", "{}"),
        platform_stack="acme/other-project/staging",
    )
    assert [p for p in cfg.warnings if p.rule == G11] == []


def test_g11_the_platform_stacks_derived_groups_count(tmp_path):
    # A platform stack without gpuNodeGroups derives them from its own endpoints (one per instance type).
    derived = STAGING.replace(
        "    gpuNodeGroups:\n      - {name: g6e, instanceType: g6e.12xlarge, minSize: 0, desiredSize: 1, maxSize: 2}\n",
        "",
    )
    derived = derived.replace(
        "llm-serving:endpoints: []",
        "llm-serving:endpoints: [{name: base, model: Qwen/Qwen3-8B, engine: vllm, instanceType: g6e.2xlarge, modelSource: {type: huggingface}}]",
    )
    endpoints_only(tmp_path, [{**PLAIN, "instanceType": "g6e.2xlarge"}], derived.replace("{PLATFORM}", "{}"))
    with pytest.raises(ConfigError) as exc:
        endpoints_only(tmp_path, [{**PLAIN, "instanceType": "g6e.12xlarge"}], derived.replace("{PLATFORM}", "{}"))
    assert "(have: g6e.2xlarge)" in exc.value.problems[0].message


# ---------------------------------------------------------------- the graph (plan and policy)

from components.rules import ordering  # noqa: E402
from components.rules.resources import Resource  # noqa: E402

CLUSTER = Resource("eks:index:Cluster", "cluster-eks", {"name": "llm"}, "urn:cluster")
ISVC = Resource(
    "kubernetes:ome.io/v1beta1:InferenceService",
    "q",
    {"metadata": {"name": "q", "namespace": "inference"}, "spec": {}},
    "urn:isvc",
)


def test_o8_a_stack_that_creates_its_cluster_and_declares_ome_objects_without_the_ome_charts_is_reported():
    (finding,) = ordering.check_backend_operators([CLUSTER, ISVC])
    assert finding[0] is ISVC and finding[1].rule == O8
    assert (
        "no operator of ome.io (platform.omeOperator) is declared on the cluster this stack creates"
        in finding[1].message
    )
    assert (
        "platform.omeOperator: true" in finding[1].fix
        and "oci://ghcr.io/moirai-internal/charts/ome-resources" in finding[1].fix
    )
    operator = Resource(
        "kubernetes:helm.sh/v4:Chart",
        "platform-ome-operator",
        {"chart": "oci://ghcr.io/moirai-internal/charts/ome-resources"},
        "urn:ome",
    )
    assert ordering.check_backend_operators([CLUSTER, operator, ISVC]) == []


def test_o8_an_endpoints_only_or_adopted_cluster_stack_is_not_judged_on_the_graph():
    assert ordering.check_backend_operators([ISVC]) == []


def test_o8_the_eks_example_installs_both_operators_its_endpoints_use():
    """Pulumi.eks.yaml has an ome and a kserve endpoint; it used to say the operators were "installed by you
    before `pulumi up`", on the cluster that same `up` creates."""
    from tests.example_stacks import user_plan

    plan = user_plan("eks")
    names = {r.name for r in plan.resources if r.type_ == "kubernetes:helm.sh/v4:Chart"}
    assert {"platform-kserve-crd", "platform-kserve-operator", "platform-ome-crd", "platform-ome-operator"} <= names
    assert not [v for v in plan.other_violations if v.reported and "O8" in str(v.reported)]
