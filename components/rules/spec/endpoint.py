"""One model endpoint and its backend options."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..bounds import ONE_LINE, DnsSubdomain, Env, ImageReference, Int32, Line
from .base import _Model
from .engine_args import EngineArgs, KvCache
from .hyperpod_options import MAX_INSTANCE_TYPES, InstanceTypes, PdSpec, RequestLimits, derive_instance_type
from .model_source import ModelSource
from .scaling import Autoscaling, Load, Resources, Slo

LoadBalancer = Literal["alb", "nlb", "none"]
# A backend's name: one of the registered backends (components/rules/backends/__init__.py:BACKENDS, the one list),
# which the config check reports otherwise (`backends.unknown_backends`); the spec cannot import the registry, whose
# modules import the spec. The default `loadBalancer` is the backend's too (`backends.resolve`).
BackendName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=63)]


class KubernetesBackend(_Model):
    """Options of the `kubernetes` backend (a plain Deployment and Service); `serviceAccountName` applies to kserve
    too. Ignored by the other backends.
    """

    weights: Literal["s3-csi", "init-container"] = "s3-csi"
    """How S3 model files reach the pod (kubernetes backend with an S3 source): `s3-csi` mounts the bucket
    read-only through the Mountpoint S3 CSI driver (needs `platform.s3Csi` on a new cluster); `init-container`
    copies them with `aws s3 sync` into an emptyDir before the engine starts. Example: `init-container`
    """
    service_account_name: DnsSubdomain | None = None
    """Service account of the engine pod (kubernetes and kserve backends). With `weights: init-container` it needs
    S3 read access to the model bucket (Pod Identity or IRSA); otherwise a warning is printed. Unset: the
    namespace's default service account. Example: `model-reader`
    """
    routing: Literal["service", "inferencePool"] = "service"
    """How the tenant gateway spreads requests over the replicas: `service` sends them to the endpoint's Service
    (round robin); `inferencePool` declares an InferencePool (`inference.networking.k8s.io/v1`, Gateway API
    Inference Extension v1.0.2) and its endpoint picker, which picks a replica per request by queue length, KV-cache
    use and prefix-cache affinity (rules R1-R5). It needs `gateway.enabled` (the pool is reached through the
    gateway's route; an ALB cannot target it). Example: `inferencePool`
    """
    init_image: ImageReference = "public.ecr.aws/aws-cli/aws-cli:2.27.50"
    """Image of the init container that runs `aws s3 sync` (used only with `weights: init-container`). Example:
    `public.ecr.aws/aws-cli/aws-cli:2.27.50`
    """


class HyperPodBackend(_Model):
    """Options of the `hyperpod` backend (the HyperPod operator's InferenceEndpointConfig). Every other backend
    refuses them (rule BACKEND). Read from the endpoint's top level too for one release (`intelligentRouting`,
    `routingStrategy`, `kvCache`, `prefetch`, `sagemakerEndpoint`, `tlsCertificateS3Uri`), with a line saying where
    each moved.
    """

    intelligent_routing: bool = False
    """Put the HyperPod operator's router in front of the replicas (hyperpod backend with engine vllm only, rule
    G21). The operator cannot change this once set: switching it needs a new endpoint (rule G19). Example: `true`
    """

    routing_strategy: Literal["prefixaware", "kvaware", "session", "roundrobin"] = "prefixaware"
    """How the operator's router picks a replica (used only with `intelligentRouting`). `kvaware` needs
    `invocationEndpoint: v1/completions`. Example: `kvaware`
    """

    kv_cache: KvCache | None = None
    """KV-cache offload (hyperpod backend with engine vllm only, rule G21). It runs LMCache in the worker, so the
    image defaults to `lmcache/vllm-openai:v0.3.7` and an `image` without LMCache is rejected (rule G22). Unset: no
    offload. Example: `{l1: true}`
    """

    prefetch: bool | None = None
    """Prefetch the model files into instance memory before loading them (the operator's `prefetchEnabled`;
    hyperpod backend, S3 and Hugging Face sources). Rejected with `kvCache.l2` (rule G7). Unset: off. Example:
    `true`
    """

    sagemaker_endpoint: bool = True
    """Also register a SageMaker endpoint named after the endpoint (the operator's `endpointName`; hyperpod backend
    only). Example: `false`
    """

    instance_types: InstanceTypes | None = Field(default=None, min_length=1, max_length=MAX_INSTANCE_TYPES)
    """Instance types in order of preference; the operator takes the first available (CRD `instanceTypes`). Replaces `instanceType`, which then is the first entry: the fit, cost and capacity rules use it,
    and every entry must be a known GPU type that fits the model (rules G11, G23). In mode hyperpod without
    `instanceGroups`, the first type's group is sized for the replicas and each other type gets a group of 0
    instances to scale when needed. Example: `[ml.g6e.12xlarge, ml.g5.12xlarge]`
    """
    request_limits: RequestLimits | None = None
    """Concurrency limit of the sidecar in front of each worker (the operator's `worker.requestLimits`; hyperpod
    backend only). Unset: no limit. Example: `{maxConcurrentRequests: 64}`
    """
    pd_spec: PdSpec | None = None
    """Disaggregated prefill and decode (the operator's `pdSpec`; hyperpod backend, engine vllm, rules D1-D4). Unset:
    one worker Deployment. Example: `{prefill: {replicas: 1}, decode: {replicas: 1}, routingThreshold: 4096}`
    """
    tls_certificate_s3_uri: Line | None = Field(default=None, pattern=r"^s3://([^/]+)/?(.*)$")
    """S3 URI where the operator writes the endpoint's generated TLS certificate
    (`tlsConfig.tlsCertificateOutputS3Uri`; hyperpod backend only, rejected elsewhere). Unset: not set on the
    endpoint. Example: `s3://my-tls-bucket/qwen3-8b/`
    """


# The keys that moved from the endpoint's top level into `hyperpod:`; the old spelling is read for one release.
HYPERPOD_MOVED: tuple[str, ...] = (
    "intelligentRouting",
    "routingStrategy",
    "kvCache",
    "prefetch",
    "sagemakerEndpoint",
    "tlsCertificateS3Uri",
)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def moved_hyperpod_keys(entry: object) -> list[str]:
    """The moved keys an endpoint entry (a raw mapping) still sets at its top level."""
    return [k for k in HYPERPOD_MOVED if isinstance(entry, dict) and (k in entry or _snake(k) in entry)]


class OmeBenchmark(_Model):
    """An OME BenchmarkJob (genai-bench) the stack runs against the endpoint after it is up; results go to a PVC or
    object storage (ome backend only).
    """

    output_location: Line = Field(min_length=1)
    """Where OME stores the results: `pvc://<claim>/<subpath>` (create the PVC first) or `oci://...`; OME knows no
    other storage type for results. Example: `pvc://bench-results/qwen3-8b`
    """
    image: ImageReference | None = None
    """genai-bench image of the job (`podOverride.image`). Unset: the OME controller's default image. Example:
    `registry.example.com/genai-bench:1.0`
    """
    task: Literal["text-to-text", "image-to-text", "text-to-embeddings", "image-to-embeddings"] = "text-to-text"
    """genai-bench task: the kind of input and output. Example: `text-to-text`"""
    traffic_scenarios: list[Annotated[str, Field(max_length=256), ONE_LINE]] = Field(
        default_factory=lambda: ["D(100,100)"]
    )
    """genai-bench traffic scenarios, e.g. `D(input,output)` for fixed input and output token counts. Example:
    `["D(100,100)", "D(2000,200)"]`
    """
    num_concurrency: list[Int32] = Field(default_factory=lambda: [1, 4])
    """Concurrency levels to run, one run each. Example: `[1, 4, 16]`"""
    max_time_per_iteration: Int32 = Field(default=15, ge=1)
    """Time limit of one iteration, in minutes. Example: `30`"""
    max_requests_per_iteration: Int32 = Field(default=100, ge=1)
    """Request limit of one iteration. Example: `500`"""


class OmeBackend(_Model):
    """Options of the `ome` backend. The stack declares a ClusterBaseModel and a ClusterServingRuntime per endpoint
    unless `baseModel` names an existing ClusterBaseModel. Ignored by the other backends.
    """

    base_model: DnsSubdomain | None = None
    """Name of an existing ClusterBaseModel to serve; the stack then declares none. Unset: the stack declares one
    named `<namespace>-<endpoint name>`. Example: `qwen3-8b`
    """
    model_format: Annotated[str, Field(max_length=253), ONE_LINE] = "safetensors"
    """Model format name, on the ClusterBaseModel and in the runtime's supported formats. Example: `safetensors`"""
    model_framework: Annotated[str, Field(max_length=253), ONE_LINE] = "transformers"
    """Model framework name, on the ClusterBaseModel and in the runtime's supported formats. Example:
    `transformers`
    """
    benchmark: OmeBenchmark | None = None
    """Run an OME BenchmarkJob against the endpoint. Rejected with `apiKey: true` (the job cannot send a key).
    Unset: no benchmark. Example: `{outputLocation: pvc://bench-results/run1}`
    """


class GatewayRef(_Model):
    """A Gateway API Gateway, by name and namespace."""

    name: DnsSubdomain
    """Name of the Gateway. Example: `llm-d-gateway`"""
    namespace: DnsSubdomain
    """Namespace of the Gateway. Example: `llm-d`"""


class LlmisvcBackend(_Model):
    """Options of the `llmisvc` backend (a KServe LLMInferenceService, vLLM on KServe's llm-d presets). Ignored by
    the other backends.
    """

    router: Literal["none", "scheduler"] = "none"
    """`scheduler`: KServe's router, an HTTPRoute on `gateway` to an InferencePool whose endpoint picker (llm-d)
    chooses the pod by load and prefix cache; needs a Gateway whose controller routes to InferencePools. `none`:
    only KServe's workload Service (port 8000), which the tenant gateway can route to. Example: `scheduler`
    """
    gateway: GatewayRef | None = None
    """The Gateway the scheduler router's HTTPRoute attaches to (`spec.router.gateway.refs`); required with
    `router: scheduler`. Example: `{name: llm-d-gateway, namespace: llm-d}`
    """
    prefill_replicas: Int32 | None = Field(default=None, ge=1)
    """Prefill/decode disaggregation: this many prefill pods (`spec.prefill`) beside `replicas` decode pods, KV cache
    sent over NIXL; needs `router: scheduler`. Unset: one workload serves both phases. Example: `2`
    """


class EndpointSpec(_Model):
    """One model endpoint: the model, its engine and instance type, how it is served (backend, load balancer, API
    key, routing) and scaled.
    """

    name: Annotated[str, Field(max_length=253), ONE_LINE] = Field(min_length=1)
    """Name of the endpoint. Its Kubernetes name is derived from it: lowercased, `_` and other invalid characters
    turned into `-`, shortened with a hash when too long (rule G2); two endpoints of one namespace must not end
    up with the same name. Example: `qwen3-8b`
    """
    model: Annotated[str, Field(max_length=1024), ONE_LINE] = Field(min_length=1)
    """Model id. Clients call the model by its last path segment (the served model name, rule G5); with a Hugging
    Face source it is also the model to download unless `modelSource.modelId` is set. Example: `Qwen/Qwen3-8B`
    """
    engine: Literal["vllm", "sglang"]
    """Inference engine that serves the model. Example: `vllm`"""
    instance_type: Annotated[str, Field(max_length=64), ONE_LINE]
    """GPU instance type the endpoint runs on, with or without the `ml.` prefix (the hyperpod backend uses the
    `ml.` name, the others the EC2 name). It must be a known GPU type, and on a new cluster a node or instance
    group must have it (rule G11). Leave it out when `hyperpod.instanceTypes` is set: it is then the list's first entry.
    Example: `ml.g5.12xlarge`
    """
    model_source: ModelSource
    """Where the model files come from; `type` selects one of the sources below. Example: `{type: s3, bucket:
    my-models, path: Qwen3-8B/}`
    """
    image: ImageReference | None = None
    """Engine container image. The default port follows the image family (see `port`). With `kvCache` on it must
    be a vLLM build with LMCache (rule G22). Unset: the engine's default image pinned in the stack, or with `kvCache`
    on `lmcache/vllm-openai:v0.3.7`, the image of upstream's kvCacheSpec samples (the plan logs this default).
    Example: `vllm/vllm-openai:v0.11.0`
    """
    replicas: Int32 = Field(default=1, ge=0)
    """Number of engine replicas. With `autoscaling`: the hyperpod backend still passes it to the operator, the
    kubernetes backend leaves the count to the HPA, and ome and kserve use `minReplicas`/`maxReplicas` instead.
    Example: `2`
    """
    namespace: Annotated[str, Field(max_length=253), ONE_LINE] = "default"
    """Kubernetes namespace of the endpoint; the stack creates it unless it is `default`, `kube-system`,
    `kube-public` or `hyperpod-inference-system`. It must be a DNS label (rule G2). Example: `llm`
    """
    port: Int32 | None = Field(default=None, ge=1024, le=65535)
    """Port the engine listens on; passed as `--port` and used for the container port, probes and metrics alike
    (rule G3). Unset: the image family's default (8000 for vLLM, 30000 for SGLang, 8080 for SageMaker SGLang
    images). Example: `8000`
    """
    public_alb: bool = False
    """Make the endpoint's load balancer internet-facing instead of internal (rule G8). hyperpod: needs
    `intelligentRouting` (the ALB fronts the router); kubernetes and kserve: applies to `loadBalancer: alb` or
    `nlb`. Changing it replaces the Ingress and its ALB rather than flipping the scheme in place. Example:
    `true`
    """
    api_key: bool = False
    """Require an API key (`Authorization: Bearer ...`). The stack generates one (`sk-` and 48 random characters)
    unless `apiKeySecretArn` names one, stores it in the Secret `<Kubernetes name>-api-key` of the endpoint's
    namespace (and of the operator's, hyperpod backend) and exports it as a secret in the `apiKeys` output (rule
    G9). Example: `true`
    """
    engine_args: EngineArgs = Field(default_factory=EngineArgs)
    """Engine parameters, mapped to each engine's flags. Example: `{maxModelLen: 16384, gpuMemoryUtilization:
    0.85}`
    """
    extra_args: list[Line] = Field(default_factory=list)
    """Further engine flags, appended as given. Flags the stack sets itself (`--host`, `--port`, `--model`,
    `--model-path`, `--served-model-name`, `--api-key`, and every flag of an `engineArgs` key) are rejected: set
    the key instead. Flags that carry a credential (`--hf-token`, `--token`, `--password`, any spelling) and URLs
    with user info are rejected too: use `modelSource.tokenSecret` or `apiKey`. Example: `["--max-log-len", "100"]`
    """
    env: Env = Field(default_factory=dict)
    """Environment variables of the engine container; values may span lines (names and values together at most
    524288 characters). They override the stack's GPU workaround variables (rule G12); `CUDA_VISIBLE_DEVICES` is
    rejected (rule G11), and so are secret names such as `HF_TOKEN` or `*_API_KEY` (rule S3) and URLs with user
    info. A value may be a Pulumi secret (`pulumi config set --secret --path 'endpoints[0].env.NAME'`), which the
    offline plan shows as `[secret]`. Example: `{VLLM_LOGGING_LEVEL: DEBUG}`
    """
    invocation_endpoint: Literal["v1/chat/completions", "v1/completions"] = "v1/chat/completions"
    """OpenAI API path clients call; it is the path of the endpoint's `url` output and of its `curl` example.
    Example: `v1/completions`
    """
    load: Load | None = None
    """Peak load the endpoint must carry (rule C1). Unset: no capacity contract. Example: `{peakRequestsPerSecond:
    20, workload: "N(1024,256)/(256,64)"}`
    """
    slo: Slo | None = None
    """Latency objectives the endpoint is sized for; the capacity file must be measured under the same ones (rule
    C1). Example: `{ttftP90: 1.0, tpotP90: 0.05}`
    """
    capacity: Annotated[str, Field(max_length=1024), ONE_LINE] | None = Field(default=None, min_length=1)
    """Capacity file that `python -m stacks report --export-capacity DIR` wrote, relative to the project
    directory: the measured load per replica that met the SLO (rule C1). Unset: the contract is only advisory.
    Example: `capacity/qwen3-4b-g5.json`
    """
    autoscaling: Autoscaling | None = None
    """Scale replicas with load. Unset: a fixed `replicas` count. Example: `{minReplicas: 1, maxReplicas: 4,
    prometheus: {query: 'sum(vllm:num_requests_waiting)', targetValue: 8}}`
    """
    resources: Resources = Field(default_factory=Resources)
    """CPU, memory and disk requests of the engine container. Example: `{ephemeralStorage: 100Gi}`"""
    max_deploy_seconds: Int32 = Field(default=3600, ge=60)
    """Time a replica gets to download and load the model: the startup probe's budget on every backend, the
    operator's `maxDeployTimeInSeconds` (hyperpod) and the Deployment's progress deadline (kubernetes). Example:
    `5400`
    """
    api_key_secret_arn: Annotated[str, Field(max_length=2048), ONE_LINE] | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$"
    )
    """Use the SecretString of this Secrets Manager secret as the API key instead of generating one (rule G9; used
    only with `apiKey: true`). Example: `arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-key-AbCdEf`
    """
    backend: BackendName | None = None
    """How the endpoint runs: `hyperpod` (the HyperPod operator's InferenceEndpointConfig), `kubernetes` (a
    Deployment and Service), `ome` (an OME InferenceService), `kserve` (a KServe InferenceService) or `llmisvc` (a
    KServe LLMInferenceService). Unset:
    `hyperpod` where the HyperPod operator runs (mode hyperpod, or mode existing with `hyperpodClusterArn` or
    `platform.hyperpodOperator: true`), `kubernetes` elsewhere. Example: `kubernetes`
    """
    load_balancer: LoadBalancer | None = None
    """Load balancer in front of the endpoint (kubernetes and kserve backends; the hyperpod backend ignores it): an
    ALB Ingress, an NLB Service, or none (in-cluster only). The ome backend requires `none`. Unset: the one that
    works with the backend, `none` for ome (OME creates the engine Service itself) and `alb` for the others.
    Example: `nlb`
    """
    kubernetes: KubernetesBackend = Field(default_factory=KubernetesBackend)
    """Options of the kubernetes backend. Example: `{weights: init-container, serviceAccountName: model-reader}`"""
    ome: OmeBackend = Field(default_factory=OmeBackend)
    """Options of the ome backend. Example: `{baseModel: qwen3-8b}`"""
    llmisvc: LlmisvcBackend = Field(default_factory=LlmisvcBackend)
    """Options of the llmisvc backend. Example: `{router: scheduler, gateway: {name: llm-d-gateway, namespace: llm-d}}`"""
    hyperpod: HyperPodBackend = Field(default_factory=HyperPodBackend)
    """Options of the hyperpod backend. Example: `{intelligentRouting: true, kvCache: {l1: true}}`"""

    @model_validator(mode="before")
    @classmethod
    def _moved_to_hyperpod(cls, data: object) -> object:
        # The old top-level keys, read for one release (stacks/config.py logs each as moved): into `hyperpod`,
        # where a key given in both places is an error rather than a silent choice. Then `instanceType` from
        # `hyperpod.instanceTypes` (its first entry: the one every one-type rule reads).
        moved = moved_hyperpod_keys(data)
        if moved and isinstance(data, dict):
            block = dict(data.get("hyperpod") or {})
            out = dict(data)
            for key in moved:
                spelled = key if key in out else _snake(key)
                if key in block or _snake(key) in block:
                    raise ValueError(f"{key} is set both at the top level and under hyperpod: keep hyperpod.{key} only")
                block[key] = out.pop(spelled)
            out["hyperpod"] = block
            data = out
        return derive_instance_type(data)


# ---------------------------------------------------------------- clusters and platform
