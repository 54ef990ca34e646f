"""Platform add-ons (G20): the defaults per cluster mode, the order they converge in, the pinned
charts and EKS add-ons, and the HyperPod inference operator's add-on and Helm configuration."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_camel

from . import iam, instances

# The operator charts' values, re-exported for their users here.
from .addons_values import (  # noqa: F401
    EXTRA_CHART_VALUES,
    LLMISVC_PRESETS_VALUES,
    OME_CONTROLLER_RESOURCES,
    OME_MODEL_AGENT_RESOURCES,
    kserve_values,
    llmisvc_values,
    ome_values,
)
from .spec import PlatformSpec

OPERATOR_ADDON = "amazon-sagemaker-hyperpod-inference"
OPERATOR_ROLE_PREFIX = "SageMakerHyperPodInference"  # G20: the add-on path requires this prefix
OPERATOR_NAMESPACE = "hyperpod-inference-system"
MAX_ROLE_NAME = 64

ADDONS = (
    "load_balancer_controller",
    "nvidia_device_plugin",
    "cert_manager",
    "s3_csi",
    "fsx_csi",
    "metrics_server",
    "keda",
    "hyperpod_operator",
    "kserve_operator",
    "ome_operator",
    "llmisvc_operator",
)

# Add-ons that install an endpoint backend's operator (rule O8): `auto` installs one when a backend of the stack's
# endpoints declares it (`Backend.operator_addon`).
OPERATOR_ADDONS = ("kserve_operator", "ome_operator", "llmisvc_operator")
AUTO = "auto"

# Sensible defaults per cluster mode. `existing` adopts a cluster that usually has its platform
# already (a second load balancer controller or KEDA would fight the first): nothing by default.
# On plain EKS the HyperPod operator has no HyperPod nodes to schedule on: off by default. OME and
# KServe: when an endpoint needs them (`auto`).
DEFAULTS: dict[str, dict[str, bool | str]] = {
    "hyperpod": {**{a: True for a in ADDONS}, **{a: AUTO for a in OPERATOR_ADDONS}},
    "eks": {
        **{a: True for a in ADDONS},
        "hyperpod_operator": False,
        "fsx_csi": False,
        **{a: AUTO for a in OPERATOR_ADDONS},
    },
    "existing": {a: False for a in ADDONS},
}

# G20: what the HyperPod inference operator needs before it starts.
OPERATOR_PREREQUISITES = ("cert_manager", "load_balancer_controller", "s3_csi", "fsx_csi", "metrics_server", "keda")

# The load balancer controller chart registers a mutating webhook on every Service with failurePolicy
# Fail (aws-load-balancer-controller chart 1.13.2 values.yaml: enableServiceMutatorWebhook: true,
# serviceMutatorWebhookConfig.failurePolicy: Fail): a chart that creates a Service while the controller's
# pods are not ready fails. These add-ons' charts create Services.
CREATES_SERVICES = ("cert_manager", "metrics_server", "keda", "kserve_operator", "ome_operator", "llmisvc_operator")

# Add-ons that need another add-on first: the LB controller before anything that creates a Service;
# cert-manager's webhook before charts that create Certificates (KEDA, and the Issuer and Certificate of
# KServe's and OME's webhooks); G20 for the operator. OME's controller looks for the KEDA CRD once, at
# start (sgl-project/ome@v0.1.5 cmd/manager/main.go registerOptionalScheme, and the InferenceService
# controller's SetupWithManager watches ScaledObjects only if found then): KEDA first.
ADDON_DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "cert_manager": ("load_balancer_controller",),
    "metrics_server": ("load_balancer_controller",),
    "keda": ("load_balancer_controller", "cert_manager"),
    "hyperpod_operator": OPERATOR_PREREQUISITES,
    "kserve_operator": ("load_balancer_controller", "cert_manager"),
    "ome_operator": ("load_balancer_controller", "cert_manager", "keda"),
    "llmisvc_operator": ("load_balancer_controller", "cert_manager"),
}

# Pinned upstream charts (repository, chart, version). Bump deliberately, one at a time.
CHARTS: dict[str, tuple[str, str, str]] = {
    "load_balancer_controller": ("https://aws.github.io/eks-charts", "aws-load-balancer-controller", "1.13.4"),
    "nvidia_device_plugin": ("https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.17.4"),
    "cert_manager": ("https://charts.jetstack.io", "cert-manager", "v1.18.2"),
    "keda": ("https://kedacore.github.io/charts", "keda", "2.17.2"),
    "metrics_server": ("https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.13.0"),
    # The Helm path of the operator (alternative to the EKS add-on): the subchart of the fetched
    # HyperPod chart (`python -m stacks charts fetch`); the program passes the directory.
    "hyperpod_operator": ("", "charts/inference-operator", ""),
    # OCI charts (no repository; the reference is the chart), each operator as upstream installs it: the CRD
    # chart, then the controller's chart. KServe: kserve/kserve@v0.20.0 charts/kserve-crd/README.md and
    # charts/kserve-resources/README.md (`helm install ... oci://ghcr.io/kserve/charts/<chart> --version
    # v0.20.0`; .github/workflows/helm-publish.yml pushes every chart of the release there). v0.20.0's
    # InferenceService CRD is byte-identical to the schema the plan validates against (config/crd/full).
    "kserve_crd": ("", "oci://ghcr.io/kserve/charts/kserve-crd", "v0.20.0"),
    "kserve_operator": ("", "oci://ghcr.io/kserve/charts/kserve-resources", "v0.20.0"),
    # OME: sgl-project/ome@v0.1.5 README.md ("OCI Registry (Recommended)") and .github/workflows/release.yaml,
    # which pushes each chart at the tag without its `v` (and sets the images to the tag). Its ome-crd
    # templates are the plan's CRD schemas (same blobs).
    "ome_crd": ("", "oci://ghcr.io/moirai-internal/charts/ome-crd", "0.1.5"),
    "ome_operator": ("", "oci://ghcr.io/moirai-internal/charts/ome-resources", "0.1.5"),
    # KServe's LLMInferenceService controller, as its READMEs install it (kserve/kserve@v0.20.0
    # charts/kserve-llmisvc-crd/README.md, charts/kserve-llmisvc-resources/README.md), and the well-known
    # LLMInferenceServiceConfig presets it merges under every LLMInferenceService (charts/kserve-runtime-configs,
    # `kserve.llmisvcConfigs.enabled`, off by default); without them the controller reports ConfigNotFound
    # (pkg/controller/v1alpha2/llmisvc/config_merge.go reconcileBaseRefs).
    "llmisvc_crd": ("", "oci://ghcr.io/kserve/charts/kserve-llmisvc-crd", "v0.20.0"),
    "llmisvc_operator": ("", "oci://ghcr.io/kserve/charts/kserve-llmisvc-resources", "v0.20.0"),
    "llmisvc_presets": ("", "oci://ghcr.io/kserve/charts/kserve-runtime-configs", "v0.20.0"),
}

# Release names and namespaces of the backend operators' charts, as upstream's install commands give them.
# OME's chart hard-codes namespace `ome` (the inferenceservice-config ConfigMap, and
# `cert-manager.io/inject-ca-from: ome/serving-cert` on its webhooks: sgl-project/ome@v0.1.5
# charts/ome-resources/templates/ome-controller/configmap.yaml, webhooks/*.yaml); KServe's renders its
# files into the release namespace (charts/kserve-resources/templates/_common.tpl replaceNamespace), `kserve`.
OPERATOR_CHARTS: dict[str, tuple[str, str]] = {
    "kserve_operator": ("kserve_crd", "kserve_operator"),
    "ome_operator": ("ome_crd", "ome_operator"),
    "llmisvc_operator": ("llmisvc_crd", "llmisvc_operator"),
}
# Charts installed after an operator's two (its presets, whose LLMInferenceServiceConfigs its webhook admits).
OPERATOR_EXTRA_CHARTS: dict[str, tuple[str, ...]] = {"llmisvc_operator": ("llmisvc_presets",)}
RELEASES: dict[str, str] = {
    "kserve_crd": "kserve-crd",
    "kserve_operator": "kserve-resources",
    "ome_crd": "ome-crd",
    "ome_operator": "ome",
    "llmisvc_crd": "kserve-llmisvc-crd",
    "llmisvc_operator": "kserve-llmisvc-resources",
    "llmisvc_presets": "kserve-runtime-configs",
}
# The llmisvc charts hard-code namespace kserve too (charts/kserve-runtime-configs/files/llmisvcconfigs/
# resources.yaml; the controller looks for presets in its own namespace, pkg/constants KServeNamespace).
OPERATOR_NAMESPACES: dict[str, str] = {"kserve_operator": "kserve", "ome_operator": "ome", "llmisvc_operator": "kserve"}
# The API group of each backend operator's custom resources, and the charts that install its CRDs and
# admit its objects (rule O3): both operators' webhooks fail closed (failurePolicy: Fail) on InferenceService create.
OPERATOR_GROUPS: dict[str, str] = {
    "kserve_operator": "serving.kserve.io",
    "ome_operator": "ome.io",
    "llmisvc_operator": "serving.kserve.io",
}
# Operators that share a group with another own only these kinds of it (KServe's two controllers).
OPERATOR_KINDS: dict[str, frozenset[str]] = {
    "llmisvc_operator": frozenset({"LLMInferenceService", "LLMInferenceServiceConfig"})
}


def operator_of(group: str, kind: str) -> str | None:
    """The backend operator add-on whose charts install the CRD of `kind` in `group`, None for other groups."""
    owners = [a for a, g in OPERATOR_GROUPS.items() if g == group]
    return next(
        (a for a in owners if kind in OPERATOR_KINDS.get(a, ())),
        next((a for a in owners if a not in OPERATOR_KINDS), None),
    )


def config_key(addon: str) -> str:
    """The add-on's key under `platform` in a stack file (`kserve_operator` -> `kserveOperator`)."""
    return to_camel(addon)


# The HyperPod Helm chart (aws/sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart): required before
# the HyperPod cluster is created (AWS docs sagemaker-hyperpod-eks-prerequisites.md; AWS's
# CloudFormation helm-chart-stack.yaml installs it as release hyperpod-dependencies in kube-system).
HYPERPOD_CHART_RELEASE = "hyperpod-dependencies"
HYPERPOD_CHART_NAMESPACE = "kube-system"


def hyperpod_chart_values(plan: AddonPlan, instance_types: Iterable[str] = ()) -> dict[str, Any]:
    """Values of the HyperPod chart: upstream defaults (values.yaml at the pinned commit) except
    - `nvidia-device-plugin.devicePlugin.enabled`: the platform's `nvidiaDevicePlugin` switch. In mode
      hyperpod the chart's plugin is the stack's (HYPERPOD_CHART_ADDONS): upstream's default, with the
      deep-health-check toleration, on the nodes from their start;
    - `nvidia-device-plugin.affinity`: on the cluster's NVIDIA GPU instance types (`instance_types`), as
      helm_chart/readme.md asks of a plugin ("<your HyperPod instance types>"). Upstream's list leaves out
      types HyperPod offers (ml.g4dn.*, ml.g7.*), whose nodes would get no plugin; O7 checks the cover.
      Without GPU groups upstream's affinity stays (an `In` with no values is invalid);
    - `trainingOperators`, `mpi-operator`: off; this stack serves models and runs no training or MPI
      jobs, and each is a controller Deployment (with ~3 MB of Kubeflow CRDs) the first up would wait for.
    Kept on: health-monitoring-agent, deep-health-check, job-auto-restart, hyperpod-patching (the
    resiliency parts), the EFA and Neuron device plugins. cert-manager and the inference operator stay
    off as upstream ships them: the platform installs both."""
    plugin: dict[str, Any] = {"devicePlugin": {"enabled": plan["nvidia_device_plugin"]}}
    gpu_types = sorted(
        {instances.sagemaker_name(t.strip().lower()) for t in instance_types if instances.is_gpu_instance(t)}
    )
    if plan["nvidia_device_plugin"] and gpu_types:
        term = {"matchExpressions": [{"key": INSTANCE_TYPE_NODE_LABEL, "operator": "In", "values": gpu_types}]}
        plugin["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
        }
    return {
        "trainingOperators": {"enabled": False},
        "mpi-operator": {"enabled": False},
        "nvidia-device-plugin": plugin,
    }


# The well-known label HyperPod sets to a node's ml.* instance type; upstream's plugin affinity selects on it.
INSTANCE_TYPE_NODE_LABEL = "node.kubernetes.io/instance-type"


def plugin_instance_types(values: Any) -> set[str] | None:
    """The instance types the HyperPod chart's NVIDIA plugin affinity selects, as hyperpod_chart_values
    renders it; None when the values leave upstream's affinity."""
    affinity = _at(
        values,
        "nvidia-device-plugin",
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    if not isinstance(affinity, list):
        return None
    found: set[str] = set()
    for term in affinity:
        for expr in _at(term, "matchExpressions") or []:
            if _at(expr, "key") == INSTANCE_TYPE_NODE_LABEL and _at(expr, "operator") == "In":
                found |= {str(v) for v in _at(expr, "values") or []}
    return found


def _at(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


# Mode hyperpod: the HyperPod chart installs these, before the HyperPod cluster (O5, O7); the platform
# declares none of its own. The chart's NVIDIA plugin is on in upstream's values.yaml and carries what
# helm_chart/readme.md asks of a self-installed one: the toleration
# sagemaker.amazonaws.com/node-health-status=Unschedulable:NoSchedule (the deep-health-check taint of
# nodes being created) and a node.kubernetes.io/instance-type affinity, which hyperpod_chart_values
# renders on the cluster's GPU types.
HYPERPOD_CHART_ADDONS = ("nvidia_device_plugin",)

# Mode hyperpod: EKS add-ons instead of Helm charts, at these versions. AWS's setup page ("Install the
# dependency EKS Add-Ons" in sagemaker-hyperpod-model-deployment-setup) says the inference operator fails
# to install when they are missing and names these minimum versions; AWS's Terraform installs both with
# aws_eks_addon (hyperpod_cluster/cert_manager.tf, whose default version is v1.18.2-eksbuild.2, and
# hyperpod_inference_operator/main.tf), and helm_to_addon.sh pins the same two versions.
HYPERPOD_EKS_ADDON_VERSIONS: dict[str, str] = {
    "cert_manager": "v1.18.2-eksbuild.2",
    "metrics_server": "v0.7.2-eksbuild.4",
}


def platform_installs(addon: str, mode: str) -> bool:
    """Whether the platform declares the add-on itself (mode hyperpod leaves HYPERPOD_CHART_ADDONS to the chart)."""
    return not (mode == "hyperpod" and addon in HYPERPOD_CHART_ADDONS)


def eks_addon_version(addon: str, mode: str) -> str | None:
    """The EKS add-on version to install `addon` at, or None where it is a Helm chart."""
    return HYPERPOD_EKS_ADDON_VERSIONS.get(addon) if mode == "hyperpod" else None


# EKS add-ons (name, service account that needs AWS access or None, namespace).
EKS_ADDONS: dict[str, tuple[str, str | None, str]] = {
    "s3_csi": ("aws-mountpoint-s3-csi-driver", "s3-csi-driver-sa", "kube-system"),
    "fsx_csi": ("aws-fsx-csi-driver", "fsx-csi-controller-sa", "kube-system"),
    "pod_identity_agent": ("eks-pod-identity-agent", None, "kube-system"),
    # mode hyperpod only (HYPERPOD_EKS_ADDON_VERSIONS); the setup page checks their pods in these namespaces
    "cert_manager": ("cert-manager", None, "cert-manager"),
    "metrics_server": ("metrics-server", None, "kube-system"),
}


@dataclass(frozen=True)
class AddonPlan:
    enabled: dict[str, bool]

    def __getitem__(self, addon: str) -> bool:
        return self.enabled.get(addon, False)

    def on(self) -> list[str]:
        return [a for a in ADDONS if self.enabled.get(a)]


def resolve_addons(mode: str, platform: PlatformSpec, operators: Iterable[str] = ()) -> AddonPlan:
    """The switches after mode defaults: an explicit true/false always wins. `operators`: the operator add-ons the
    backends of the stack's endpoints need (`backends.operators_for`), which turn one that is `auto` on (rule O8)."""
    defaults = DEFAULTS[mode]
    needed = set(operators)
    enabled: dict[str, bool] = {}
    for addon in ADDONS:
        value = getattr(platform, addon)
        value = defaults[addon] if value is None else value
        enabled[addon] = addon in needed if value == AUTO else bool(value)
    return AddonPlan(enabled)


def install_order(plan: AddonPlan, mode: str = "") -> list[str]:
    """Enabled add-ons the platform installs in `mode`, each after what it depends on (G20), stable otherwise."""
    done: list[str] = []

    def visit(addon: str) -> None:
        if addon in done or not plan[addon] or not platform_installs(addon, mode):
            return
        for dep in ADDON_DEPENDS_ON.get(addon, ()):
            visit(dep)
        done.append(addon)

    for addon in ADDONS:
        visit(addon)
    return done


def depends_on(addon: str, plan: AddonPlan) -> list[str]:
    return [d for d in ADDON_DEPENDS_ON.get(addon, ()) if plan[d]]


def operator_role_name(platform: PlatformSpec, cluster_name: str) -> str:
    """G20: the execution role of the EKS add-on path starts with `SageMakerHyperPodInference`."""
    raw = platform.operator_role_name.replace("{cluster}", cluster_name)
    if len(raw) <= MAX_ROLE_NAME:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{raw[: MAX_ROLE_NAME - 9].rstrip('-_')}-{digest}"


# The operator chart's ServiceAccount template, relative to the subchart (CHARTS["hyperpod_operator"]).
OPERATOR_CHART_SERVICE_ACCOUNT = "config/rbac/service_account.yaml"
_VALUE = re.compile(r"\{\{-?\s*\.Values\.(\w+)\s*-?\}\}")


def operator_service_account(install: str, chart_dir: str = "") -> tuple[str, str]:
    """(namespace, name) of the operator controller's service account, the one its role trusts through
    IRSA. The add-on's is fixed (iam.OPERATOR_SERVICE_ACCOUNT); the Helm chart's is rendered from the
    fetched chart's ServiceAccount template and values.yaml, and is iam.OPERATOR_HELM_SERVICE_ACCOUNT
    (pinned commit) where the chart is not at hand or names none."""
    if install != "helm":
        return OPERATOR_NAMESPACE, iam.OPERATOR_SERVICE_ACCOUNT
    rendered = _chart_service_account(Path(chart_dir) / CHARTS["hyperpod_operator"][1]) if chart_dir else None
    return rendered or (OPERATOR_NAMESPACE, iam.OPERATOR_HELM_SERVICE_ACCOUNT)


def _chart_service_account(chart: Path) -> tuple[str, str] | None:
    """metadata.namespace and .name of the chart's ServiceAccount with the chart's default values filled in."""
    import yaml  # only the program reads charts; the policy pack's virtualenv has no PyYAML

    try:
        values = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))
        template = (chart / OPERATOR_CHART_SERVICE_ACCOUNT).read_text(encoding="utf-8")
        if not isinstance(values, dict):
            return None
        text = _VALUE.sub(lambda m: "" if values.get(m.group(1)) is None else str(values[m.group(1)]), template)
        account = yaml.safe_load(text)
    except (OSError, yaml.YAMLError):
        return None
    metadata = account.get("metadata") if isinstance(account, dict) else None
    namespace, name = (metadata.get("namespace"), metadata.get("name")) if isinstance(metadata, dict) else (None, None)
    return (str(namespace), str(name)) if namespace and name else None


def operator_addon_config(
    execution_role_arn: str,
    tls_bucket: str,
    hyperpod_cluster_arn: str | None,
    plan: AddonPlan,
    keda_role_arn: str | None = None,
) -> dict[str, Any]:
    """`configurationValues` of the `amazon-sagemaker-hyperpod-inference` add-on.

    The stack installs the load balancer controller and KEDA itself (one owner per controller), so
    the add-on is told not to install its own copies. The HyperPod cluster ARN is passed explicitly:
    the operator otherwise reads it from node labels, which the system node group lacks.
    """
    config: dict[str, Any] = {
        "executionRoleArn": execution_role_arn,
        "tlsCertificateS3Bucket": tls_bucket,
        "alb": {"enabled": False},
        "keda": {"enabled": False},
    }
    if hyperpod_cluster_arn:
        config["hyperpodClusterArn"] = hyperpod_cluster_arn
    if not plan["load_balancer_controller"]:
        config["alb"] = {"enabled": True, "serviceAccount": {"create": True}}
    if not plan["keda"] and keda_role_arn:
        config["keda"] = {"enabled": True, "auth": {"aws": {"irsa": {"enabled": True, "roleArn": keda_role_arn}}}}
    return config


def operator_helm_values(
    region: str,
    cluster_name: str,
    execution_role_arn: str,
    tls_bucket: str,
    hyperpod_cluster_arn: str | None,
    vpc_id: str,
    plan: AddonPlan,
) -> dict[str, Any]:
    """Values of the operator's Helm chart (the alternative to the add-on). Its dependencies are
    installed by the stack, so the chart's bundled copies are switched off."""
    values: dict[str, Any] = {
        "region": region,
        "eksClusterName": cluster_name,
        "executionRoleArn": execution_role_arn,
        "tlsCertificateS3Bucket": tls_bucket if tls_bucket.startswith("s3://") else f"s3://{tls_bucket}",
        "alb": {"enabled": False, "region": region, "clusterName": cluster_name, "vpcId": vpc_id},
        "cert-manager": {"enabled": False},
        "keda": {"enabled": False},
        "s3": {"enabled": False},
        "fsx": {"enabled": False},
        # The `metrics` (metrics-server 3.12.2) dependency has no condition in the chart's Chart.yaml: it
        # is always rendered. Without its APIService it cannot take v1beta1.metrics.k8s.io from the
        # platform's metrics-server (one APIService of that name per cluster).
        "metrics": {"apiService": {"create": not plan["metrics_server"]}},
    }
    if hyperpod_cluster_arn:
        values["hyperpodClusterArn"] = hyperpod_cluster_arn
    return values
