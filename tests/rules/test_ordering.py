"""Ordering rules over the declared graph: each property of the dependency
graph is tested with a graph that breaks it, and the example stacks satisfy all of them."""

from __future__ import annotations

import json
import shutil

import pytest

from components.rules import ordering
from components.rules.catalog import O1, O2, O3, O4, O5, O6, O7
from components.rules.resources import Resource
from stacks import plan as plan_cmd
from stacks.__main__ import main as cli
from tests.example_stacks import user_project

LBC = Resource(
    "kubernetes:helm.sh/v4:Chart",
    "platform-load-balancer-controller",
    {
        "chart": "aws-load-balancer-controller",
        "namespace": "kube-system",
        "values": {"serviceAccount": {"name": "aws-load-balancer-controller"}},
    },
    "urn:lbc",
)
PLUGIN = Resource(
    "kubernetes:helm.sh/v4:Chart", "platform-nvidia-device-plugin", {"chart": "nvidia-device-plugin"}, "urn:plugin"
)
OPERATOR = Resource(
    "aws:eks/addon:Addon",
    "platform-hyperpod-operator",
    {"addonName": "amazon-sagemaker-hyperpod-inference"},
    "urn:operator",
)
ASSOCIATION = Resource(
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "platform-lbc-pod-identity",
    {"namespace": "kube-system", "serviceAccount": "aws-load-balancer-controller"},
    "urn:association",
)


def service(*deps: str) -> Resource:
    return Resource(
        "kubernetes:core/v1:Service",
        "engine",
        {"metadata": {"name": "engine", "namespace": "team-a"}, "spec": {}},
        "urn:service",
        deps,
    )


def gpu_deployment(*deps: str) -> Resource:
    spec = {
        "template": {"spec": {"containers": [{"name": "engine", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    }
    return Resource(
        "kubernetes:apps/v1:Deployment",
        "engine",
        {"metadata": {"name": "engine"}, "spec": spec},
        "urn:deployment",
        deps,
    )


def rules_of(findings) -> list[str]:
    return [problem.rule for _, problem in findings]


def test_o1_a_service_declared_before_the_load_balancer_controller_is_reported():
    (finding,) = ordering.check_webhook_order([LBC, service()])
    assert finding[1].rule == O1 and finding[1].value == ["platform-load-balancer-controller"]
    assert "Platform.ingress_ready" in finding[1].fix


def test_o1_waiting_through_another_resource_counts():
    between = Resource("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "team-a"}}, "urn:ns", ("urn:lbc",))
    assert ordering.check_webhook_order([LBC, between, service("urn:ns")]) == []


def test_o1_a_chart_that_creates_services_waits_too_and_a_stack_without_the_controller_is_not_judged():
    keda = Resource("kubernetes:helm.sh/v4:Chart", "platform-keda", {"chart": "keda", "namespace": "keda"}, "urn:keda")
    assert rules_of(ordering.check_webhook_order([LBC, keda])) == [O1]
    assert ordering.check_webhook_order([service(), keda]) == []


def test_o1_mode_hyperpods_cert_manager_and_metrics_server_add_ons_wait_too():
    # In mode hyperpod both are EKS add-ons (AWS's setup page, "Install the dependency EKS Add-Ons"); their
    # webhook and metrics Services meet the controller's fail-closed webhook all the same.
    cert_manager = Resource(
        "aws:eks/addon:Addon", "platform-cert-manager", {"addonName": "cert-manager"}, "urn:cert-manager"
    )
    csi = Resource(
        "aws:eks/addon:Addon", "platform-s3-csi", {"addonName": "aws-mountpoint-s3-csi-driver"}, "urn:s3-csi"
    )
    (finding,) = ordering.check_webhook_order([LBC, cert_manager, csi])
    assert finding[0].name == "platform-cert-manager" and finding[1].rule == O1
    waiting = Resource(cert_manager.type, cert_manager.name, cert_manager.props, cert_manager.urn, ("urn:lbc",))
    assert ordering.check_webhook_order([LBC, waiting, csi]) == []


def test_o2_a_chart_using_a_pod_identity_service_account_waits_for_the_association():
    assert rules_of(ordering.check_identity_order([ASSOCIATION, LBC])) == [O2]
    waiting = Resource(LBC.type, LBC.name, LBC.props, LBC.urn, ("urn:association",))
    assert ordering.check_identity_order([ASSOCIATION, waiting]) == []


def test_o3_an_inference_endpoint_config_waits_for_the_operator_add_on():
    iec = Resource(
        "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig",
        "ep",
        {"metadata": {"name": "ep"}, "spec": {}},
        "urn:iec",
    )
    assert rules_of(ordering.check_crd_order([OPERATOR, iec])) == [O3]
    after = Resource(iec.type, iec.name, iec.props, iec.urn, ("urn:operator",))
    assert ordering.check_crd_order([OPERATOR, after]) == []


KSERVE_CRD = Resource(
    "kubernetes:helm.sh/v4:Chart",
    "platform-kserve-crd",
    {"chart": "oci://ghcr.io/kserve/charts/kserve-crd", "namespace": "kserve"},
    "urn:kserve-crd",
)
KSERVE_OPERATOR = Resource(
    "kubernetes:helm.sh/v4:Chart",
    "platform-kserve-operator",
    {"chart": "oci://ghcr.io/kserve/charts/kserve-resources", "namespace": "kserve"},
    "urn:kserve-operator",
    ("urn:kserve-crd",),
)


def kserve_isvc(*deps: str, parent: str = "") -> Resource:
    return Resource(
        "kubernetes:serving.kserve.io/v1beta1:InferenceService",
        "q",
        {"metadata": {"name": "q", "namespace": "inference"}, "spec": {}},
        "urn:isvc",
        deps,
        parent,
    )


def test_o3_a_kserve_inference_service_waits_for_the_crd_chart_and_the_operator_chart():
    """kserve/kserve@v0.20.0 charts/kserve-resources/files/kserve/resources.yaml: the InferenceService webhooks
    fail closed, so the CRD chart alone is not enough."""
    (finding,) = ordering.check_crd_order([KSERVE_CRD, KSERVE_OPERATOR, kserve_isvc("urn:kserve-crd")])
    assert finding[1].rule == O3 and finding[1].value == ["platform-kserve-operator"]
    assert "Platform.backend_ready" in finding[1].fix
    assert (
        ordering.check_crd_order([KSERVE_CRD, KSERVE_OPERATOR, kserve_isvc("urn:kserve-operator")]) == []
    )  # the operator chart waits for the CRD chart


def test_o3_an_ome_object_waits_for_the_ome_charts_and_a_stack_without_them_is_left_to_o8():
    crd = Resource(
        "kubernetes:helm.sh/v4:Chart",
        "platform-ome-crd",
        {"chart": "oci://ghcr.io/moirai-internal/charts/ome-crd"},
        "urn:ome-crd",
    )
    runtime = Resource(
        "kubernetes:ome.io/v1beta1:ClusterServingRuntime", "rt", {"metadata": {"name": "rt"}, "spec": {}}, "urn:rt"
    )
    assert rules_of(ordering.check_crd_order([crd, runtime])) == [O3]
    assert ordering.check_crd_order([runtime]) == []


def test_o3_a_charts_own_custom_resources_are_not_judged():
    # kserve-resources declares a ClusterStorageContainer (serving.kserve.io) as its own child.
    child = Resource(
        "kubernetes:serving.kserve.io/v1alpha1:ClusterStorageContainer",
        "default",
        {"metadata": {"name": "default"}, "spec": {}},
        "urn:csc",
        (),
        "urn:kserve-operator",
    )
    assert ordering.check_crd_order([KSERVE_CRD, KSERVE_OPERATOR, child]) == []


def test_o4_a_gpu_deployment_waits_for_the_device_plugin():
    assert rules_of(ordering.check_gpu_order([PLUGIN, gpu_deployment()])) == [O4]
    assert ordering.check_gpu_order([PLUGIN, gpu_deployment("urn:plugin")]) == []


def test_o4_the_hyperpod_charts_own_plugin_counts_as_the_device_plugin():
    (finding,) = ordering.check_gpu_order([HYPERPOD_CHART, gpu_deployment()])
    assert finding[1].rule == O4 and finding[1].value == ["hyperpod-dependencies"]
    assert ordering.check_gpu_order([HYPERPOD_CHART, gpu_deployment("urn:hyperpod-chart")]) == []


HYPERPOD_CHART = Resource(
    "kubernetes:helm.sh/v4:Chart",
    "hyperpod-dependencies",
    {"chart": "/cache/HyperPodHelmChart", "name": "hyperpod-dependencies", "namespace": "kube-system"},
    "urn:hyperpod-chart",
)
# The chart as the stack rendered it before: its NVIDIA plugin off for the platform's own.
HYPERPOD_CHART_NO_PLUGIN = Resource(
    HYPERPOD_CHART.type,
    HYPERPOD_CHART.name,
    {**HYPERPOD_CHART.props, "values": {"nvidia-device-plugin": {"devicePlugin": {"enabled": False}}}},
    HYPERPOD_CHART.urn,
)


def hyperpod_cluster(*deps: str, groups: tuple[str, ...] = ("ml.g5.8xlarge",)) -> Resource:
    props = {
        "clusterName": "llm-dev",
        "instanceGroups": [{"instanceGroupName": t.split(".")[1], "instanceType": t} for t in groups],
    }
    return Resource("aws-native:sagemaker:Cluster", "hyperpod-cluster", props, "urn:hyperpod", deps)


def test_o5_the_hyperpod_cluster_waits_for_the_hyperpod_chart():
    (finding,) = ordering.check_hyperpod_chart_order([HYPERPOD_CHART, hyperpod_cluster()])
    assert finding[1].rule == O5 and finding[1].value == ["hyperpod-dependencies"]
    assert ordering.check_hyperpod_chart_order([HYPERPOD_CHART, hyperpod_cluster("urn:hyperpod-chart")]) == []


def test_o5_a_hyperpod_cluster_without_any_chart_is_reported_and_a_stack_without_a_cluster_is_not_judged():
    assert rules_of(ordering.check_hyperpod_chart_order([hyperpod_cluster()])) == [O5]
    assert ordering.check_hyperpod_chart_order([HYPERPOD_CHART, service()]) == []


def test_o7_the_hyperpod_cluster_waits_for_the_hyperpod_charts_device_plugin():
    # Upstream's values.yaml turns the chart's plugin on; the chart's absence of values means upstream's.
    (finding,) = ordering.check_device_plugin_order([HYPERPOD_CHART, hyperpod_cluster()])
    assert finding[1].rule == O7 and finding[1].value == ["hyperpod-dependencies"]
    assert ordering.check_device_plugin_order([HYPERPOD_CHART, hyperpod_cluster("urn:hyperpod-chart")]) == []


def test_o7_the_charts_plugin_switched_off_with_the_platforms_plugin_after_the_cluster_is_reported():
    # The earlier stack: the platform's plugin declared after the HyperPod cluster (Platform waits for it).
    platform_plugin = Resource(PLUGIN.type, PLUGIN.name, PLUGIN.props, PLUGIN.urn, ("urn:hyperpod",))
    (finding,) = ordering.check_device_plugin_order(
        [HYPERPOD_CHART_NO_PLUGIN, hyperpod_cluster("urn:hyperpod-chart"), platform_plugin]
    )
    assert finding[1].rule == O7 and finding[1].value == ["platform-nvidia-device-plugin"]
    assert (
        ordering.check_device_plugin_order(
            [HYPERPOD_CHART_NO_PLUGIN, PLUGIN, hyperpod_cluster("urn:hyperpod-chart", "urn:plugin")]
        )
        == []
    )


def test_o7_no_device_plugin_at_all_is_reported_naming_the_switch():
    (finding,) = ordering.check_device_plugin_order([HYPERPOD_CHART_NO_PLUGIN, hyperpod_cluster("urn:hyperpod-chart")])
    assert finding[1].rule == O7 and finding[1].value == [] and "ml.g5.8xlarge" in finding[1].message
    assert "platform.nvidiaDevicePlugin" in finding[1].fix


def test_o7_a_gpu_group_type_outside_the_charts_plugin_affinity_is_reported():
    term = {
        "matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["ml.g5.8xlarge"]}]
    }
    values = {
        "nvidia-device-plugin": {
            "devicePlugin": {"enabled": True},
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
            },
        }
    }
    chart = Resource(
        HYPERPOD_CHART.type, HYPERPOD_CHART.name, {**HYPERPOD_CHART.props, "values": values}, HYPERPOD_CHART.urn
    )
    (finding,) = ordering.check_device_plugin_order(
        [chart, hyperpod_cluster("urn:hyperpod-chart", groups=("ml.g5.8xlarge", "ml.g4dn.12xlarge"))]
    )
    assert (
        finding[1].rule == O7
        and finding[1].path == "values.nvidia-device-plugin.affinity"
        and finding[1].value == ["ml.g4dn.12xlarge"]
    )
    assert (
        ordering.check_device_plugin_order(
            [chart, hyperpod_cluster("urn:hyperpod-chart", groups=("ml.g5.8xlarge", "ml.m5.2xlarge"))]
        )
        == []
    )


def test_o7_a_hyperpod_cluster_without_nvidia_gpu_groups_is_not_judged():
    assert (
        ordering.check_device_plugin_order(
            [
                HYPERPOD_CHART_NO_PLUGIN,
                hyperpod_cluster("urn:hyperpod-chart", groups=("ml.m5.2xlarge", "ml.trn1.32xlarge")),
            ]
        )
        == []
    )
    assert ordering.check_device_plugin_order([PLUGIN, gpu_deployment()]) == []  # no HyperPod cluster


def resources_from_plan_json(path) -> list[Resource]:
    """The graph as `python -m stacks plan --json` writes it (the shape of `pulumi preview --json`)."""
    steps = json.loads(path.read_text())["steps"]
    return [
        Resource(
            s["newState"]["type"],
            s["urn"].rsplit("::", 1)[-1],
            s["newState"]["inputs"],
            s["urn"],
            tuple(s["newState"]["dependencies"]),
            s["newState"]["parent"],
        )
        for s in steps
    ]


@pytest.mark.parametrize("stack", ["dev", "eks", "staging"])
def test_every_example_stack_satisfies_every_ordering_rule(stack, tmp_path):
    project = user_project(tmp_path, stack)  # with the values a user sets (`# SET THIS`)
    assert (
        cli(
            [
                "plan",
                "--stack",
                stack,
                "--project-dir",
                str(project),
                "--out",
                str(tmp_path / "out"),
                "--json",
                str(tmp_path / "plan.json"),
            ]
        )
        == 0
    )
    resources = resources_from_plan_json(tmp_path / "plan.json")
    graph = ordering.Graph(resources)
    assert graph.find(
        lambda r: r.type == ordering.HELM_CHART and r.props.get("chart") == "aws-load-balancer-controller"
    ), "the rules had something to judge"
    for check in (
        ordering.check_webhook_order,
        ordering.check_identity_order,
        ordering.check_crd_order,
        ordering.check_gpu_order,
        ordering.check_hyperpod_chart_order,
        ordering.check_finalizer_order,
        ordering.check_device_plugin_order,
        ordering.check_backend_operators,
    ):
        assert check(resources) == [], check.__name__


def test_a_stack_that_breaks_an_ordering_rule_fails_the_plan_with_its_id(tmp_path):
    # The real program, plus a Service declared by hand with no depends_on: created beside the load
    # balancer controller, the controller's webhook would refuse it.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(plan_cmd.PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(plan_cmd.PROJECT_DIR / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    (project / "__main__.py").write_text(
        "import pulumi_kubernetes as k8s\nfrom stacks.program import main\nmain()\n"
        "k8s.core.v1.Service('hand-made', metadata={'name': 'hand-made', 'namespace': 'default'}, spec={'ports': [{'port': 80}]})\n"
    )
    plan = plan_cmd.build_plan("dev", project)
    (service,) = [o for o in plan.objects if o.registration.name == "hand-made"]
    assert [p.rule for p in service.errors] == [O1] and plan.failed


GUARD_TYPE = "pulumi-python:dynamic:Resource"


def endpoint_config(*deps: str) -> Resource:
    return Resource(
        "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig",
        "llama",
        {"metadata": {"name": "llama", "namespace": "inference"}},
        "urn:iec",
        ("urn:operator", *deps),
    )


def drain_guard(*deps: str) -> Resource:
    return Resource(
        GUARD_TYPE,
        "ingress-drain",
        {"guard": "ingress-drain", "namespaces": ["hyperpod-inference-system", "inference"]},
        "urn:guard",
        deps,
    )


def test_o6_an_operator_endpoint_without_an_ingress_drain_guard_is_reported():
    (finding,) = ordering.check_finalizer_order([LBC, OPERATOR, endpoint_config("urn:lbc")])
    assert finding[1].rule == O6 and "components/ingress_drain.py" in finding[1].fix


def test_o6_a_drain_guard_that_does_not_wait_for_the_controller_is_reported():
    (finding,) = ordering.check_finalizer_order(
        [LBC, OPERATOR, drain_guard("urn:operator"), endpoint_config("urn:guard")]
    )
    assert (
        finding[0].name == "ingress-drain"
        and finding[1].rule == O6
        and finding[1].value == ["platform-load-balancer-controller"]
    )


def test_o6_an_endpoint_that_does_not_wait_for_the_drain_guard_is_reported():
    (finding,) = ordering.check_finalizer_order(
        [LBC, OPERATOR, drain_guard("urn:lbc", "urn:operator"), endpoint_config("urn:lbc")]
    )
    assert finding[0].name == "llama" and finding[1].rule == O6 and finding[1].value == ["ingress-drain"]


def test_o6_guard_after_controller_and_operator_and_endpoint_after_guard_passes():
    assert (
        ordering.check_finalizer_order(
            [LBC, OPERATOR, drain_guard("urn:lbc", "urn:operator"), endpoint_config("urn:guard")]
        )
        == []
    )
    assert (
        ordering.check_finalizer_order([OPERATOR, endpoint_config()]) == []
    )  # no controller declared here: not judged
