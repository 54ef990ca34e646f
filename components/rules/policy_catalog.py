"""The policies, defined once: name, rule, default enforcement, parameters, anchors and the check.

The CrossGuard pack (`policies/`) wraps each entry in a ResourceValidationPolicy or a
StackValidationPolicy; the offline plan and `stacks check` run the same entries through
`policy_eval.evaluate`. Guardrail policies (G*) filter the rule library's own findings by rule ID,
so every guardrail keeps one implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import capacity, fit, inference_pool, manifests, namespaces, ordering, security, stack_checks
from .catalog import (
    A1,
    B1,
    C1,
    D1,
    D2,
    G1,
    G2,
    G3,
    G4,
    G5,
    G6,
    G7,
    G8,
    G9,
    G10,
    G11,
    G12,
    G13,
    G16,
    G21,
    G22,
    G23,
    O1,
    O2,
    O3,
    O4,
    O5,
    O6,
    O7,
    O8,
    R1,
    R2,
    R3,
    R4,
    R5,
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    S7,
    T1,
    T2,
    T3,
)
from .gateway import checks as gateway_checks
from .problems import Problem
from .resources import Resource

Level = Literal["mandatory", "advisory", "disabled"]


@dataclass(frozen=True)
class Context:
    params: Mapping[str, Any]
    stack: str | None = None  # the Pulumi stack name, when known


ResourceCheck = Callable[[Resource, Context], list[Problem]]
StackCheck = Callable[[list[Resource], Context], list[stack_checks.Finding]]


@dataclass(frozen=True)
class PolicySpec:
    name: str
    rule: str
    description: str
    kind: Literal["resource", "stack"]
    enforcement: Level
    check: ResourceCheck | StackCheck
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # JSON schema properties with defaults
    anchors: tuple[str, ...] = ()

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.params.items() if "default" in v}


def _guardrail(rule: str, severity: str = "error", where: Callable[[Problem], bool] = lambda p: True) -> ResourceCheck:
    """The rule library's findings for one guardrail on one Kubernetes object (`where` picks some of them)."""

    def check(resource: Resource, ctx: Context) -> list[Problem]:
        manifest = resource.manifest
        if manifest is None:
            return []
        return [p for p in manifests.check(manifest) if p.rule == rule and p.severity == severity and where(p)]

    return check


def _variant_name(problem: Problem) -> bool:
    return problem.path.endswith(".VariantName")


def _on_manifest(fn: Callable[[dict[str, Any]], list[Problem]]) -> ResourceCheck:
    return lambda resource, ctx: fn(resource.manifest) if resource.manifest is not None else []


def _stack(fn: Callable[[list[Resource]], list[stack_checks.Finding]]) -> StackCheck:
    return lambda resources, ctx: fn(resources)


def _pool_stack(rule: str) -> StackCheck:
    """One rule's findings of the pool checks over the whole stack (components/rules/inference_pool.py)."""
    return lambda resources, ctx: [f for f in inference_pool.check_resources(resources) if f[1].rule == rule]


_STRINGS = {"type": "array", "items": {"type": "string"}}
_DEV_STACKS_PARAM = {
    "devStacks": {
        **_STRINGS,
        "default": list(security.DEFAULT_DEV_STACKS),
        "description": "stack name patterns (fnmatch) that count as dev stacks",
    }
}


def _public_alb_tls(
    severity: str, fn: Callable[..., list[stack_checks.Finding]] = stack_checks.check_public_alb_tls
) -> StackCheck:
    """S2 (or T3) findings of one severity: the errors are mandatory, a dev stack's opt-out a warning."""

    def check(resources: list[Resource], ctx: Context) -> list[stack_checks.Finding]:
        found = fn(resources, ctx.stack, ctx.params.get("devStacks", security.DEFAULT_DEV_STACKS))
        return [(r, p) for r, p in found if p.severity == severity]

    return check


def _manifest_findings(check: Callable[[dict[str, Any]], list[Problem]], severity: str) -> ResourceCheck:
    """One severity of a manifest check: G23 (cannot start: error; fewer full-length sequences than --max-num-seqs:
    warning) and C1 (too few replicas for a measured capacity: error; no matching file: warning)."""
    return lambda resource, ctx: (
        [p for p in check(resource.manifest) if p.severity == severity] if resource.manifest is not None else []
    )


POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec(
        "g01-name-length",
        G1,
        "Kubernetes names, and the names the HyperPod operator derives from them (prefetch-{name}-inf), fit 63 characters",
        "resource",
        "mandatory",
        _guardrail(G1),
        anchors=("operator init container prefetch-{name}-inf over 63 characters",),
    ),
    PolicySpec(
        "g02-name-format",
        G2,
        "Names (metadata.name, spec.endpointName) are lowercase RFC 1123; label and annotation values are strings",
        "resource",
        "mandatory",
        _guardrail(G2),
        anchors=("capitals in spec.endpointName refused by the API server",),
    ),
    PolicySpec(
        "g03-one-engine-port",
        G3,
        "One engine port everywhere: --port, modelInvocationPort, probes, metrics",
        "resource",
        "mandatory",
        _guardrail(G3),
        anchors=("SGLang DLC on 8080, probes on 8000",),
    ),
    PolicySpec(
        "g04-probes-survive-model-load",
        G4,
        "Model containers have readiness probes with timeoutSeconds >= 5, a startup budget for model load, and a rollout that cannot deadlock on one GPU",
        "resource",
        "mandatory",
        _guardrail(G4),
        anchors=("1-second readiness timeout; a probe patch deadlocked a one-GPU rollout", "Kyverno require-probes"),
    ),
    PolicySpec(
        "g05-served-model-name",
        G5,
        "The engine runs a full command and serves the model under the last segment of its id",
        "resource",
        "mandatory",
        _guardrail(G5),
        anchors=("router answered model not found without --served-model-name",),
    ),
    PolicySpec(
        "g06-sglang-metrics",
        G6,
        "SGLang behind the router runs with --enable-metrics",
        "resource",
        "mandatory",
        _guardrail(G6),
        anchors=("router dropped SGLang whose /metrics answered 404",),
    ),
    PolicySpec(
        "g07-kv-cache",
        G7,
        "With L2 KV cache no prefetch and no --enable-prefix-caching",
        "resource",
        "mandatory",
        _guardrail(G7),
        anchors=("lmcache-config volume mount failed with L2 and prefetch",),
    ),
    PolicySpec(
        "g07-l2-tieredstorage",
        G7,
        "L2 cache on the tieredstorage backend is known broken (warning)",
        "resource",
        "advisory",
        _guardrail(G7, "warning"),
        anchors=("tieredstorage L2 failed to initialise shared memory",),
    ),
    PolicySpec(
        "g08-public-alb-needs-routing",
        G8,
        "A public ALB only in front of an endpoint with intelligent routing",
        "stack",
        "mandatory",
        _stack(stack_checks.check_public_alb_routing),
        anchors=("public ALB without routing stayed private",),
    ),
    PolicySpec(
        "g09-api-key-reaches-router",
        G9,
        "With an API key and intelligent routing, the router gets the key: plain-value env and the key Secret in both namespaces",
        "stack",
        "mandatory",
        _stack(stack_checks.check_api_key_reaches_router),
        anchors=("router answered 401: key Secret in one namespace, secretKeyRef not copied",),
    ),
    PolicySpec(
        "g10-engine-parameters",
        G10,
        "Engine flags match the engine; --max-model-len (or --context-length) is always set",
        "resource",
        "mandatory",
        _guardrail(G10),
        anchors=("engine parameters never reached the deployment; no context limit ran out of memory",),
    ),
    PolicySpec(
        "g11-gpu-scheduling",
        G11,
        "GPUs by nvidia.com/gpu limit = tensor-parallel size, no CUDA_VISIBLE_DEVICES, pinned to the instance type, GPU taint tolerated",
        "resource",
        "mandatory",
        _guardrail(G11),
        anchors=("a deployment meant for g5 ran on a g4dn T4", "Kyverno require-pod-requests-limits"),
    ),
    PolicySpec(
        "g12-low-compute-capability-env",
        G12,
        "T4-class GPUs (compute capability < 8.0) get the documented engine env workarounds",
        "resource",
        "mandatory",
        _guardrail(G12),
        anchors=("vLLM crash-looped on a T4 until VLLM_USE_FLASHINFER_SAMPLER=0",),
    ),
    PolicySpec(
        "g13-ephemeral-storage-and-shm",
        G13,
        "Model pods request ephemeral storage and mount a memory-backed /dev/shm",
        "resource",
        "mandatory",
        _guardrail(G13),
        anchors=("model pods evicted for disk while caching weights", "Kyverno require-pod-requests-limits"),
    ),
    PolicySpec(
        "g21-routing-and-kv-cache-need-vllm",
        G21,
        "Intelligent routing and KV-cache offload only on a vLLM worker",
        "resource",
        "mandatory",
        _guardrail(G21),
        anchors=(
            "KVCacheSpec can only be configured for vLLM model server",
            "AWS docs: sagemaker-hyperpod-model-deployment-caching-routing (vLLM-based containers only)",
        ),
    ),
    PolicySpec(
        "g22-kv-cache-needs-lmcache-image",
        G22,
        "KV-cache offload only on an image with LMCache",
        "resource",
        "mandatory",
        _guardrail(G22),
        anchors=("sagemaker-hyperpod-cli samples v1_llama31_8b_kv_cache_l1_l2.yaml (lmcache/vllm-openai)",),
    ),
    PolicySpec(
        "d1-dpd-vllm-role-gpus-hash-seed",
        D1,
        "Disaggregated prefill and decode on a vLLM worker with GPUs per role and PYTHONHASHSEED=0",
        "resource",
        "mandatory",
        _guardrail(D1),
        anchors=(
            "AWS docs: sagemaker-hyperpod-model-deployment-dpd (images, PD environment variables)",
            "CRD pdSpec.*.resources: Must include GPU resource requests",
        ),
    ),
    PolicySpec(
        "d2-dpd-efa-instance-types",
        D2,
        "Disaggregated prefill and decode only on the instance types AWS lists (EFA with GPU-Direct RDMA)",
        "resource",
        "mandatory",
        _guardrail(D2),
        anchors=("AWS docs: sagemaker-hyperpod-model-deployment-dpd (Other instance types are not supported for DPD)",),
    ),
    PolicySpec(
        "g23-model-fits-its-gpus",
        G23,
        "The engine's GPUs hold the model's weights plus the KV cache of one --max-model-len sequence within the memory fraction it is given",
        "resource",
        "mandatory",
        _manifest_findings(fit.check_manifest, "error"),
        anchors=("70B on one 24 GB A10G with a 131072-token context failed only after bring-up",),
    ),
    PolicySpec(
        "g23-max-num-seqs-at-full-length",
        G23,
        "Fewer full-length sequences fit the KV cache than --max-num-seqs (warning)",
        "resource",
        "advisory",
        _manifest_findings(fit.check_manifest, "warning"),
    ),
    PolicySpec(
        "b1-backend-manifests",
        B1,
        "OME/KServe objects and engine containers deploy as written: named containers, $(VAR) not $VAR in args, the runtime owns the runner image, supported storage URIs, a BenchmarkJob output location, no headless Service in front of KServe",
        "resource",
        "mandatory",
        _guardrail(B1),
        anchors=(
            "OME: unnamed runner, literal $MODEL_PATH, BenchmarkJob without outputLocation or with local://, runner image override",
            "KServe: headless predictor Service, no hf:// storage",
        ),
    ),
    PolicySpec(
        "a1-autoscaling-trigger-gets-datapoints",
        A1,
        "HyperPod autoscaling triggers read a metric that exists for the endpoint: AWS/SageMaker real-time metrics with the registered EndpointName and a VariantName, Prometheus queries on the endpoint's own engine",
        "resource",
        "mandatory",
        _guardrail(A1),
        anchors=("AWS docs: sagemaker-hyperpod-model-deployment-autoscaling", "AWS docs: async-inference-monitor"),
    ),
    PolicySpec(
        "a1-autoscaling-variant-name",
        A1,
        "A CloudWatch trigger's VariantName other than upstream's AllTraffic (warning)",
        "resource",
        "advisory",
        _guardrail(A1, "warning", _variant_name),
        anchors=("aws-samples/sagemaker-genai-hosting-examples deploy_jumpstart_inference_operator.yaml",),
    ),
    PolicySpec(
        "a1-autoscaling-sees-alb-traffic",
        A1,
        "A trigger that does not see the ALB traffic the endpoint is served by: AWS/SageMaker metrics (InvokeEndpoint only), or a Prometheus trigger with no server (warning)",
        "resource",
        "advisory",
        _guardrail(A1, "warning", lambda p: not _variant_name(p)),
        anchors=("AWS docs: sagemaker-hyperpod-model-deployment-autoscaling", "CRD prometheusTrigger.serverAddress"),
    ),
    PolicySpec(
        "c1-capacity-contract",
        C1,
        "An endpoint's replica maximum carries its declared peak load at the SLO: maxReplicas × measured capacity (lower bound) ≥ peak × (1 + headroom)",
        "resource",
        "mandatory",
        _manifest_findings(capacity.check_manifest, "error"),
        anchors=("a measured capacity, checked before deployment",),
    ),
    PolicySpec(
        "c1-capacity-unmeasured",
        C1,
        "An endpoint declares a peak load without a matching capacity file (warning)",
        "resource",
        "advisory",
        _manifest_findings(capacity.check_manifest, "warning"),
    ),
    PolicySpec(
        "g16-endpoint-url-from-status",
        G16,
        "Endpoint URLs in the stack outputs come from the Ingress's final status",
        "stack",
        "mandatory",
        _stack(stack_checks.check_endpoint_urls),
        anchors=("stale internal ALB URL after the public ALB replaced it",),
    ),
    PolicySpec(
        "s1-gpu-workload-limits-probes",
        S1,
        "GPU containers of every workload kind declare a GPU limit and probes",
        "resource",
        "mandatory",
        _on_manifest(security.check_gpu_workload),
        anchors=("Kyverno require-requests-limits", "Kyverno require-probes"),
    ),
    PolicySpec(
        "s2-public-alb-tls",
        S2,
        "No internet-facing ALB without TLS (ACM certificate), keyed or not",
        "stack",
        "mandatory",
        _public_alb_tls("error"),
        params=_DEV_STACKS_PARAM,
        anchors=("AWSGuard alb-http-to-https-redirection", "CIS EKS 5.4.5"),
    ),
    PolicySpec(
        "s2-dev-plaintext-api-key",
        S2,
        "A dev stack's explicit opt-out (allowPlaintextApiKey): its API key crosses the internet in clear text (warning)",
        "stack",
        "advisory",
        _public_alb_tls("warning"),
        params=_DEV_STACKS_PARAM,
        anchors=("AWSGuard alb-http-to-https-redirection",),
    ),
    PolicySpec(
        "s3-no-plaintext-secrets",
        S3,
        "No secret value in plain text in a ConfigMap or an env var",
        "resource",
        "mandatory",
        _on_manifest(security.check_plaintext_secrets),
        anchors=("CIS EKS 4.4.1",),
    ),
    PolicySpec(
        "s3-router-key-workaround",
        S3,
        "The documented exception: VLLM_API_KEY as a plain value for the router (the operator copies no secretKeyRef)",
        "resource",
        "advisory",
        _on_manifest(security.check_router_key_workaround),
        anchors=("the operator copies only plain env values to the router", "CIS EKS 4.4.1"),
    ),
    PolicySpec(
        "s4-eks-endpoint-not-public",
        S4,
        "The EKS API endpoint is not open to 0.0.0.0/0 outside dev stacks",
        "resource",
        "mandatory",
        lambda r, ctx: security.check_eks_endpoint(
            r, ctx.stack, ctx.params.get("devStacks", security.DEFAULT_DEV_STACKS)
        ),
        params=_DEV_STACKS_PARAM,
        anchors=("CIS EKS 5.4.2",),
    ),
    PolicySpec(
        "s5-gpu-nodes-nvidia-ami",
        S5,
        "Node groups of NVIDIA GPU instance types use an NVIDIA AMI type",
        "resource",
        "mandatory",
        lambda r, ctx: security.check_gpu_node_group(r),
        anchors=("EKS user guide: accelerated AMIs",),
    ),
    PolicySpec(
        "s6-required-tags",
        S6,
        "Taggable AWS resources carry the required tags",
        "resource",
        "advisory",
        lambda r, ctx: security.check_required_tags(r, ctx.params.get("requiredTags", security.DEFAULT_REQUIRED_TAGS)),
        params={
            "requiredTags": {
                **_STRINGS,
                "default": list(security.DEFAULT_REQUIRED_TAGS),
                "description": "tag keys every taggable AWS resource must have",
            }
        },
        anchors=("AWS Config required-tags",),
    ),
    PolicySpec(
        "s7-no-shared-namespace-owned",
        S7,
        "The stack declares no Namespace the cluster shares (default, kube-system, kube-public, kube-node-lease, the HyperPod operator's)",
        "resource",
        "mandatory",
        _on_manifest(namespaces.check_manifest),
        anchors=("Kubernetes: deleting a Namespace deletes everything in it",),
    ),
    PolicySpec(
        "o1-after-the-load-balancer-controller",
        O1,
        "Services, Ingresses and charts that create Services wait for the load balancer controller (its webhook fails closed; its finalizer must outlive them)",
        "stack",
        "mandatory",
        _stack(ordering.check_webhook_order),
        anchors=("aws-load-balancer-controller chart values: serviceMutatorWebhookConfig.failurePolicy",),
    ),
    PolicySpec(
        "o2-after-pod-identity",
        O2,
        "Charts whose pods use a Pod Identity association wait for it",
        "stack",
        "mandatory",
        _stack(ordering.check_identity_order),
        anchors=("EKS Pod Identity: credentials are injected at pod creation",),
    ),
    PolicySpec(
        "o3-after-the-crd-installer",
        O3,
        "Custom resources wait for the operator that installs their CRD (and, for OME and KServe, the charts whose webhooks admit them)",
        "stack",
        "mandatory",
        _stack(ordering.check_crd_order),
        anchors=("pulumi-kubernetes #3176, #3247",),
    ),
    PolicySpec(
        "o4-gpu-after-nodes-and-device-plugin",
        O4,
        "GPU workloads wait for the GPU nodes and the NVIDIA device plugin",
        "stack",
        "mandatory",
        _stack(ordering.check_gpu_order),
    ),
    PolicySpec(
        "o5-hyperpod-cluster-after-its-chart",
        O5,
        "The HyperPod cluster waits for the HyperPod Helm chart",
        "stack",
        "mandatory",
        _stack(ordering.check_hyperpod_chart_order),
        anchors=("AWS docs: sagemaker-hyperpod-eks-prerequisites (chart before the cluster)",),
    ),
    PolicySpec(
        "o7-device-plugin-before-hyperpod-nodes",
        O7,
        "A HyperPod cluster with NVIDIA GPU groups waits for an NVIDIA device plugin (the HyperPod chart's)",
        "stack",
        "mandatory",
        _stack(ordering.check_device_plugin_order),
        anchors=(
            "aws/sagemaker-hyperpod-cli helm_chart/readme.md: plugin tolerations and affinity",
            "AWS docs: sagemaker-hyperpod-eks-prerequisites (deep-health-check taint)",
        ),
    ),
    PolicySpec(
        "o8-backend-operator-installed",
        O8,
        "A stack that creates its EKS cluster and declares OME or KServe objects installs that operator's charts",
        "stack",
        "mandatory",
        _stack(ordering.check_backend_operators),
        anchors=(
            "sgl-project/ome@v0.1.5 README.md: ome-crd, ome-resources",
            "kserve/kserve@v0.20.0 charts/kserve-crd, charts/kserve-resources",
        ),
    ),
    PolicySpec(
        "t1-tenant-keys-token-limited",
        T1,
        "Every tenant key of the gateway is selected by a token rate-limit rule of its tier",
        "stack",
        "mandatory",
        _stack(gateway_checks.check_tenant_limits),
        anchors=("a tier without a limit is unlimited",),
    ),
    PolicySpec(
        "t2-tenant-routes-declared",
        T2,
        "Gateway policies name declared tenant keys, declared routes and only models a declared route serves",
        "stack",
        "mandatory",
        _stack(gateway_checks.check_tenant_routes),
    ),
    PolicySpec(
        "t2-tenant-keys-on-the-gateway",
        T2,
        "Tenant keys are checked on the Gateway, not on a route, and a client's own client-ID header is removed before authentication",
        "stack",
        "mandatory",
        _stack(gateway_checks.check_tenant_auth),
        anchors=("envoyproxy/gateway v1.8.1 internal/xds/translator/httpfilters.go: api_key_auth before ext_proc",),
    ),
    PolicySpec(
        "t3-public-gateway-tls",
        T3,
        "The gateway's internet-facing ALB has a certificate: it carries tenant keys",
        "stack",
        "mandatory",
        _public_alb_tls("error", gateway_checks.check_public_gateway_tls),
        params=_DEV_STACKS_PARAM,
        anchors=("AWSGuard alb-http-to-https-redirection",),
    ),
    PolicySpec(
        "t3-dev-plaintext-gateway-keys",
        T3,
        "A dev stack's explicit opt-out (allowPlaintextApiKey): tenant keys cross the internet in clear text (warning)",
        "stack",
        "advisory",
        _public_alb_tls("warning", gateway_checks.check_public_gateway_tls),
        params=_DEV_STACKS_PARAM,
        anchors=("AWSGuard alb-http-to-https-redirection",),
    ),
    PolicySpec(
        "r1-inference-pool-selects-its-engine",
        R1,
        "Each InferencePool selects exactly one engine Deployment's pods, by that Deployment's selector, and its picker watches a declared pool",
        "stack",
        "mandatory",
        _pool_stack(R1),
        anchors=("kubernetes-sigs/gateway-api-inference-extension v1.0.2 config/charts/inferencepool",),
    ),
    PolicySpec(
        "r2-inference-pool-targets-the-engine-port",
        R2,
        "Each InferencePool targets the port its engine listens on",
        "stack",
        "mandatory",
        _pool_stack(R2),
    ),
    PolicySpec(
        "r3-one-inference-pool-per-model",
        R3,
        "One InferencePool per model; a route rule names at most one pool and nothing beside it",
        "stack",
        "mandatory",
        _pool_stack(R3),
        anchors=("envoyproxy/ai-gateway v1.1.0 api: one InferencePool per rule",),
    ),
    PolicySpec(
        "r4-inference-picker-pinned-image",
        R4,
        "Every endpoint picker runs epp:v1.0.2, the extension release AI Gateway v1.1.0 is built against",
        "stack",
        "mandatory",
        _pool_stack(R4),
        anchors=("envoyproxy/ai-gateway v1.1.0 go.mod",),
    ),
    PolicySpec(
        "r2-inference-pool-one-target-port",
        R2,
        "An InferencePool targets exactly one port",
        "resource",
        "mandatory",
        _guardrail(R2),
    ),
    PolicySpec(
        "r4-inference-pool-pinned-api",
        R4,
        "An InferencePool is inference.networking.k8s.io/v1 with the picker on its gRPC port (extension v1.0.2, AI Gateway v1.1.0's go.mod)",
        "resource",
        "mandatory",
        _guardrail(R4),
        anchors=("envoyproxy/ai-gateway v1.1.0 go.mod",),
    ),
    PolicySpec(
        "r5-no-experimental-inference-objects",
        R5,
        "Nothing in the extension's experimental group inference.networking.x-k8s.io (InferenceObjective, InferenceModel)",
        "resource",
        "mandatory",
        _guardrail(R5),
    ),
    PolicySpec(
        "o6-finalizers-before-their-controller",
        O6,
        "On destroy, what holds the load balancer controller's finalizer (the operator's ALB Ingress included, through the ingress drain guard) goes before the controller",
        "stack",
        "mandatory",
        _stack(ordering.check_finalizer_order),
        anchors=("aws-load-balancer-controller #2894: an Ingress is deleted only after its AWS resources",),
    ),
)

BY_NAME: dict[str, PolicySpec] = {p.name: p for p in POLICIES}
assert len(BY_NAME) == len(POLICIES), "policy names must be unique"
