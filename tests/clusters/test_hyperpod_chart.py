"""The HyperPod Helm chart is installed before the HyperPod cluster, and
`operatorInstall: helm` uses its inference-operator subchart, dependencies resolved, without a second
metrics APIService. Sources: AWS docs sagemaker-hyperpod-eks-prerequisites.md (chart before the
cluster), awsome-distributed-training helm-chart-stack.yaml (release hyperpod-dependencies in
kube-system), sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart Chart.yaml and values.yaml."""

from __future__ import annotations

from stacks import charts
from tests.clusters.helpers import run_stack, stack_values

HYPERPOD = {"mode": "hyperpod", "name": "ml-dev"}
BASE = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
}


def chart_of(plan, name: str):
    (reg,) = [r for r in plan.resources if r.type_ == "kubernetes:helm.sh/v4:Chart" and r.name == name]
    return reg


def test_the_hyperpod_chart_is_installed_in_kube_system_before_the_hyperpod_cluster(fake_hyperpod_chart):
    plan, seen, _ = run_stack(stack_values(HYPERPOD))
    chart = chart_of(plan, "hyperpod-dependencies")
    assert chart.inputs["chart"] == str(fake_hyperpod_chart)
    assert chart.inputs["name"] == "hyperpod-dependencies" and chart.inputs["namespace"] == "kube-system"
    assert chart.inputs["dependencyUpdate"] is True
    assert seen["hyperpod-dependencies"].urn in seen["hyperpod-cluster"].dependencies
    # after the EKS cluster and its system nodes
    system = [r for r in seen.values() if r.type_ == "eks:index:ManagedNodeGroup"]
    assert system and all(r.urn in seen["hyperpod-dependencies"].dependencies for r in system)


def on_types(*types: str) -> dict:
    term = {"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(types)}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def test_chart_values_keep_upstream_defaults_but_the_training_operators():
    plan, _, _ = run_stack(stack_values(HYPERPOD))
    values = chart_of(plan, "hyperpod-dependencies").inputs["values"]
    assert values == {
        "trainingOperators": {"enabled": False},
        "mpi-operator": {"enabled": False},
        "nvidia-device-plugin": {"devicePlugin": {"enabled": True}, "affinity": on_types("ml.g5.8xlarge")},
    }


def test_o7_mode_hyperpod_uses_the_charts_device_plugin_before_the_cluster_and_declares_none_of_its_own():
    """Upstream's values.yaml turns the chart's plugin on, with the toleration
    sagemaker.amazonaws.com/node-health-status=Unschedulable:NoSchedule and the instance-type affinity
    that aws/sagemaker-hyperpod-cli@011ca927 helm_chart/readme.md asks of a self-installed plugin. Before,
    the stack switched it off for the platform's plugin, declared after the HyperPod cluster without either."""
    plan, seen, outputs = run_stack(stack_values(HYPERPOD))
    assert chart_of(plan, "hyperpod-dependencies").inputs["values"]["nvidia-device-plugin"]["devicePlugin"] == {
        "enabled": True
    }
    assert seen["hyperpod-dependencies"].urn in seen["hyperpod-cluster"].dependencies
    assert not [
        r
        for r in plan.resources
        if r.type_ == "kubernetes:helm.sh/v4:Chart" and r.inputs.get("chart") == "nvidia-device-plugin"
    ]
    # GPU endpoints still wait for the plugin: through the HyperPod cluster, which waits for the chart
    (endpoint,) = [r for r in seen.values() if r.type_.endswith(":InferenceEndpointConfig")]
    assert seen["hyperpod-cluster"].urn in endpoint.dependencies


def test_o7_the_charts_plugin_is_scheduled_on_every_gpu_instance_group_type():
    """helm_chart/readme.md: a plugin's affinity lists "<your HyperPod instance types>". Upstream's own list
    (values.yaml) leaves out ml.g4dn.*, a HyperPod instance type, whose nodes would get no plugin."""
    from components.rules import addons
    from components.rules.spec import PlatformSpec

    groups = [{"name": "t4", "instanceType": "ml.g4dn.12xlarge"}, {"name": "a10g", "instanceType": "ml.g5.8xlarge"}]
    endpoints = [{**BASE, "name": "small", "instanceType": "ml.g4dn.12xlarge"}, BASE]
    plan, _, _ = run_stack(stack_values({**HYPERPOD, "instanceGroups": groups}, endpoints))
    assert chart_of(plan, "hyperpod-dependencies").inputs["values"]["nvidia-device-plugin"]["affinity"] == on_types(
        "ml.g4dn.12xlarge", "ml.g5.8xlarge"
    )
    assert not [v for v in plan.other_violations if v.reported.rule == "O7"]
    # no GPU type: upstream's affinity stays (an `In` without values is refused by the API server)
    values = addons.hyperpod_chart_values(addons.resolve_addons("hyperpod", PlatformSpec()), ["ml.m5.2xlarge"])
    assert values["nvidia-device-plugin"] == {"devicePlugin": {"enabled": True}}


def test_o7_upstreams_plugin_affinity_lacks_hyperpod_types_the_stack_accepts(upstream_dir):
    import botocore.session
    import yaml

    from components.rules import instances

    values = yaml.safe_load(
        (upstream_dir / "sagemaker-hyperpod-cli/helm_chart/HyperPodHelmChart/values.yaml").read_text()
    )
    plugin = values["nvidia-device-plugin"]
    assert plugin["devicePlugin"]["enabled"] is True
    assert {
        "key": "sagemaker.amazonaws.com/node-health-status",
        "operator": "Equal",
        "value": "Unschedulable",
        "effect": "NoSchedule",
    } in plugin["tolerations"]
    (upstream_types,) = [
        e["values"]
        for t in plugin["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        for e in t["matchExpressions"]
        if e["key"] == "node.kubernetes.io/instance-type"
    ]
    hyperpod_types = set(
        botocore.session.get_session().get_service_model("sagemaker").shape_for("ClusterInstanceType").enum
    )
    ours = {t.sagemaker_name for t in instances.INSTANCE_TYPES.values()} & hyperpod_types
    assert "ml.g4dn.xlarge" in ours - set(upstream_types)


def test_o7_nvidia_device_plugin_false_in_mode_hyperpod_switches_the_charts_plugin_off_and_fails_the_plan():
    plan, _, _ = run_stack(stack_values(HYPERPOD, platform={"nvidiaDevicePlugin": False}))
    assert chart_of(plan, "hyperpod-dependencies").inputs["values"]["nvidia-device-plugin"] == {
        "devicePlugin": {"enabled": False}
    }
    (o7,) = [v for v in plan.other_violations if v.reported.rule == "O7"]
    assert (
        o7.mandatory
        and o7.resource.name == "hyperpod-cluster"
        and "ml.g5.8xlarge" in o7.reported.message
        and plan.failed
    )
    plan, _, _ = run_stack(stack_values(HYPERPOD))
    assert not [v for v in plan.other_violations if v.reported.rule == "O7"]


def test_o7_an_eks_stack_keeps_the_platforms_own_device_plugin():
    plan, _, _ = run_stack(stack_values({"mode": "eks", "name": "ml-dev"}, []))
    (plugin,) = [
        r
        for r in plan.resources
        if r.type_ == "kubernetes:helm.sh/v4:Chart" and r.inputs.get("chart") == "nvidia-device-plugin"
    ]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in plugin.inputs["values"][
        "tolerations"
    ]


def test_an_eks_stack_declares_no_hyperpod_chart():
    plan, _, _ = run_stack(stack_values({"mode": "eks", "name": "ml-dev"}, []))
    assert not [r for r in plan.resources if r.name == "hyperpod-dependencies"]


def test_a_missing_chart_is_a_warning_in_the_plan_naming_the_fetch_command(monkeypatch, tmp_path):
    monkeypatch.delenv(charts.ENV_VAR)
    monkeypatch.setattr(charts, "CACHE_ROOT", tmp_path / "empty-cache")
    plan, _, _ = run_stack(stack_values(HYPERPOD))
    warnings = [m for level, m in plan.logs if level == "warning" and "HyperPod Helm chart" in m]
    assert len(warnings) == 1 and "python -m stacks charts fetch" in warnings[0] and "O5" in warnings[0]
    assert chart_of(plan, "hyperpod-dependencies").inputs["chart"] == str(
        tmp_path / "empty-cache" / "HyperPodHelmChart"
    )


def test_operator_helm_install_uses_the_fetched_subchart_with_its_dependencies_and_no_second_metrics_api(
    fake_hyperpod_chart,
):
    plan, _, _ = run_stack(stack_values(HYPERPOD, platform={"operatorInstall": "helm"}))
    chart = chart_of(plan, "platform-hyperpod-operator")
    assert chart.inputs["chart"] == f"{fake_hyperpod_chart}/charts/inference-operator"
    assert chart.inputs["dependencyUpdate"] is True
    values = chart.inputs["values"]
    # the platform installs metrics-server: the subchart (no condition in Chart.yaml) must not create v1beta1.metrics.k8s.io
    assert values["metrics"] == {"apiService": {"create": False}}
    assert {k: values[k]["enabled"] for k in ("alb", "cert-manager", "keda", "s3", "fsx")} == dict.fromkeys(
        ("alb", "cert-manager", "keda", "s3", "fsx"), False
    )
