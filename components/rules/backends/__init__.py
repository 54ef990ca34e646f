"""Endpoint backends: which one runs an endpoint, and what each needs (up-front validation).

`hyperpod` renders the operator's InferenceEndpointConfig (backends.hyperpod); `kubernetes` a plain
Deployment + Service (backends.kubernetes); `ome` an OME InferenceService (backends.ome); `kserve`
a KServe InferenceService (backends.kserve). The default follows the cluster: the HyperPod operator
where it runs, plain Kubernetes elsewhere.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from .. import addons, hyperpod_fields
from ..catalog import G8, O8
from ..problems import Change, Problem
from ..paths import STACK_FILE, ConfigPaths
from ..spec import DEFAULT_LOAD_BALANCER, ClusterSpec, EndpointSpec, FsxSource, HuggingFaceSource, PlatformSpec, S3Source

HYPERPOD_ONLY = "hyperpod"


def has_hyperpod_operator(cluster: ClusterSpec, platform_spec: PlatformSpec) -> bool:
    """HyperPod clusters run the operator; an adopted cluster does when it says it is a HyperPod
    cluster (hyperpodClusterArn) or switches the operator on. Plain EKS has no HyperPod nodes."""
    if cluster.mode == "hyperpod":
        return True
    if cluster.mode == "existing":
        return cluster.hyperpod_cluster_arn is not None or bool(platform_spec.hyperpod_operator)
    return False


def default_backend(cluster: ClusterSpec, platform_spec: PlatformSpec) -> str:
    return "hyperpod" if has_hyperpod_operator(cluster, platform_spec) else "kubernetes"


def backend_of(spec: EndpointSpec) -> str:
    """The resolved backend (config parsing sets it); an unresolved spec is a HyperPod endpoint."""
    return spec.backend or "hyperpod"


def resolve(endpoints: Iterable[EndpointSpec], cluster: ClusterSpec, platform_spec: PlatformSpec) -> list[EndpointSpec]:
    """Each endpoint with its backend (the cluster's default when unset) and that backend's default load
    balancer when `loadBalancer` is unset (spec.DEFAULT_LOAD_BALANCER: ome `none`, the others `alb`)."""
    default = default_backend(cluster, platform_spec)
    out = []
    for ep in endpoints:
        backend = ep.backend or default
        update: dict = {} if ep.backend else {"backend": backend}
        if ep.load_balancer is None:
            update["load_balancer"] = DEFAULT_LOAD_BALANCER[backend]
        out.append(ep.model_copy(update=update) if update else ep)
    return out


def default_changes(entries: Iterable[Any], resolved: Iterable[EndpointSpec], path: str = "endpoints") -> list[Change]:
    """Load balancers the backend chose for config `entries` (raw mappings) without `loadBalancer`, where the
    default is not the former `alb` for every backend: for the plan's change log."""
    return [
        Change(f"{path}[{i}].loadBalancer", None, ep.load_balancer, "BACKEND", f"unset: the {ep.backend} backend's default (OME creates the engine Service itself)")
        for i, (raw, ep) in enumerate(zip(entries, resolved))
        if isinstance(raw, dict) and "loadBalancer" not in raw and "load_balancer" not in raw and ep.backend != "hyperpod" and ep.load_balancer != "alb"
    ]


def validate_backends(endpoints: Iterable[EndpointSpec], cluster: ClusterSpec, platform_spec: PlatformSpec, paths: ConfigPaths = STACK_FILE) -> list[Problem]:
    """What each endpoint's backend needs from the cluster and the platform."""
    problems: list[Problem] = []
    plan = addons.resolve_addons(cluster.mode, platform_spec)
    adopted = cluster.mode == "existing"  # add-ons of an adopted cluster are the user's: not checked
    for i, ep in enumerate(endpoints):
        where = paths.endpoint(i)
        backend = backend_of(ep)
        if backend == "hyperpod" and not has_hyperpod_operator(cluster, platform_spec):
            fix = "set backend: kubernetes (or ome/kserve)"
            fix += f", or set {paths.cluster}.hyperpodClusterArn if this cluster is a HyperPod cluster" if adopted else ", or deploy on a mode hyperpod cluster"
            problems.append(Problem(f"{where}.backend", backend, "BACKEND", f"the HyperPod inference operator does not run on this {cluster.mode} cluster, so nothing would serve an InferenceEndpointConfig", fix))
        if backend == "hyperpod":
            continue
        problems += _not_hyperpod(ep, where, backend)
        if isinstance(ep.model_source, FsxSource):
            problems.append(Problem(f"{where}.modelSource.type", "fsx", "BACKEND", f"the {backend} backend reads models from S3 or Hugging Face; FSx is mounted by the HyperPod operator only", "use modelSource type s3 or huggingface, or backend hyperpod"))
        if backend == "kubernetes" and isinstance(ep.model_source, S3Source) and ep.kubernetes.weights == "s3-csi" and not plan["s3_csi"] and not adopted:
            problems.append(Problem(f"{where}.kubernetes.weights", "s3-csi", "BACKEND", "the Mountpoint S3 CSI driver add-on is off, so the weights volume never mounts", f"set {paths.platform}.s3Csi: true, or kubernetes.weights: init-container"))
        if backend == "kubernetes" and ep.kubernetes.weights == "init-container" and isinstance(ep.model_source, S3Source) and not ep.kubernetes.service_account_name:
            problems.append(Problem(f"{where}.kubernetes.serviceAccountName", None, "BACKEND", "the init container needs AWS credentials to read s3://" + ep.model_source.bucket, "name a service account with S3 read access (Pod Identity or IRSA), or use kubernetes.weights: s3-csi", severity="warning"))
        if backend in ("kubernetes", "kserve") and ep.load_balancer != "none" and not plan["load_balancer_controller"] and not adopted:
            problems.append(Problem(f"{where}.loadBalancer", ep.load_balancer, "BACKEND", f"an {ep.load_balancer.upper()} needs the AWS Load Balancer Controller", f"set {paths.platform}.loadBalancerController: true, or loadBalancer: none"))
        if backend in ("kubernetes", "kserve") and not plan["nvidia_device_plugin"] and not adopted:
            problems.append(Problem(f"{where}.backend", backend, "BACKEND", "without the NVIDIA device plugin no node advertises nvidia.com/gpu and the pod stays Pending", f"set {paths.platform}.nvidiaDevicePlugin: true"))
        if backend == "ome" and not plan["keda"] and not adopted:
            # Seen with OME: controller fails with "no kind is registered for ScaledObject" without KEDA.
            problems.append(Problem(f"{where}.backend", "ome", "BACKEND", "OME needs KEDA (its controller fails on ScaledObject without it)", f"set {paths.platform}.keda: true"))
        if backend == "ome" and ep.load_balancer != "none":
            problems.append(Problem(f"{where}.loadBalancer", ep.load_balancer, "BACKEND", "OME creates the engine Service itself; the stack declares no load balancer for it", "set loadBalancer: none and use the InferenceService's status.url"))
        if backend == "ome" and ep.ome.benchmark is not None and ep.api_key:
            # The BenchmarkJob has no API key field (an OME benchmark of a keyed endpoint failed); every request would get 401.
            problems.append(Problem(f"{where}.ome.benchmark", ep.ome.benchmark.model_dump(by_alias=True), "BACKEND", "an OME BenchmarkJob cannot send an API key, so every request to a keyed endpoint fails with 401", "set apiKey: false on this endpoint, or drop ome.benchmark"))
        if backend == "kserve" and not plan["cert_manager"] and not adopted:
            problems.append(Problem(f"{where}.backend", "kserve", "BACKEND", "KServe's webhooks need cert-manager", f"set {paths.platform}.certManager: true"))
        if backend == "kserve" and isinstance(ep.model_source, HuggingFaceSource) and ep.model_source.token_secret is None and ep.model.startswith("meta-llama/"):
            problems.append(Problem(f"{where}.modelSource.tokenSecret", None, "BACKEND", "a gated Hugging Face model downloads only with a token", "set modelSource.tokenSecret {name, key}", severity="warning"))
    return problems


def _not_hyperpod(ep: EndpointSpec, where: str, backend: str) -> list[Problem]:
    """Features that exist only in the HyperPod operator: rejected, never silently dropped."""
    problems = []
    fix = "remove it, or use backend: hyperpod"
    if ep.intelligent_routing:
        problems.append(Problem(f"{where}.intelligentRouting", True, "BACKEND", f"intelligent routing is the HyperPod operator's router; the {backend} backend has none", fix))
    if ep.kv_cache is not None and ep.kv_cache.enabled:
        problems.append(Problem(f"{where}.kvCache", ep.kv_cache.model_dump(by_alias=True), "BACKEND", f"KV-cache offload (kvCacheSpec) is managed by the HyperPod operator, not the {backend} backend", fix))
    if ep.prefetch:
        problems.append(Problem(f"{where}.prefetch", True, "BACKEND", "model prefetch is a HyperPod operator feature", fix))
    if ep.tls_certificate_s3_uri:
        problems.append(Problem(f"{where}.tlsCertificateS3Uri", ep.tls_certificate_s3_uri, "BACKEND", "the TLS certificate output is a HyperPod operator feature", fix))
    if ep.public_alb and (backend == "ome" or ep.load_balancer == "none"):
        problems.append(Problem(f"{where}.publicAlb", True, G8, f"publicAlb makes the endpoint's load balancer internet-facing; loadBalancer is {ep.load_balancer!r}", "set loadBalancer: alb or nlb (kubernetes/kserve), or publicAlb: false"))
    problems += hyperpod_fields.refused_elsewhere(ep, where, backend)
    scaling = ep.autoscaling
    if scaling is not None and (scaling.prometheus or scaling.cloudwatch):
        problems.append(Problem(f"{where}.autoscaling", scaling.model_dump(by_alias=True, exclude_none=True), "BACKEND", "prometheus/cloudwatch triggers are the HyperPod operator's KEDA triggers", "remove them (kubernetes: autoscaling.podsMetric drives an HPA; ome/kserve: min/maxReplicas)"))
    if scaling is not None and scaling.pods_metric and backend != "kubernetes":
        problems.append(Problem(f"{where}.autoscaling.podsMetric", scaling.pods_metric.model_dump(by_alias=True), "BACKEND", f"podsMetric drives the kubernetes backend's HPA; {backend} scales by min/maxReplicas", "remove it"))
    return problems


_OPERATOR_NAMES = {"kserve": "KServe", "ome": "OME"}


def check_operators(
    endpoints: Iterable[EndpointSpec],
    mode: Optional[str],
    platform_spec: Optional[PlatformSpec],
    platform_backends: Iterable[str],
    *,
    path: str = "endpoints",
    platform_path: str = "platform",
    platform_stack: Optional[str] = None,
) -> list[Problem]:
    """O8: the operator of each ome or kserve endpoint is one the platform that runs the endpoint installs. `mode`,
    `platform_spec` and `platform_backends` (its own endpoints' backends, which an `auto` operator follows) are
    this stack's, or those of the platform stack (`platform_stack`, its keys at `platform_path`); None when the
    platform stack's file is not at hand: then a warning names the key it must set. An adopted cluster's
    operators are the user's: not judged."""
    if mode == "existing":
        return []
    plan = addons.resolve_addons(mode, platform_spec, platform_backends) if mode is not None and platform_spec is not None else None
    problems: list[Problem] = []
    for i, ep in enumerate(endpoints):
        backend = backend_of(ep)
        addon = next((a for a, b in addons.OPERATOR_BACKENDS.items() if b == backend), None)
        if addon is None:
            continue
        key = f"{platform_path}.{addons.config_key(addon)}"
        name = _OPERATOR_NAMES[backend]
        where = f"{path}[{i}].backend"
        if plan is None:
            why = f"an endpoints-only stack installs no operator, and the file of platform stack {platform_stack!r} is not in this project to tell whether it installs {name}"
            problems.append(Problem(where, backend, O8, why, f"make sure platform stack {platform_stack!r} sets platform.{addons.config_key(addon)}: true (its `auto` sees only its own endpoints) and is up", severity="warning"))
        elif not plan[addon]:
            value = getattr(platform_spec, addon)
            state = f"{key} is {str(value).lower()}" if value is not None else f"{key} is unset (auto) and none of that stack's own endpoints uses {backend}"
            if platform_stack is None:
                problems.append(Problem(where, backend, O8, f"the {name} operator is switched off ({key}: false), so nothing installs its CRD and the first `pulumi up` fails on the endpoint's objects", f"set {key}: true or auto (the platform then installs {name} from its upstream charts)"))
            else:
                problems.append(Problem(where, backend, O8, f"platform stack {platform_stack!r} does not install the {name} operator ({state}); an endpoints-only stack cannot install it", f"set {key}: true, `pulumi up` that stack, then this one"))
        elif backend == "ome" and not plan["cert_manager"]:
            # The chart's webhook Certificate and Issuer (sgl-project/ome@v0.1.5 charts/ome-resources/templates/
            # ome-controller/certificate.yaml). KServe's need is validate_backends', KEDA's for OME too.
            problems.append(Problem(where, backend, O8, "the OME chart's webhook certificate is issued by cert-manager, which is switched off", f"set {platform_path}.certManager: true"))
    return problems
