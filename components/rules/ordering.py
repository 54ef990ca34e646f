"""Ordering rules over the declared dependency graph (O1-O8): what must exist before a resource is
created, which is also what must outlive it on destroy (Pulumi deletes dependents first).

Each rule reads `Resource.dependencies` (every URN a resource waits for, as the engine records them)
and follows them transitively. A rule applies only when the stack itself declares the thing to wait
for: a cluster whose load balancer controller or operator is installed elsewhere is not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import instances
from .addons import (
    CHARTS,
    CREATES_SERVICES,
    EKS_ADDONS,
    HYPERPOD_CHART_RELEASE,
    OPERATOR_ADDON,
    OPERATOR_CHARTS,
    config_key,
    operator_of,
    plugin_instance_types,
)
from .catalog import O1, O2, O3, O4, O5, O6, O7, O8
from .drain import GUARD_MARKER
from .gateway.charts import CHARTS as GATEWAY_CHARTS
from .gateway.charts import CRD_INSTALLERS as GATEWAY_CRD_INSTALLERS
from .problems import Problem
from .resources import Resource, get, split_kubernetes_type

Finding = tuple[Resource, Problem]

HELM_CHART = "kubernetes:helm.sh/v4:Chart"
EKS_ADDON = "aws:eks/addon:Addon"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
GPU = "nvidia.com/gpu"
HYPERPOD_CLUSTER = "aws-native:sagemaker:Cluster"
OPERATOR_GROUP = "inference.sagemaker.aws.amazon.com"
DYNAMIC = "pulumi-python:dynamic:Resource"
# Operator kinds for which the operator itself creates an ALB Ingress (`alb-{name}-{namespace}`).
MAKES_OPERATOR_INGRESS = ("InferenceEndpointConfig", "JumpStartModel")


class Graph:
    """The resources by URN and the transitive closure of `dependencies`, computed on demand."""

    def __init__(self, resources: Iterable[Resource]):
        self.resources = [r for r in resources if r.urn]
        self.by_urn = {r.urn: r for r in self.resources}
        self._closure: dict[str, set[str]] = {}

    def waits_for(self, resource: Resource) -> set[str]:
        if resource.urn in self._closure:
            return self._closure[resource.urn]
        seen: set[str] = set()
        stack = list(resource.dependencies)
        while stack:
            urn = stack.pop()
            if urn in seen:
                continue
            seen.add(urn)
            dep = self.by_urn.get(urn)
            if dep is not None:
                stack.extend(dep.dependencies)
        self._closure[resource.urn] = seen
        return seen

    def find(self, match: Callable[[Resource], bool]) -> list[Resource]:
        return [r for r in self.resources if match(r)]

    def descends_from(self, resource: Resource, ancestors: Iterable[Resource]) -> bool:
        """Whether `resource` is a child (at any depth) of one of `ancestors`: a chart's own objects."""
        urns = {a.urn for a in ancestors}
        seen: set[str] = set()
        parent = resource.parent
        while parent and parent not in seen:
            if parent in urns:
                return True
            seen.add(parent)
            above = self.by_urn.get(parent)
            parent = above.parent if above is not None else ""
        return False


def _chart_name(resource: Resource) -> str:
    return str(resource.props.get("chart") or "")


def _chart(addon: str) -> Callable[[Resource], bool]:
    chart = CHARTS[addon][1]
    return lambda r: r.type == HELM_CHART and _chart_name(r) == chart


def _kind(resource: Resource) -> tuple[str, str] | None:
    return split_kubernetes_type(resource.type)


def _missing(graph: Graph, resource: Resource, needed: list[Resource], rule: str, why: str, fix: str) -> list[Finding]:
    waits = graph.waits_for(resource)
    absent = [n for n in needed if n.urn not in waits and n.urn != resource.urn]
    return [(resource, Problem("dependsOn", sorted(n.name for n in absent), rule, why, fix))] if absent else []


def check_webhook_order(resources: list[Resource]) -> list[Finding]:
    """O1: Services, Ingresses and charts that create Services come after the load balancer controller.
    Its Service webhook fails closed (chart 1.13.2 values: serviceMutatorWebhookConfig.failurePolicy
    Fail), and an Ingress holds the controller's finalizer: created before it, refused; deleted after
    it, stuck with its ALB (the VPC delete then fails on the ALB's security groups)."""
    graph = Graph(resources)
    controllers = graph.find(_chart("load_balancer_controller"))
    if not controllers:
        return []
    service_charts = [CHARTS[a][1] for a in CREATES_SERVICES]
    service_addons = [
        EKS_ADDONS[a][0] for a in CREATES_SERVICES if a in EKS_ADDONS
    ]  # mode hyperpod's cert-manager, metrics-server
    findings: list[Finding] = []
    for r in graph.resources:
        kind = _kind(r)
        creates_services = (
            (kind is not None and kind[1] in ("Service", "Ingress"))
            or (r.type == HELM_CHART and _chart_name(r) in service_charts)
            or (r.type == EKS_ADDON and r.props.get("addonName") in service_addons)
        )
        if creates_services:
            findings += _missing(
                graph,
                r,
                controllers,
                O1,
                "created before the load balancer controller: its Service webhook refuses it, and on destroy its finalizer outlives the controller",
                "add the controller's chart to dependsOn (Platform.ingress_ready)",
            )
    return findings


def check_identity_order(resources: list[Resource]) -> list[Finding]:
    """O2: a chart whose pods use a service account with a Pod Identity association waits for it: EKS
    injects the credentials only into pods created after the association exists."""
    graph = Graph(resources)
    findings: list[Finding] = []
    for association in graph.find(lambda r: r.type == POD_IDENTITY):
        namespace, account = association.props.get("namespace"), association.props.get("serviceAccount")
        for chart in graph.find(lambda r: r.type == HELM_CHART and r.props.get("namespace") == namespace):  # noqa: B023 - the predicate runs within this iteration
            if account and account in str(chart.props.get("values") or {}):
                findings += _missing(
                    graph,
                    chart,
                    [association],
                    O2,
                    f"pods of {namespace}/{account} would start without AWS credentials",
                    "add the Pod Identity association to the chart's dependsOn",
                )
    return findings


def _installs_operator(r: Resource) -> bool:
    return (r.type == EKS_ADDON and r.props.get("addonName") == OPERATOR_ADDON) or (
        r.type == HELM_CHART and "inference-operator" in _chart_name(r)
    )


def _gateway_installer(group: str) -> Callable[[Resource], bool] | None:
    addon = GATEWAY_CRD_INSTALLERS.get(group)
    if addon is None:
        return None
    ref = GATEWAY_CHARTS[addon][0]
    return lambda r: r.type == HELM_CHART and _chart_name(r) == ref


def _backend_operator_charts(addon: str) -> Callable[[Resource], bool]:
    """The CRD chart and the operator chart of a backend operator add-on (OME, KServe, KServe's llmisvc)."""
    refs = {CHARTS[key][1] for key in OPERATOR_CHARTS[addon]}
    return lambda r: r.type == HELM_CHART and _chart_name(r) in refs


def check_crd_order(resources: list[Resource]) -> list[Finding]:
    """O3: a custom resource comes after what installs its CRD, and is deleted before it (the operator's
    finalizer). Judged for the HyperPod operator's kinds when the stack installs the operator, for the
    tenant gateway's kinds (Gateway API, Envoy Gateway, AI Gateway) when it installs their charts, and for
    OME's and KServe's kinds when it installs their charts: after the CRD chart and the operator chart, whose
    webhooks admit the InferenceService and fail closed (kserve/kserve@v0.20.0
    charts/kserve-resources/files/kserve/resources.yaml, sgl-project/ome@v0.1.5
    charts/ome-resources/templates/ome-controller/webhooks/isvcvalidator.yaml: `failurePolicy: Fail`).
    A chart's own objects (kserve-resources declares a ClusterStorageContainer) are the chart's business."""
    graph = Graph(resources)
    installers = graph.find(_installs_operator)
    findings: list[Finding] = []
    for r in graph.resources:
        kind = _kind(r)
        if not kind:
            continue
        group = kind[0].rpartition("/")[0]
        if installers and group == OPERATOR_GROUP:
            findings += _missing(
                graph,
                r,
                installers,
                O3,
                "created before the operator that installs its CRD (pulumi-kubernetes #3176, #3247)",
                "add the operator add-on to dependsOn (Platform.operator_ready)",
            )
        match = _gateway_installer(group)
        charts = graph.find(match) if match else []
        if charts:
            findings += _missing(
                graph,
                r,
                charts,
                O3,
                "created before the Helm chart that installs its CRD (pulumi-kubernetes #3176, #3247)",
                "add the gateway chart to dependsOn (components/gateway.py)",
            )
        owner = operator_of(group, kind[1])
        operator_charts = graph.find(_backend_operator_charts(owner)) if owner else []
        if operator_charts and not graph.descends_from(r, operator_charts):
            why = "created before the chart that installs its CRD or the operator whose webhook admits it (failurePolicy Fail; pulumi-kubernetes #3176, #3247)"
            findings += _missing(
                graph,
                r,
                operator_charts,
                O3,
                why,
                "add the operator's charts to the endpoint's dependsOn (Platform.backend_ready, EndpointArgs.operator_ready)",
            )
    return findings


EKS_CLUSTER = "eks:index:Cluster"


def check_backend_operators(resources: list[Resource]) -> list[Finding]:
    """O8: in a stack that creates its EKS cluster, an OME or KServe custom resource has its operator's charts
    declared in the same stack: nothing else installs them on a cluster the update creates, and without the CRD
    the object is refused. As for O5, the charts' absence is the finding. An endpoints-only stack, or one on an
    adopted cluster, is not judged (its platform is elsewhere)."""
    graph = Graph(resources)
    if not graph.find(lambda r: r.type == EKS_CLUSTER):
        return []
    findings: list[Finding] = []
    for r in graph.resources:
        kind = _kind(r)
        if kind is None:
            continue
        addon = operator_of(kind[0].rpartition("/")[0], kind[1])
        if addon is None or graph.find(_backend_operator_charts(addon)):
            continue
        group = kind[0].rpartition("/")[0]
        why = f"no operator of {group} (platform.{config_key(addon)}) is declared on the cluster this stack creates: the {kind[1]} has no CRD to be created against"
        findings.append(
            (
                r,
                Problem(
                    "dependsOn",
                    [],
                    O8,
                    why,
                    f"set platform.{config_key(addon)}: true (or auto) so the platform installs its charts ({', '.join(CHARTS[c][1] for c in OPERATOR_CHARTS[addon])})",
                ),
            )
        )
    return findings


def _uses_gpus(r: Resource) -> bool:
    kind = _kind(r)
    if kind is None or kind[1] not in ("Deployment", "StatefulSet", "InferenceEndpointConfig", "InferenceService"):
        return False
    return GPU in str(r.props.get("spec") or {})


def _is_hyperpod_chart(r: Resource) -> bool:
    return r.type == HELM_CHART and (r.props.get("name") == HYPERPOD_CHART_RELEASE or r.name == HYPERPOD_CHART_RELEASE)


def _installs_device_plugin(r: Resource) -> bool:
    """The platform's NVIDIA device plugin chart, or the HyperPod chart with its own plugin on (upstream's
    values.yaml default: `nvidia-device-plugin.devicePlugin.enabled: true`)."""
    if _chart("nvidia_device_plugin")(r):
        return True
    return (
        _is_hyperpod_chart(r) and get(r.props, "values", "nvidia-device-plugin", "devicePlugin", "enabled") is not False
    )


def check_gpu_order(resources: list[Resource]) -> list[Finding]:
    """O4: GPU workloads come after the GPU nodes (node groups, the HyperPod cluster) and the NVIDIA
    device plugin that advertises nvidia.com/gpu, where the stack declares them."""
    graph = Graph(resources)
    needed = graph.find(_installs_device_plugin)
    needed += graph.find(lambda r: r.type == HYPERPOD_CLUSTER)
    needed += graph.find(
        lambda r: (
            r.type in ("eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup")
            and "NVIDIA" in str(get(r.props, "amiType") or "")
        )
    )
    if not needed:
        return []
    findings: list[Finding] = []
    for r in graph.find(_uses_gpus):
        findings += _missing(
            graph,
            r,
            needed,
            O4,
            "a GPU workload declared before the GPU nodes and the device plugin stays Pending",
            "add the GPU node groups and the device plugin to dependsOn (Base.gpu_ready)",
        )
    return findings


def check_hyperpod_chart_order(resources: list[Resource]) -> list[Finding]:
    """O5: a HyperPod cluster the stack creates comes after the HyperPod Helm chart. AWS docs
    (sagemaker-hyperpod-eks-prerequisites.md): the chart must be installed before the cluster is
    created through the API; AWS's CloudFormation (helm-chart-stack.yaml) orders it so. Unlike O1-O4
    the chart's absence is a finding too: nothing else installs it in a stack that creates the cluster."""
    graph = Graph(resources)
    charts = graph.find(_is_hyperpod_chart)
    findings: list[Finding] = []
    for cluster in graph.find(lambda r: r.type == HYPERPOD_CLUSTER):
        if not charts:
            findings.append(
                (
                    cluster,
                    Problem(
                        "dependsOn",
                        [],
                        O5,
                        "no HyperPod Helm chart is declared: HyperPod nodes would join without the health-monitoring agent, deep-health-check RBAC and device plugins",
                        "declare the chart before the cluster (components/cluster_hyperpod.py hyperpod_dependencies)",
                    ),
                )
            )
            continue
        findings += _missing(
            graph,
            cluster,
            charts,
            O5,
            "the HyperPod cluster would be created before the HyperPod Helm chart is installed",
            "add the hyperpod-dependencies chart to the cluster's dependsOn",
        )
    return findings


def _gpu_instance_groups(cluster: Resource) -> list[str]:
    """Instance types of the cluster's NVIDIA GPU groups; every group counts when the types are unknown."""
    groups = get(cluster.props, "instanceGroups")
    if not isinstance(groups, list):
        return ["(unknown)"]
    types = [str(get(g, "instanceType") or "") for g in groups]
    return [t for t in types if not t or instances.is_gpu_instance(t)]


def check_device_plugin_order(resources: list[Resource]) -> list[Finding]:
    """O7: a HyperPod cluster with NVIDIA GPU instance groups comes after an NVIDIA device plugin: the
    HyperPod chart's (upstream's default) or the platform's chart. HyperPod taints a node being created
    for its deep health checks (`sagemaker.amazonaws.com/node-health-status=Unschedulable:NoSchedule`,
    AWS docs sagemaker-hyperpod-eks-prerequisites.md); the chart's plugin tolerates it and
    helm_chart/readme.md lists the plugin as required for HyperPod resiliency on NVIDIA GPUs. A plugin
    declared after the cluster starts only once its nodes have joined. As for O5, the absence of any
    plugin is a finding: nothing else installs one in a stack that creates the cluster. Where the chart's
    values name the plugin's instance types (its node affinity), every GPU group's type must be among them."""
    graph = Graph(resources)
    plugins = graph.find(_installs_device_plugin)
    findings: list[Finding] = []
    for cluster in graph.find(lambda r: r.type == HYPERPOD_CLUSTER):
        gpu_types = _gpu_instance_groups(cluster)
        if not gpu_types:
            continue
        if not plugins:
            why = f"no NVIDIA device plugin is declared: HyperPod nodes ({', '.join(sorted(set(gpu_types)))}) would join without nvidia.com/gpu"
            findings.append(
                (
                    cluster,
                    Problem(
                        "dependsOn",
                        [],
                        O7,
                        why,
                        "keep platform.nvidiaDevicePlugin on (in mode hyperpod it switches the HyperPod chart's plugin, components/rules/addons.py hyperpod_chart_values)",
                    ),
                )
            )
            continue
        waits = graph.waits_for(cluster)
        before = [p for p in plugins if p.urn in waits]
        if not before:
            why = "the HyperPod cluster would be created before any NVIDIA device plugin: its nodes join without nvidia.com/gpu and without a plugin that tolerates the deep-health-check taint"
            findings.append(
                (
                    cluster,
                    Problem(
                        "dependsOn",
                        sorted(p.name for p in plugins),
                        O7,
                        why,
                        "add the chart with the device plugin (the hyperpod-dependencies chart) to the cluster's dependsOn",
                    ),
                )
            )
            continue
        # The HyperPod chart's plugin runs where its rendered affinity says; any other plugin (or the
        # chart with upstream's affinity) is not judged on it.
        covers = [plugin_instance_types(p.props.get("values")) if _is_hyperpod_chart(p) else None for p in before]
        known = [c for c in covers if c is not None]
        if len(known) == len(covers):
            covered = set().union(*known)
            missing = sorted(
                {instances.sagemaker_name(t.strip().lower()) for t in gpu_types if instances.is_gpu_instance(t)}
                - covered
            )
            if missing:
                why = f"the HyperPod chart's NVIDIA device plugin runs only on {', '.join(sorted(covered))} (its node affinity): nodes of {', '.join(missing)} get no plugin"
                findings.append(
                    (
                        cluster,
                        Problem(
                            "values.nvidia-device-plugin.affinity",
                            missing,
                            O7,
                            why,
                            "render the affinity from the instance groups (components/rules/addons.py hyperpod_chart_values)",
                        ),
                    )
                )
    return findings


def _is_drain_guard(r: Resource) -> bool:
    return r.type == DYNAMIC and r.props.get("guard") == GUARD_MARKER


def check_finalizer_order(resources: list[Resource]) -> list[Finding]:
    """O6: on destroy, everything that holds a finalizer served by a controller is deleted before that
    controller (Pulumi deletes dependents first, so "after" on create is "before" on destroy). What the
    stack declares is covered by O1 (Ingresses, Services) and O3 (custom resources). The HyperPod
    operator's own ALB Ingress is not declared, so the ingress drain guard stands for it: the guard
    waits for the load balancer controller and the operator, and every endpoint kind whose operator
    makes an Ingress waits for the guard. An Ingress recreated while its controller held it hung with 409 Conflict (finalizer `ingress.k8s.aws/resources`)."""
    graph = Graph(resources)
    controllers = graph.find(_chart("load_balancer_controller"))
    if not controllers:
        return []
    endpoints = [
        r
        for r in graph.resources
        if (k := _kind(r)) and k[0].startswith(OPERATOR_GROUP + "/") and k[1] in MAKES_OPERATOR_INGRESS
    ]
    guards = graph.find(_is_drain_guard)
    findings: list[Finding] = []
    if not guards:
        why = "the operator creates an ALB Ingress for it that Pulumi does not declare; nothing keeps the load balancer controller until that Ingress's ALB is gone, so destroy orphans the ALB and the VPC delete fails (DependencyViolation)"
        return [
            (
                r,
                Problem(
                    "dependsOn",
                    [],
                    O6,
                    why,
                    "declare the ingress drain guard (components/ingress_drain.py) after the controller and add it to the endpoint's dependsOn (Base.ingress_ready)",
                ),
            )
            for r in endpoints
        ]
    for guard in guards:
        findings += _missing(
            graph,
            guard,
            [*controllers, *graph.find(_installs_operator)],
            O6,
            "the drain guard would be deleted after the load balancer controller or the operator, and wait for nothing",
            "add the controller's chart and the operator to the guard's dependsOn",
        )
    for r in endpoints:
        findings += _missing(
            graph,
            r,
            guards,
            O6,
            "the endpoint would be deleted after the drain guard: destroy would not wait for its operator-made ALB Ingress",
            "add the ingress drain guard to the endpoint's dependsOn (Base.ingress_ready)",
        )
    return findings
