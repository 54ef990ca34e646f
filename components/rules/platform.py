"""Cluster and platform rules (G8, G9, G16, G17, G20): add-on defaults per cluster mode, the order
add-ons must converge in, the HyperPod operator's add-on configuration, ALB ingress annotations,
endpoint URLs and example requests, and the checks of a cluster spec. Pure Python, no Pulumi.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from . import instances, naming
from .problems import Problem
from .spec import ClusterSpec, EndpointSpec, IngressSpec, InstanceGroup, PlatformSpec

OPERATOR_ADDON = "amazon-sagemaker-hyperpod-inference"
OPERATOR_ROLE_PREFIX = "SageMakerHyperPodInference"  # G20: the add-on path requires this prefix
OPERATOR_NAMESPACE = "hyperpod-inference-system"
MAX_ROLE_NAME = 64
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*$")  # m7g, c7gn, r8gd: arm64

ADDONS = (
    "load_balancer_controller",
    "nvidia_device_plugin",
    "cert_manager",
    "s3_csi",
    "fsx_csi",
    "metrics_server",
    "keda",
    "hyperpod_operator",
)

# Sensible defaults per cluster mode. `existing` adopts a cluster that usually has its platform
# already (a second load balancer controller or KEDA would fight the first): nothing by default.
# On plain EKS the HyperPod operator has no HyperPod nodes to schedule on: off by default.
DEFAULTS: dict[str, dict[str, bool]] = {
    "hyperpod": {a: True for a in ADDONS},
    "eks": {**{a: True for a in ADDONS}, "hyperpod_operator": False, "fsx_csi": False},
    "existing": {a: False for a in ADDONS},
}

# G20: what the HyperPod inference operator needs before it starts.
OPERATOR_PREREQUISITES = ("cert_manager", "load_balancer_controller", "s3_csi", "fsx_csi", "metrics_server", "keda")

# The load balancer controller chart registers a mutating webhook on every Service with failurePolicy
# Fail (aws-load-balancer-controller chart 1.13.2 values.yaml: enableServiceMutatorWebhook: true,
# serviceMutatorWebhookConfig.failurePolicy: Fail): a chart that creates a Service while the controller's
# pods are not ready fails. These add-ons' charts create Services.
CREATES_SERVICES = ("cert_manager", "metrics_server", "keda")

# Add-ons that need another add-on first: the LB controller before anything that creates a Service;
# cert-manager's webhook before charts that create Certificates (KEDA); G20 for the operator.
ADDON_DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "cert_manager": ("load_balancer_controller",),
    "metrics_server": ("load_balancer_controller",),
    "keda": ("load_balancer_controller", "cert_manager"),
    "hyperpod_operator": OPERATOR_PREREQUISITES,
}

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
INSTANCE_TYPE_LABEL = "llm-serving/instance-type"
NODE_ROLE_LABEL = "llm-serving/node-role"

# Tags on every taggable AWS resource the stack declares. S6 requires REQUIRED_TAGS by default
# (security.DEFAULT_REQUIRED_TAGS is this tuple), so what the program sets and what the policy checks
# cannot drift apart.
STACK_TAG = "llm-serving/stack"
CLUSTER_TAG = "llm-serving/cluster"
ENDPOINT_TAG = "llm-serving/endpoint"  # ALBs of one endpoint (the Ingress's tags annotation)
REQUIRED_TAGS = (STACK_TAG, CLUSTER_TAG)
RESERVED_TAG_PREFIX = "llm-serving/"
MAX_USER_TAGS = 40  # AWS allows 50 per resource; the stack adds up to 5 (Name, subnet roles) and pulumi-eks its own
_TAG_KEY = re.compile(r"[\w .:/+\-@]{1,128}")  # AWS tag charset without '=': the ALB controller's --default-tags is k=v,...
_TAG_VALUE = re.compile(r"[\w .:/=+\-@]{0,256}")


def stack_tags(stack: str, cluster_name: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The user's `cluster.tags` plus the required tags, which always win.

    Set explicitly on each resource rather than through the aws provider's `defaultTags`: the
    offline plan and the tests run under mocks, which never apply provider default tags (so S6 could
    not be checked before `pulumi up`), and defaultTags reach neither aws-native (the HyperPod
    cluster) nor the ALBs the load balancer controller creates.
    """
    return {**(extra or {}), STACK_TAG: stack, CLUSTER_TAG: cluster_name}


def validate_tags(tags: Mapping[str, str], path: str = "cluster.tags") -> list[Problem]:
    """AWS tag rules, checked before anything is declared (AWS would reject them mid-`up`)."""
    problems: list[Problem] = []
    if len(tags) > MAX_USER_TAGS:
        problems.append(Problem(path, f"{len(tags)} tags", "CONFIG", f"at most {MAX_USER_TAGS} user tags fit (AWS allows 50 per resource and the stack sets its own)", "drop some tags"))
    for key, value in tags.items():
        where = f"{path}.{key}"
        if key.startswith(RESERVED_TAG_PREFIX):
            problems.append(Problem(where, value, "CONFIG", f"tag keys under {RESERVED_TAG_PREFIX} are set by the stack ({', '.join(REQUIRED_TAGS)}, {ENDPOINT_TAG}) and S6 relies on them", "rename the key, e.g. without the llm-serving/ prefix"))
        elif key.lower().startswith("aws:"):
            problems.append(Problem(where, value, "CONFIG", "the aws: prefix is reserved for AWS", "rename the key"))
        elif not _TAG_KEY.fullmatch(key):
            problems.append(Problem(where, value, "CONFIG", "not a valid tag key: 1-128 characters of letters, digits, spaces and _ . : / + - @ (no '=', which the ALB controller's default tags use as separator)", "rename the key"))
        if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
            problems.append(Problem(where, value, "CONFIG", "not a valid tag value: a string of at most 256 letters, digits, spaces and _ . : / = + - @", "quote it as a string and drop other characters (e.g. commas)"))
    return problems


# Pinned upstream charts (repository, chart, version). Bump deliberately, one at a time.
CHARTS: dict[str, tuple[str, str, str]] = {
    "load_balancer_controller": ("https://aws.github.io/eks-charts", "aws-load-balancer-controller", "1.13.4"),
    "nvidia_device_plugin": ("https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.17.4"),
    "cert_manager": ("https://charts.jetstack.io", "cert-manager", "v1.18.2"),
    "keda": ("https://kedacore.github.io/charts", "keda", "2.17.2"),
    "metrics_server": ("https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.13.0"),
    # The Helm path of the operator (alternative to the EKS add-on); a local checkout of
    # aws/sagemaker-hyperpod-cli `helm_chart/HyperPodHelmChart/charts/inference-operator`.
    "hyperpod_operator": ("", "./helm_chart/HyperPodHelmChart/charts/inference-operator", ""),
}

# EKS add-ons (name, service account that needs AWS access or None, namespace).
EKS_ADDONS: dict[str, tuple[str, Optional[str], str]] = {
    "s3_csi": ("aws-mountpoint-s3-csi-driver", "s3-csi-driver-sa", "kube-system"),
    "fsx_csi": ("aws-fsx-csi-driver", "fsx-csi-controller-sa", "kube-system"),
    "pod_identity_agent": ("eks-pod-identity-agent", None, "kube-system"),
}


@dataclass(frozen=True)
class AddonPlan:
    enabled: dict[str, bool]

    def __getitem__(self, addon: str) -> bool:
        return self.enabled.get(addon, False)

    def on(self) -> list[str]:
        return [a for a in ADDONS if self.enabled.get(a)]


def resolve_addons(mode: str, platform: PlatformSpec) -> AddonPlan:
    """The switches after mode defaults: an explicit true/false always wins."""
    defaults = DEFAULTS[mode]
    return AddonPlan({a: (getattr(platform, a) if getattr(platform, a) is not None else defaults[a]) for a in ADDONS})


def install_order(plan: AddonPlan) -> list[str]:
    """Enabled add-ons, each after what it depends on (G20), stable otherwise."""
    done: list[str] = []

    def visit(addon: str) -> None:
        if addon in done or not plan[addon]:
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


def operator_addon_config(
    execution_role_arn: str,
    tls_bucket: str,
    hyperpod_cluster_arn: Optional[str],
    plan: AddonPlan,
    keda_role_arn: Optional[str] = None,
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
    region: str, cluster_name: str, execution_role_arn: str, tls_bucket: str, hyperpod_cluster_arn: Optional[str], vpc_id: str, plan: AddonPlan
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
    }
    if hyperpod_cluster_arn:
        values["hyperpodClusterArn"] = hyperpod_cluster_arn
    return values


# ---------------------------------------------------------------- ingress, URLs, examples


def ingress_name(endpoint_k8s_name: str) -> str:
    """Our Ingress; distinct from the operator's `alb-{name}` so the two never fight over one object."""
    return naming.fit(f"llm-{endpoint_k8s_name}", naming.MAX_NAME)


def needs_ingress(spec: EndpointSpec) -> bool:
    """G8: the operator's router exists (and so an ALB can front it) only with intelligent routing."""
    return spec.intelligent_routing


def alb_tags(stack: str, endpoint: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Tags for an endpoint's ALB (set through the Ingress annotation: the ALB is the controller's,
    not Pulumi's). The controller's defaultTags add the cluster tag; the endpoint tag tells one
    endpoint's ALB from another's."""
    return {**(extra or {}), STACK_TAG: stack, ENDPOINT_TAG: endpoint}


def alb_ingress(name: str, namespace: str, labels: Mapping[str, str], annotations: Mapping[str, str], service: str, port: int) -> dict[str, Any]:
    """The ALB Ingress every endpoint path uses: one rule, everything to one Service port."""
    backend = {"service": {"name": service, "port": {"number": port}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "annotations": dict(annotations)},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]},
    }


def ingress_annotations(spec: EndpointSpec, ingress: IngressSpec, health_path: str, tags: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """ALB annotations, fixed when the Ingress is created (G8: never delete-and-recreate to change
    the scheme: the ALB controller's finalizer deadlocks, incident §15). G17: health check on a route
    the engine serves. `tags` go on the ALB, its target group and security group; the controller's
    own defaultTags (the platform's stack tags) win on a shared key."""
    scheme = "internet-facing" if spec.public_alb else "internal"
    out = {
        "alb.ingress.kubernetes.io/scheme": scheme,
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/backend-protocol": ingress.router_protocol,
        "alb.ingress.kubernetes.io/healthcheck-path": health_path,
        "alb.ingress.kubernetes.io/healthcheck-protocol": ingress.router_protocol,
        "alb.ingress.kubernetes.io/success-codes": "200",
        "alb.ingress.kubernetes.io/load-balancer-attributes": f"idle_timeout.timeout_seconds={ingress.idle_timeout_seconds}",
    }
    if ingress.certificate_arn:
        out["alb.ingress.kubernetes.io/listen-ports"] = json.dumps([{"HTTP": 80}, {"HTTPS": 443}], separators=(",", ":"))
        out["alb.ingress.kubernetes.io/certificate-arn"] = ingress.certificate_arn
        out["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
    else:
        out["alb.ingress.kubernetes.io/listen-ports"] = json.dumps([{"HTTP": 80}], separators=(",", ":"))
    if spec.public_alb and ingress.inbound_cidrs:
        out["alb.ingress.kubernetes.io/inbound-cidrs"] = ",".join(ingress.inbound_cidrs)
    if tags:
        out["alb.ingress.kubernetes.io/tags"] = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return out


def router_service(ingress: IngressSpec, endpoint_k8s_name: str) -> str:
    return ingress.router_service.replace("{name}", endpoint_k8s_name)  # never str.format: no user templates


def validate_router_services(ingress: IngressSpec, endpoints: Iterable[EndpointSpec]) -> list[Problem]:
    """The filled-in router Service name is a Service name: a DNS-1035 label of at most 63 characters."""
    problems = []
    for i, ep in enumerate(endpoints):
        name = router_service(ingress, naming.endpoint_name(ep.name))
        if ep.intelligent_routing and len(name) > naming.MAX_NAME:
            problems.append(Problem("platform.ingress.routerService", ingress.router_service, "CONFIG", f"becomes {name!r} for endpoints[{i}], longer than {naming.MAX_NAME} characters", "shorten the text around {name}"))
    return problems


def url_scheme(ingress: IngressSpec) -> str:
    return "https" if ingress.certificate_arn else "http"


def endpoint_url(scheme: str, host: Optional[str], invocation_endpoint: str) -> Optional[str]:
    """G16: built from the Ingress's final status (`host`), never from a value known before the ALB."""
    if not host:
        return None
    return f"{scheme}://{host}/{invocation_endpoint.lstrip('/')}"


def curl_example(url: Optional[str], served_model: str, api_key: bool, invocation_endpoint: str) -> Optional[str]:
    """A ready-to-run request. The key is never in it (G9): it is read from the environment."""
    if not url:
        return None
    if invocation_endpoint.endswith("chat/completions"):
        body = {"model": served_model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 64}
    else:
        body = {"model": served_model, "prompt": "Hello", "max_tokens": 64}
    auth = ' -H "Authorization: Bearer $API_KEY"' if api_key else ""
    return f"curl -sS {url} -H 'Content-Type: application/json'{auth} -d '{json.dumps(body, separators=(',', ':'))}'"


# ---------------------------------------------------------------- checks of the cluster spec


def _check_public_access(cluster: ClusterSpec, path: str) -> list[Problem]:
    """The EKS API's publicAccessCidrs, before EKS rejects them mid-`up`; S4 judges 0.0.0.0/0."""
    problems: list[Problem] = []
    for i, cidr in enumerate(cluster.public_access_cidrs):
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            try:
                fix = f"use {ipaddress.ip_network(cidr, strict=False)}"  # host bits set
            except ValueError:
                fix = "use a network such as 203.0.113.0/24 (your CI or VPN egress range)"
            problems.append(Problem(f"{path}.publicAccessCidrs[{i}]", cidr, "CONFIG", f"not a CIDR ({exc})", fix))
    if cluster.mode in ("eks", "hyperpod") and cluster.endpoint_public_access and not cluster.public_access_cidrs:
        problems.append(Problem(f"{path}.publicAccessCidrs", [], "CONFIG", "a public EKS API endpoint needs at least one allowed range", "list your CI and VPN egress CIDRs, or set endpointPublicAccess: false"))
    if not cluster.endpoint_public_access and "public_access_cidrs" in cluster.model_fields_set:
        problems.append(Problem(f"{path}.publicAccessCidrs", cluster.public_access_cidrs, "CONFIG", "ignored: endpointPublicAccess is false, so the API is reachable only from inside the VPC", "remove publicAccessCidrs, or set endpointPublicAccess: true", severity="warning"))
    return problems


def validate_cluster(cluster: ClusterSpec, platform: PlatformSpec, endpoints: Iterable[EndpointSpec], path: str = "cluster") -> list[Problem]:
    problems: list[Problem] = validate_tags(cluster.tags, f"{path}.tags") + _check_public_access(cluster, path)
    endpoints = list(endpoints)
    plan = resolve_addons(cluster.mode, platform)
    net = cluster.network
    if cluster.mode in ("eks", "hyperpod"):
        if net.existing and len(net.private_subnet_ids) < 2:
            problems.append(Problem(f"{path}.network.privateSubnetIds", net.private_subnet_ids, "CONFIG", "an existing VPC needs at least two private subnets in different AZs", "list two or more private subnet IDs, or drop vpcId to create a VPC"))
        if not net.existing and (net.private_subnet_ids or net.public_subnet_ids):
            problems.append(Problem(f"{path}.network.vpcId", None, "CONFIG", "subnet IDs given without the VPC they belong to", "set network.vpcId"))
        sys = cluster.system_nodes
        if not sys.min_size <= sys.desired_size <= sys.max_size:
            problems.append(Problem(f"{path}.systemNodes", sys.model_dump(by_alias=True), "CONFIG", "needs minSize <= desiredSize <= maxSize", "fix the sizes"))
        if instances.is_gpu_instance(sys.instance_type):
            problems.append(Problem(f"{path}.systemNodes.instanceType", sys.instance_type, "G20", "the system node group runs the operator and controllers; a GPU instance there is waste", "use a CPU instance type such as m6i.xlarge"))
        if _GRAVITON.match(sys.instance_type.split(".")[0]):
            problems.append(Problem(f"{path}.systemNodes.instanceType", sys.instance_type, "G20", "the operator runs on amd64 nodes; this looks like a Graviton (arm64) type", "use an x86 type such as m6i.xlarge"))
    for i, group in enumerate(cluster.gpu_node_groups):
        where = f"{path}.gpuNodeGroups[{i}]"
        if cluster.mode != "eks":
            problems.append(Problem(where, group.name, "CONFIG", f"GPU managed node groups are for mode eks, not {cluster.mode}", "remove it, or use instanceGroups for hyperpod"))
        if not instances.is_gpu_instance(group.instance_type) or group.instance_type.startswith("ml."):
            problems.append(Problem(f"{where}.instanceType", group.instance_type, "G11", "not a known EC2 GPU instance type", f"use one of {', '.join(instances.known_sizes(group.instance_type)) or 'g5.xlarge, g6e.xlarge, p5.48xlarge'}"))
        if not group.min_size <= group.desired_size <= group.max_size:
            problems.append(Problem(where, {"minSize": group.min_size, "desiredSize": group.desired_size, "maxSize": group.max_size}, "CONFIG", "needs minSize <= desiredSize <= maxSize", "fix the sizes"))
        if group.capacity_type == "CAPACITY_BLOCK" and not group.capacity_reservation_id:
            problems.append(Problem(f"{where}.capacityReservationId", None, "CONFIG", "a capacity block needs its reservation", "set capacityReservationId: cr-..."))
    for i, group in enumerate(cluster.instance_groups):
        where = f"{path}.instanceGroups[{i}]"
        if cluster.mode != "hyperpod":
            problems.append(Problem(where, group.name, "CONFIG", f"HyperPod instance groups are for mode hyperpod, not {cluster.mode}", "remove it, or use gpuNodeGroups for eks"))
        if not instances.is_gpu_instance(group.instance_type):
            problems.append(Problem(f"{where}.instanceType", group.instance_type, "G11", "not a known GPU instance type", f"use one of {', '.join(instances.known_sizes(group.instance_type)) or 'ml.g5.8xlarge'}"))
    if cluster.mode == "eks" and not cluster.gpu_node_groups:
        problems.append(Problem(f"{path}.gpuNodeGroups", [], "CONFIG", "mode eks without a GPU node group has nowhere to run a model", "add one, e.g. [{name: g5, instanceType: g5.12xlarge}]", severity="warning"))
    if cluster.mode == "hyperpod" and not cluster.instance_groups and not endpoints:
        problems.append(Problem(f"{path}.instanceGroups", [], "CONFIG", "mode hyperpod with no instance group and no endpoint to derive one from has nowhere to run a model", "add one, e.g. [{name: gpu, instanceType: ml.g5.12xlarge, instanceCount: 1}]", severity="warning"))
    role = operator_role_name(platform, cluster.name)
    if plan["hyperpod_operator"] and platform.operator_install == "addon" and not role.startswith(OPERATOR_ROLE_PREFIX):
        problems.append(Problem("platform.operatorRoleName", platform.operator_role_name, "G20", f"the add-on's execution role name must start with {OPERATOR_ROLE_PREFIX}", f"use {OPERATOR_ROLE_PREFIX}-{{cluster}}"))
    if plan["hyperpod_operator"]:
        missing = [a for a in OPERATOR_PREREQUISITES if not plan[a]]
        if missing and cluster.mode != "existing":
            problems.append(Problem("platform", {a: False for a in missing}, "G20", f"the HyperPod operator needs {', '.join(missing)} first", "switch them on (or switch hyperpodOperator off)"))
    placed = _placements(with_default_groups(cluster, endpoints))
    for i, ep in enumerate(endpoints):
        where = f"endpoints[{i}]"
        if ep.public_alb and not plan["load_balancer_controller"] and cluster.mode != "existing":
            problems.append(Problem(f"{where}.publicAlb", True, "G8", "an ALB needs the AWS Load Balancer Controller", "set platform.loadBalancerController: true"))
        if placed is not None and instances.ec2_name(ep.instance_type.lower()) not in placed:
            problems.append(Problem(f"{where}.instanceType", ep.instance_type, "G11", f"no node group of cluster {cluster.name} has this instance type (have: {', '.join(sorted(placed)) or 'none'})", "add a node/instance group of that type or change the endpoint's instanceType"))
    return problems


def with_default_groups(cluster: ClusterSpec, endpoints: Iterable[EndpointSpec]) -> ClusterSpec:
    """Mode hyperpod without instanceGroups: one group per endpoint instance type, sized for the
    endpoints' replicas (their autoscaling maximum when set). Explicit groups are kept as they are."""
    if cluster.mode != "hyperpod" or cluster.instance_groups:
        return cluster
    counts: dict[str, int] = {}
    for ep in endpoints:
        itype = hyperpod_instance_type(ep.instance_type)
        counts[itype] = counts.get(itype, 0) + max(ep.replicas, ep.autoscaling.max_replicas if ep.autoscaling else 0, 1)
    groups = [
        InstanceGroup(name=re.sub(r"[^a-zA-Z0-9]+", "-", itype.removeprefix("ml.")), instance_type=itype, instance_count=n)
        for itype, n in sorted(counts.items())
    ]
    return cluster.model_copy(update={"instance_groups": groups})


def _placements(cluster: ClusterSpec) -> Optional[set[str]]:
    """EC2 spellings of the GPU types the cluster has, or None when unknown (existing clusters)."""
    if cluster.mode == "eks":
        return {instances.ec2_name(g.instance_type.lower()) for g in cluster.gpu_node_groups}
    if cluster.mode == "hyperpod":
        return {instances.ec2_name(g.instance_type.lower()) for g in cluster.instance_groups}
    return None


def gpu_node_labels(group_labels: dict[str, str], instance_type: str) -> dict[str, str]:
    # nvidia.com/gpu.present: the NVIDIA device plugin chart's node affinity selects on it.
    return {NODE_ROLE_LABEL: "gpu", INSTANCE_TYPE_LABEL: instances.ec2_name(instance_type.lower()), "nvidia.com/gpu.present": "true", **group_labels}


def hyperpod_instance_type(instance_type: str) -> str:
    return instances.sagemaker_name(instance_type.strip().lower())


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """A kubeconfig for an EKS cluster that authenticates with `aws eks get-token` (no static token
    in state, nothing read from the ambient ~/.kube/config)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
                    }
                },
            }
        ],
    }


def eks_cluster_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:eks:{region}:{account}:cluster/{name}"


def hyperpod_name(cluster: ClusterSpec) -> str:
    """HyperPod cluster names: [a-zA-Z0-9-], at most 63."""
    raw = cluster.hyperpod_name or f"{cluster.name}-hp"
    return naming.fit(re.sub(r"[^a-zA-Z0-9-]", "-", raw), 63)
