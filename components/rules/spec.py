"""Typed endpoint and cluster specs: what a user writes in `Pulumi.<env>.yaml`, parsed once.

Keys are camelCase in config (`instanceType`) and snake_case in code (`instance_type`). Unknown keys
are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from .bounds import MAX_LATENCY_SECONDS, MAX_REQUESTS_PER_SECOND, MAX_TEXT, DnsSubdomain, Env, ImageReference, Int32, LabelKey, LabelValue, Line, NameTemplate, Number, SecretKey, Text, line


class _Model(BaseModel):
    # No inf/nan: a float lands in a custom resource or a flag, where neither means anything.
    # Attribute docstrings are the field descriptions: docs/configuration.md is generated from them.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True)


class S3Source(_Model):
    """Model files in an S3 bucket (`type: s3`). The hyperpod backend hands the location to the operator; the
    kubernetes backend mounts it (Mountpoint S3 CSI driver) or copies it (init container); ome and kserve
    download it.
    """

    type: Literal["s3"]
    """Selects an S3 model source. Example: `s3`"""
    bucket: line(63) = Field(min_length=3)
    """Name of the S3 bucket that holds the model files (the bucket name only, no `s3://`). On a new cluster the S3
    CSI driver's role may read it. Example: `my-models`
    """
    region: Optional[line(32)] = None
    """AWS region of the bucket. Unset: the stack's `aws:region`. Example: `us-west-2`"""
    path: line(1024) = ""
    """S3 key prefix of the model files in the bucket (S3 keys are at most 1024 bytes). Empty: the bucket's root.
    Example: `models/Qwen3-8B/`
    """


class FsxSource(_Model):
    """Model files on an FSx for Lustre file system (`type: fsx`); the hyperpod backend only, which mounts it
    through the operator.
    """

    type: Literal["fsx"]
    """Selects an FSx for Lustre model source (hyperpod backend only). Example: `fsx`"""
    file_system_id: line(21) = Field(pattern=r"^fs-[0-9a-f]{8,17}$")
    """ID of the FSx for Lustre file system. Example: `fs-0123456789abcdef0`"""
    dns_name: Optional[line(253)] = None
    """DNS name of the file system, passed to the operator as `fsxStorage.dnsName`. Unset: not passed. Example:
    `fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com`
    """
    mount_name: Optional[line(63)] = None
    """Mount name of the file system, passed to the operator as `fsxStorage.mountName`. Unset: not passed. Example:
    `abcdefgh`
    """
    path: Line = ""
    """Directory of the model files on the file system (the operator's `modelLocation`). Example:
    `/models/Qwen3-8B`
    """


class SecretKeyRef(_Model):
    """A key of a Kubernetes Secret that holds a Hugging Face token. The stack does not create this Secret: create
    it in the endpoint's namespace before `pulumi up`.
    """

    name: DnsSubdomain
    """Name of the Secret. Example: `hf-token`"""
    key: SecretKey = "token"
    """Key in the Secret whose value is the Hugging Face token. The ome backend passes only the Secret name to OME
    and ignores this key. Example: `token`
    """


class HuggingFaceSource(_Model):
    """A model downloaded from the Hugging Face Hub (`type: huggingface`): by the operator (hyperpod), by the
    engine itself (kubernetes, kserve) or by OME (ome). hyperpod without `prefetch`: the operator passes the engine's
    model flag itself, so the stack renders none (vLLM gets `--download-dir /opt/ml/model`).
    """

    type: Literal["huggingface"]
    """Selects a Hugging Face Hub model source. Example: `huggingface`"""
    model_id: Optional[line(256)] = Field(default=None, pattern=r"^[a-zA-Z0-9_.-]+/[a-zA-Z0-9_.-]+$")
    """Hugging Face model id, `org/name`. Unset: the endpoint's `model`. Example: `Qwen/Qwen3-8B`"""
    revision: Optional[line(40)] = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    """Commit SHA (40 hex characters) that pins the model files; a branch or tag name is not accepted. Unset: not
    pinned. Example: `0123456789abcdef0123456789abcdef01234567`
    """
    token_secret: Optional[SecretKeyRef] = None
    """Secret with a Hugging Face token, needed for gated models such as `meta-llama/*`. hyperpod: the operator's
    `tokenSecretRef`; kubernetes and kserve: the engine's `HF_TOKEN` variable; ome: the ClusterBaseModel's
    storage key. Unset: anonymous download. Example: `{name: hf-token, key: token}`
    """


ModelSource = Annotated[Union[S3Source, FsxSource, HuggingFaceSource], Field(discriminator="type")]


class KvCache(_Model):
    """KV-cache offload of the HyperPod operator (its `kvCacheSpec`): hyperpod backend and engine vllm only (rule
    G21), on an image with LMCache (rule G22); any other combination is rejected.
    """

    l1: bool = False
    """Turn on the operator's L1 cache, which offloads KV cache to CPU memory (`enableL1Cache`). Example: `true`"""
    l2: bool = False
    """Turn on the operator's L2 cache, a remote KV-cache tier (`enableL2Cache`). The operator then manages prefix
    caching: `prefetch` and `engineArgs.enablePrefixCaching: true` are rejected with it (rule G7). Example:
    `true`
    """
    l2_backend: Literal["tieredstorage", "redis"] = "tieredstorage"
    """Storage of the L2 cache (`l2CacheBackend`); used only with `l2: true`. `tieredstorage` is known broken (a
    warning is printed): prefer `redis`. Example: `redis`
    """
    l2_local_url: Optional[Line] = None
    """URL of the L2 cache's storage, passed to the operator as `l2CacheLocalUrl`; used only with `l2: true`.
    Unset: not passed to the operator. Example: `redis://redis.cache.svc.cluster.local:6379`
    """

    @property
    def enabled(self) -> bool:
        return self.l1 or self.l2


class EngineArgs(_Model):
    """Engine parameters (rule G10). Each key becomes the matching flag of the chosen engine (vLLM or SGLang), so
    one config serves both; a key the engine has no flag for is rejected rather than dropped. Unset keys get the
    stack's defaults where it has one, otherwise the engine's own.
    """

    max_model_len: Optional[Int32] = Field(default=None, gt=0)
    """Maximum context length in tokens: vLLM `--max-model-len`, SGLang `--context-length`. Sizes the KV cache.
    Unset: `12288` (without a limit the engine sizes the cache for the model's full context and can run out of
    memory). Example: `16384`
    """
    tensor_parallel_size: Optional[Int32] = Field(default=None, ge=1)
    """GPUs one replica shards the model across: vLLM `--tensor-parallel-size`, SGLang `--tp-size`. It is also the
    pod's GPU limit and must not exceed the instance's GPUs. Unset: every GPU of the instance type. Example: `4`
    """
    gpu_memory_utilization: Optional[Number] = Field(default=None, gt=0, le=1)
    """Fraction of GPU memory the engine may use for weights and KV cache: vLLM `--gpu-memory-utilization`, SGLang
    `--mem-fraction-static`. Unset: `0.9`. Example: `0.85`
    """
    max_num_seqs: Optional[Int32] = Field(default=None, ge=1)
    """Maximum number of requests running at once: vLLM `--max-num-seqs`, SGLang `--max-running-requests`. Unset:
    `256` with vLLM, SGLang's own default with SGLang. Example: `128`
    """
    max_num_batched_tokens: Optional[Int32] = Field(default=None, ge=1)
    """Token budget of one scheduler step: vLLM `--max-num-batched-tokens`; SGLang `--max-prefill-tokens`, its
    closest equivalent (the prefill batch budget). Unset: the engine's default. Example: `8192`
    """
    enable_prefix_caching: Optional[bool] = None
    """Reuse the KV cache of shared prompt prefixes. vLLM: `--enable-prefix-caching` /
    `--no-enable-prefix-caching`; SGLang: `false` adds `--disable-radix-cache`, `true` passes nothing (it is on
    by default). Dropped with `kvCache.l2`, where the operator manages it. Unset: the engine's default. Example:
    `true`
    """
    enforce_eager: Optional[bool] = None
    """Run without CUDA graphs (slower, less memory, faster start): vLLM `--enforce-eager`, SGLang
    `--disable-cuda-graph`. `false` passes nothing. Unset: the engine's default (CUDA graphs on). Example:
    `true`
    """
    dtype: Optional[Literal["auto", "float16", "bfloat16", "half", "float32"]] = None
    """Data type of weights and activations (`--dtype`). Unset: the engine's `auto`, except `float16` on GPUs below
    compute capability 8.0 (T4), which have no bfloat16. Example: `bfloat16`
    """
    chat_template: Optional[Text] = None
    """Chat template (`--chat-template`): a file path in the image or an inline Jinja template (may span lines).
    Unset: the model's own template. Example: `/templates/tool_chat.jinja`
    """
    tool_call_parser: Optional[line(64)] = None
    """Tool-call parser of the model family (`--tool-call-parser`); with vLLM the stack also adds
    `--enable-auto-tool-choice`, without which the parser is inert. Unset: no tool calling. Example: `hermes`
    """
    limit_mm_per_prompt: Optional[Line] = None
    """Maximum multimodal items per prompt, as vLLM's `--limit-mm-per-prompt` value (vLLM only; rejected with
    SGLang). Unset: vLLM's default. Example: `'{"image": 4}'`
    """

    def set_values(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


# The CRD's `prometheusTrigger.serverAddress` pattern: an Amazon Managed Service for Prometheus workspace URL, or empty
# (aws/sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
# inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml @011ca927). The API server refuses anything else.
AMP_WORKSPACE_PATTERN = r"^https://aps-workspaces\.[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.amazonaws\.com/workspaces/ws-[a-zA-Z0-9-]+$"


class PrometheusTrigger(_Model):
    """A KEDA Prometheus trigger of the HyperPod operator: scale on the result of a PromQL query (hyperpod backend
    only).
    """

    query: Annotated[Text, Field(max_length=MAX_TEXT // 16)]
    """PromQL query whose value drives scaling; may span lines. Example:
    `sum(vllm:num_requests_waiting{model_name="Llama-3.1-8B-Instruct"})`
    """
    target_value: Number = Field(gt=0)
    """Target value of the query per replica: KEDA adds replicas while the value per replica is above it. Example:
    `8`
    """
    server_address: line(2048) = Field(default="", pattern=AMP_WORKSPACE_PATTERN + "|^$")
    """Amazon Managed Service for Prometheus workspace to query (the CRD accepts no other address). Empty:
    `platform.prometheusServerAddress`; with that unset too, none (rule A1 warns). Example:
    `https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234abcd-5678-90ef-1234-567890abcdef`
    """


class CloudWatchTrigger(_Model):
    """A KEDA CloudWatch trigger of the HyperPod operator: scale on an Amazon CloudWatch metric (hyperpod backend
    only). Unset keys give upstream's trigger: `Invocations` of the endpoint the operator registers, `Sum`, with
    dimensions `EndpointName` and `VariantName: AllTraffic` (rule A1).
    """

    metric_name: line(255) = "Invocations"
    """Name of the CloudWatch metric; in `AWS/SageMaker` a metric of real-time endpoints (rule A1 refuses the
    asynchronous-inference ones, such as `ApproximateBacklogSizePerInstance`). Example: `InvocationsPerInstance`
    """
    namespace: line(255) = "AWS/SageMaker"
    """CloudWatch namespace of the metric; `AWS/SageMaker` needs `sagemakerEndpoint: true` (rule A1). Example:
    `AWS/SageMaker`
    """
    target_value: Number = Field(gt=0)
    """Target value of the metric per replica: KEDA adds replicas while the value per replica is above it. Example:
    `10`
    """
    statistic: Optional[Literal["Average", "Sum", "Maximum", "Minimum", "SampleCount"]] = None
    """Statistic of the metric KEDA reads (`metricStat`). Unset: `Sum` for the count metrics (`Invocations`,
    `InvocationsPerInstance`, `Invocation4XXErrors`, `Invocation5XXErrors`), `Average` for the others. Example:
    `Maximum`
    """
    dimensions: Optional[dict[line(255), line(1024)]] = None
    """Dimensions that select the metric, name to value (CloudWatch's limits: 255-character names, 1024-character
    values); CloudWatch matches the whole set, so `AWS/SageMaker` needs `EndpointName` (the endpoint's resource
    name) and `VariantName` (rule A1). Unset: in `AWS/SageMaker`, `{EndpointName: <the registered endpoint>,
    VariantName: AllTraffic}`; elsewhere none. Example: `{EndpointName: qwen3-8b, VariantName: AllTraffic}`
    """


class PodsMetric(_Model):
    """The per-pod metric the kubernetes backend's HorizontalPodAutoscaler scales on (kubernetes backend only). It
    needs a custom-metrics adapter, such as prometheus-adapter, that exposes the engine's Prometheus metric to
    the HPA.
    """

    name: line(253) = Field(min_length=1)
    """Name of the per-pod metric as the custom-metrics API serves it. Example: `vllm:num_requests_waiting`"""
    target_average_value: Number = Field(gt=0)
    """Average value per pod the HPA keeps the metric at. Example: `8`"""


class Load(_Model):
    """The load an endpoint must carry at peak, checked against a measured capacity (rule C1)."""

    peak_requests_per_second: Number = Field(gt=0, le=MAX_REQUESTS_PER_SECOND)
    """Requests per second the endpoint must serve at peak, across all replicas. Example: `20`"""
    workload: line(256) = Field(min_length=1)
    """The request shape of that load, in the load generator's scenario syntax (docs/load-generator.md); a
    capacity file measured under another workload does not match. Example: `"N(1024,256)/(256,64)"`
    """
    headroom: Number = Field(default=0.2, ge=0, le=10)
    """Spare capacity on top of the peak, as a fraction: the replicas must carry peak × (1 + headroom).
    Example: `0.3`
    """


class Slo(_Model):
    """Latency objectives the endpoint is sized for, in seconds, as the tuning run measured them (rule C1). A
    capacity file measured under other objectives does not match.
    """

    ttft_p50: Optional[Number] = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the median time to first token. Unset: no bound. Example: `0.5`"""
    ttft_p90: Optional[Number] = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 90th-percentile time to first token. Unset: no bound. Example: `1.0`"""
    ttft_p99: Optional[Number] = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 99th-percentile time to first token. Unset: no bound. Example: `2.0`"""
    tpot_p50: Optional[Number] = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the median time per output token. Unset: no bound. Example: `0.03`"""
    tpot_p90: Optional[Number] = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 90th-percentile time per output token. Unset: no bound. Example: `0.05`"""
    itl_p90: Optional[Number] = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 90th-percentile inter-token latency. Unset: no bound. Example: `0.05`"""
    e2e_p90: Optional[Number] = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS, alias="e2eP90")  # to_camel would make it e2EP90
    """Bound on the 90th-percentile end-to-end request latency. Unset: no bound. Example: `20`"""
    error_rate: Optional[Number] = Field(default=None, ge=0, le=1)
    """Bound on the share of failed requests. Unset: no bound. Example: `0.01`"""

    def bounds(self) -> dict[str, float]:
        """The set bounds, keyed as config and capacity files name them (`ttftP90`)."""
        return {k: float(v) for k, v in self.model_dump(by_alias=True).items() if v is not None}


class Autoscaling(_Model):
    """Replica autoscaling. hyperpod: the operator's KEDA autoscaler on a `prometheus` or `cloudwatch` trigger; with
    neither (and no `target`), the engine's queue length through `platform.prometheusServerAddress` (rule A1);
    kubernetes: a HorizontalPodAutoscaler on `podsMetric`; ome and kserve: only `minReplicas` and `maxReplicas` are
    used. Unset: a fixed `replicas` count.
    """

    min_replicas: Int32 = Field(default=1, ge=0)
    """Fewest replicas. The kubernetes backend's HPA cannot go below 1, so `0` becomes 1 there. Example: `1`"""
    max_replicas: Int32 = Field(default=4, ge=1)
    """Most replicas; at least `minReplicas`. In mode hyperpod without `instanceGroups` it also sizes the derived
    instance group. Example: `4`
    """
    prometheus: Optional[PrometheusTrigger] = None
    """Scale on a Prometheus query (hyperpod backend only; rejected elsewhere). Unset, with `cloudwatch` and `target`
    unset too and `platform.prometheusServerAddress` set: the engine's queue length (`vllm:num_requests_waiting` or
    `sglang:num_queue_reqs` of the endpoint's served model) with a target of 8 per replica (rule A1). Example:
    `{query: 'sum(vllm:num_requests_waiting{model_name="Llama-3.1-8B-Instruct"})', targetValue: 8}`
    """
    cloudwatch: Optional[CloudWatchTrigger] = None
    """Scale on a CloudWatch metric (hyperpod backend only; rejected elsewhere). `AWS/SageMaker` metrics count only
    requests sent through the SageMaker endpoint (InvokeEndpoint), never those to the endpoint's ALB URL (rule A1
    warns). Unset: no CloudWatch trigger. Example: `{metricName: Invocations, targetValue: 10}`
    """
    pods_metric: Optional[PodsMetric] = None
    """The HPA's per-pod metric (kubernetes backend only; rejected elsewhere). Unset: the engine's queue length
    (`vllm:num_requests_waiting` or `sglang:num_queue_reqs`) with an average target of 8. Example: `{name:
    vllm:num_requests_running, targetAverageValue: 32}`
    """
    cooldown_seconds: Int32 = Field(default=300, ge=0)
    """Seconds to wait before scaling in. hyperpod: KEDA's `cooldownPeriod`; kubernetes: the HPA's scale-down
    stabilization window; ignored by ome and kserve. Example: `600`
    """
    target: Optional[Literal["fromCapacity"]] = None
    """`fromCapacity`: derive the per-replica scaling target from the endpoint's `capacity` file (its lower bound ×
    `utilization`), in the unit the backend's autoscaler reads, and set the trigger itself (hyperpod: a Prometheus
    trigger on the engine's metrics through `platform.prometheusServerAddress`; with that unset, the CloudWatch
    `Invocations` trigger when `sagemakerEndpoint` is on, which rule A1 warns about; kubernetes: the HPA's
    requests-per-second metric). Leave `prometheus`, `cloudwatch` and `podsMetric` unset; ome and kserve
    have no per-replica target here and refuse it. Unset: the targets as written. Example: `fromCapacity`
    """
    utilization: Number = Field(default=0.7, gt=0, le=1)
    """Share of the measured capacity a replica is driven to before scaling out (with `target: fromCapacity`).
    Example: `0.6`
    """


class Resources(_Model):
    """CPU, memory and disk the engine container requests. GPUs are not set here: the GPU limit always equals the
    tensor-parallel size (rule G11).
    """

    cpu: Optional[line(64)] = None
    """CPU request of the engine container, in Kubernetes quantity form. Unset: three quarters of the pod's share
    of the instance's vCPUs (its share is tensor-parallel size / GPUs); no request for an unknown instance type.
    Example: `"8"`
    """
    memory: Optional[line(64)] = None
    """Memory request of the engine container, in Kubernetes quantity form. Unset: three quarters of the pod's
    share of the instance's memory, at least 4Gi; no request for an unknown instance type. Example: `64Gi`
    """
    ephemeral_storage: line(64) = "50Gi"
    """Ephemeral-storage request of the engine container, so the kubelet does not evict the pod when downloads fill
    the node (rule G13); keep it within the node's disk. It also caps the emptyDir that holds downloaded or
    copied model files (kubernetes backend). Example: `100Gi`
    """


Backend = Literal["hyperpod", "kubernetes", "ome", "kserve"]
LoadBalancer = Literal["alb", "nlb", "none"]
# The load balancer that works with each backend, the default of `loadBalancer`: OME creates the engine's
# Service itself, so the stack declares none for it (the hyperpod backend ignores the key).
DEFAULT_LOAD_BALANCER: dict[str, LoadBalancer] = {"hyperpod": "alb", "kubernetes": "alb", "kserve": "alb", "ome": "none"}
BACKENDS: tuple[str, ...] = ("hyperpod", "kubernetes", "ome", "kserve")


class KubernetesBackend(_Model):
    """Options of the `kubernetes` backend (a plain Deployment and Service); `serviceAccountName` applies to kserve
    too. Ignored by the other backends.
    """

    weights: Literal["s3-csi", "init-container"] = "s3-csi"
    """How S3 model files reach the pod (kubernetes backend with an S3 source): `s3-csi` mounts the bucket
    read-only through the Mountpoint S3 CSI driver (needs `platform.s3Csi` on a new cluster); `init-container`
    copies them with `aws s3 sync` into an emptyDir before the engine starts. Example: `init-container`
    """
    service_account_name: Optional[DnsSubdomain] = None
    """Service account of the engine pod (kubernetes and kserve backends). With `weights: init-container` it needs
    S3 read access to the model bucket (Pod Identity or IRSA); otherwise a warning is printed. Unset: the
    namespace's default service account. Example: `model-reader`
    """
    init_image: ImageReference = "public.ecr.aws/aws-cli/aws-cli:2.27.50"
    """Image of the init container that runs `aws s3 sync` (used only with `weights: init-container`). Example:
    `public.ecr.aws/aws-cli/aws-cli:2.27.50`
    """


class OmeBenchmark(_Model):
    """An OME BenchmarkJob (genai-bench) the stack runs against the endpoint after it is up; results go to a PVC or
    object storage (ome backend only).
    """

    output_location: Line = Field(min_length=1)
    """Where OME stores the results: `pvc://<claim>/<subpath>` (create the PVC first) or `oci://...`; OME knows no
    other storage type for results. Example: `pvc://bench-results/qwen3-8b`
    """
    image: Optional[ImageReference] = None
    """genai-bench image of the job (`podOverride.image`). Unset: the OME controller's default image. Example:
    `registry.example.com/genai-bench:1.0`
    """
    task: Literal["text-to-text", "image-to-text", "text-to-embeddings", "image-to-embeddings"] = "text-to-text"
    """genai-bench task: the kind of input and output. Example: `text-to-text`"""
    traffic_scenarios: list[line(256)] = Field(default_factory=lambda: ["D(100,100)"])
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

    base_model: Optional[DnsSubdomain] = None
    """Name of an existing ClusterBaseModel to serve; the stack then declares none. Unset: the stack declares one
    named `<namespace>-<endpoint name>`. Example: `qwen3-8b`
    """
    model_format: line(253) = "safetensors"
    """Model format name, on the ClusterBaseModel and in the runtime's supported formats. Example: `safetensors`"""
    model_framework: line(253) = "transformers"
    """Model framework name, on the ClusterBaseModel and in the runtime's supported formats. Example:
    `transformers`
    """
    benchmark: Optional[OmeBenchmark] = None
    """Run an OME BenchmarkJob against the endpoint. Rejected with `apiKey: true` (the job cannot send a key).
    Unset: no benchmark. Example: `{outputLocation: pvc://bench-results/run1}`
    """


class EndpointSpec(_Model):
    """One model endpoint: the model, its engine and instance type, how it is served (backend, load balancer, API
    key, routing) and scaled.
    """

    name: line(253) = Field(min_length=1)
    """Name of the endpoint. Its Kubernetes name is derived from it: lowercased, `_` and other invalid characters
    turned into `-`, shortened with a hash when too long (rule G2); two endpoints of one namespace must not end
    up with the same name. Example: `qwen3-8b`
    """
    model: line(1024) = Field(min_length=1)
    """Model id. Clients call the model by its last path segment (the served model name, rule G5); with a Hugging
    Face source it is also the model to download unless `modelSource.modelId` is set. Example: `Qwen/Qwen3-8B`
    """
    engine: Literal["vllm", "sglang"]
    """Inference engine that serves the model. Example: `vllm`"""
    instance_type: line(64)
    """GPU instance type the endpoint runs on, with or without the `ml.` prefix (the hyperpod backend uses the
    `ml.` name, the others the EC2 name). It must be a known GPU type, and on a new cluster a node or instance
    group must have it (rule G11). Example: `ml.g5.12xlarge`
    """
    model_source: ModelSource
    """Where the model files come from; `type` selects one of the sources below. Example: `{type: s3, bucket:
    my-models, path: Qwen3-8B/}`
    """
    image: Optional[ImageReference] = None
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
    namespace: line(253) = "default"
    """Kubernetes namespace of the endpoint; the stack creates it unless it is `default`, `kube-system`,
    `kube-public` or `hyperpod-inference-system`. It must be a DNS label (rule G2). Example: `llm`
    """
    port: Optional[Int32] = Field(default=None, ge=1024, le=65535)
    """Port the engine listens on; passed as `--port` and used for the container port, probes and metrics alike
    (rule G3). Unset: the image family's default (8000 for vLLM, 30000 for SGLang, 8080 for SageMaker SGLang
    images). Example: `8000`
    """
    intelligent_routing: bool = False
    """Put the HyperPod operator's router in front of the replicas (hyperpod backend with engine vllm only, rule
    G21). The operator cannot change this once set: switching it needs a new endpoint (rule G19). Example: `true`
    """
    routing_strategy: Literal["prefixaware", "kvaware", "session", "roundrobin"] = "prefixaware"
    """How the operator's router picks a replica (used only with `intelligentRouting`). `kvaware` needs
    `invocationEndpoint: v1/completions`. Example: `kvaware`
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
    kv_cache: Optional[KvCache] = None
    """KV-cache offload (hyperpod backend with engine vllm only, rule G21). It runs LMCache in the worker, so the
    image defaults to `lmcache/vllm-openai:v0.3.7` and an `image` without LMCache is rejected (rule G22). Unset: no
    offload. Example: `{l1: true}`
    """
    prefetch: Optional[bool] = None
    """Prefetch the model files into instance memory before loading them (the operator's `prefetchEnabled`;
    hyperpod backend, S3 and Hugging Face sources). Rejected with `kvCache.l2` (rule G7). Unset: off. Example:
    `true`
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
    load: Optional[Load] = None
    """Peak load the endpoint must carry (rule C1). Unset: no capacity contract. Example: `{peakRequestsPerSecond:
    20, workload: "N(1024,256)/(256,64)"}`
    """
    slo: Optional[Slo] = None
    """Latency objectives the endpoint is sized for; the capacity file must be measured under the same ones (rule
    C1). Example: `{ttftP90: 1.0, tpotP90: 0.05}`
    """
    capacity: Optional[line(1024)] = Field(default=None, min_length=1)
    """Capacity file that `python -m stacks report --export-capacity DIR` wrote, relative to the project
    directory: the measured load per replica that met the SLO (rule C1). Unset: the contract is only advisory.
    Example: `capacity/qwen3-4b-g5.json`
    """
    autoscaling: Optional[Autoscaling] = None
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
    sagemaker_endpoint: bool = True
    """Also register a SageMaker endpoint named after the endpoint (the operator's `endpointName`; hyperpod backend
    only). Example: `false`
    """
    tls_certificate_s3_uri: Optional[Line] = Field(default=None, pattern=r"^s3://([^/]+)/?(.*)$")
    """S3 URI where the operator writes the endpoint's generated TLS certificate
    (`tlsConfig.tlsCertificateOutputS3Uri`; hyperpod backend only, rejected elsewhere). Unset: not set on the
    endpoint. Example: `s3://my-tls-bucket/qwen3-8b/`
    """
    api_key_secret_arn: Optional[line(2048)] = Field(default=None, pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
    """Use the SecretString of this Secrets Manager secret as the API key instead of generating one (rule G9; used
    only with `apiKey: true`). Example: `arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-key-AbCdEf`
    """
    backend: Optional[Backend] = None
    """How the endpoint runs: `hyperpod` (the HyperPod operator's InferenceEndpointConfig), `kubernetes` (a
    Deployment and Service), `ome` (an OME InferenceService) or `kserve` (a KServe InferenceService). Unset:
    `hyperpod` where the HyperPod operator runs (mode hyperpod, or mode existing with `hyperpodClusterArn` or
    `platform.hyperpodOperator: true`), `kubernetes` elsewhere. Example: `kubernetes`
    """
    load_balancer: Optional[LoadBalancer] = None
    """Load balancer in front of the endpoint (kubernetes and kserve backends; the hyperpod backend ignores it): an
    ALB Ingress, an NLB Service, or none (in-cluster only). The ome backend requires `none`. Unset: the one that
    works with the backend, `none` for ome (OME creates the engine Service itself) and `alb` for the others.
    Example: `nlb`
    """
    kubernetes: KubernetesBackend = Field(default_factory=KubernetesBackend)
    """Options of the kubernetes backend. Example: `{weights: init-container, serviceAccountName: model-reader}`"""
    ome: OmeBackend = Field(default_factory=OmeBackend)
    """Options of the ome backend. Example: `{baseModel: qwen3-8b}`"""

    @model_validator(mode="before")
    @classmethod
    def _backend_load_balancer(cls, data: object) -> object:
        # With the backend given, an unset loadBalancer is the backend's own; `backends.resolve` does the same
        # for endpoints whose backend follows the cluster.
        if isinstance(data, dict) and data.get("loadBalancer", data.get("load_balancer")) is None:
            backend = data.get("backend")
            if isinstance(backend, str) and backend in DEFAULT_LOAD_BALANCER:
                data = {**{k: v for k, v in data.items() if k not in ("loadBalancer", "load_balancer")}, "loadBalancer": DEFAULT_LOAD_BALANCER[backend]}
        return data


# ---------------------------------------------------------------- clusters and platform

_ARN = r"^arn:aws[a-z-]*:"


class NetworkSpec(_Model):
    """The VPC of a new cluster (modes eks and hyperpod; ignored in mode existing): a new VPC with public and
    private subnets across availability zones (default), or the subnets of an existing VPC (`vpcId`).
    """

    vpc_id: Optional[line(21)] = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    """Existing VPC to use instead of creating one; then `privateSubnetIds` are required and `cidr`,
    `availabilityZones` and `singleNatGateway` are ignored. Unset: the stack creates a VPC. Example:
    `vpc-0123456789abcdef0`
    """
    private_subnet_ids: list[line(24)] = Field(default_factory=list)
    """Private subnets of the existing VPC for the nodes, at least two in different availability zones (used only
    with `vpcId`). Example: `[subnet-0aaa1111bbbb2222c, subnet-0ddd3333eeee4444f]`
    """
    public_subnet_ids: list[line(24)] = Field(default_factory=list)
    """Public subnets of the existing VPC, passed to the EKS cluster (used only with `vpcId`). Example:
    `[subnet-0123aaaabbbbcccc1, subnet-0123ddddeeeeffff2]`
    """
    cidr: line(18) = Field(default="10.0.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-4])$")
    """Address range of a new VPC, a /16 to /24. Private subnets are its first /19s (pods take VPC addresses);
    public subnets are /24s from its last /19. Example: `10.20.0.0/16`
    """
    availability_zones: Int32 = Field(default=2, ge=2, le=4)
    """Number of availability zones of a new VPC: one public and one private subnet in each. Example: `3`"""
    single_nat_gateway: bool = True
    """One NAT gateway for the whole new VPC (cheaper); `false`: one per availability zone (survives a zone
    outage). Example: `false`
    """

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None


class SystemNodes(_Model):
    """The small CPU node group for the operator, controllers and add-ons, created with every new cluster (modes
    eks and hyperpod). Its nodes are amd64 (AL2023 x86_64), because the operator's images are amd64 only (rule
    G20).
    """

    instance_type: line(64) = "m6i.xlarge"
    """EC2 instance type of the system nodes: a CPU type, x86 (a GPU or Graviton type is rejected, rule G20).
    Example: `m6i.2xlarge`
    """
    min_size: Int32 = Field(default=2, ge=1)
    """Fewest system nodes. Example: `2`"""
    max_size: Int32 = Field(default=4, ge=1)
    """Most system nodes. Example: `4`"""
    desired_size: Int32 = Field(default=2, ge=1)
    """System nodes to start with, between `minSize` and `maxSize`. Example: `3`"""
    disk_size: Int32 = Field(default=50, ge=20)
    """Root disk of each system node, in GiB. Example: `100`"""


class GpuNodeGroup(_Model):
    """An EKS managed node group of GPU instances (mode eks only). Its nodes are labelled with their instance type
    and tainted `nvidia.com/gpu=true:NoSchedule`, so only GPU workloads land there.
    """

    name: line(40) = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Short name of the group; the node group is named `<cluster name>-<name>`. Example: `g5`"""
    instance_type: line(64)
    """EC2 GPU instance type, without the `ml.` prefix. Example: `g5.12xlarge`"""
    min_size: Int32 = Field(default=0, ge=0)
    """Fewest nodes. Example: `0`"""
    max_size: Int32 = Field(default=2, ge=1)
    """Most nodes. Example: `4`"""
    desired_size: Int32 = Field(default=1, ge=0)
    """Nodes to start with, between `minSize` and `maxSize`. Example: `1`"""
    disk_size: Int32 = Field(default=200, ge=50)
    """Root disk of each node, in GiB (gp3 through a launch template when `capacityReservationId` is set). Example:
    `400`
    """
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = "AL2023_x86_64_NVIDIA"
    """EKS AMI type of the nodes, with NVIDIA drivers. Example: `BOTTLEROCKET_x86_64_NVIDIA`"""
    capacity_type: Literal["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"] = "ON_DEMAND"
    """How the instances are bought: on demand, spot, or from a capacity block (which needs
    `capacityReservationId`). Example: `SPOT`
    """
    capacity_reservation_id: Optional[line(20)] = Field(default=None, pattern=r"^cr-[0-9a-f]{8,17}$")
    """Capacity reservation the nodes launch into, e.g. a capacity block; required with `capacityType:
    CAPACITY_BLOCK`. Unset: no reservation. Example: `cr-0123456789abcdef0`
    """
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Extra Kubernetes labels on the nodes, added to the stack's own (node role, instance type). Example: `{team:
    research}`
    """


class LifecycleScripts(_Model):
    """The lifecycle scripts a HyperPod instance group runs when an instance is created. The cluster's execution
    role gets read access to the bucket.
    """

    source_s3_uri: line(1024) = Field(pattern=r"^s3://[^/]+(/.*)?$")
    """S3 folder that holds the lifecycle scripts. Example: `s3://my-hyperpod-scripts/lifecycle/`"""
    on_create: line(255) = "on_create.sh"
    """Script in that folder that runs when an instance is created. Example: `on_create.sh`"""


class KubernetesTaint(_Model):
    """A Kubernetes taint put on every node of a HyperPod instance group."""

    key: LabelKey
    """Taint key. Example: `dedicated`"""
    value: Optional[LabelValue] = None
    """Taint value. Unset: no value. Example: `inference`"""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    """What the taint does to pods that do not tolerate it. Example: `NoExecute`"""


class InstanceGroup(_Model):
    """A SageMaker HyperPod instance group (mode hyperpod only): GPU instances that join the EKS cluster as nodes."""

    name: line(63) = Field(min_length=1, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    """Name of the instance group. Example: `gpu-g5`"""
    instance_type: line(64)
    """GPU instance type; the `ml.` prefix is added when missing. Example: `ml.g5.12xlarge`"""
    instance_count: Int32 = Field(default=1, ge=0)
    """Number of instances. Example: `2`"""
    volume_size_gb: Int32 = Field(default=500, ge=1)
    """EBS volume attached to each instance, in GB, mounted at `/opt/sagemaker`; the stack's default lifecycle
    script puts containerd's images and the kubelet's pod storage on it. Example: `1000`"""
    lifecycle: Optional[LifecycleScripts] = None
    """Your own lifecycle scripts, run on instance creation. Unset: the stack uploads its own `on_create.sh` to a
    private bucket it creates; the script moves containerd and the kubelet onto the `/opt/sagemaker` volume, as
    AWS's base configuration does. Example: `{sourceS3Uri: s3://my-hyperpod-scripts/lifecycle/}`
    """
    deep_health_checks: list[Literal["InstanceStress", "InstanceConnectivity"]] = Field(
        default_factory=lambda: ["InstanceStress", "InstanceConnectivity"]
    )
    """Deep health checks HyperPod runs when instances start; an empty list runs none. Example: `[InstanceStress]`"""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Extra Kubernetes labels on the nodes, added to the stack's own (node role, instance type). Example: `{team:
    research}`
    """
    taints: list[KubernetesTaint] = Field(default_factory=list)
    """Kubernetes taints on the nodes. Example: `[{key: dedicated, value: inference, effect: NoSchedule}]`"""
    threads_per_core: Literal[1, 2] = 1
    """Threads per CPU core: `1` turns hyperthreading off, `2` on. Example: `2`"""
    training_plan_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "sagemaker:")
    """SageMaker training plan whose reserved capacity the group uses. Unset: none. Example:
    `arn:aws:sagemaker:us-east-1:123456789012:training-plan/my-plan`
    """


class ClusterSpec(_Model):
    """The Kubernetes cluster: a new EKS cluster (`mode: eks`), a new EKS cluster orchestrating a SageMaker
    HyperPod cluster (`mode: hyperpod`), or an existing cluster the stack adopts without creating any AWS
    resource for it (`mode: existing`).
    """

    mode: Literal["eks", "hyperpod", "existing"]
    """Which cluster: a new EKS cluster, a new EKS cluster with a HyperPod cluster, or an existing cluster (nothing
    created in AWS for it). Example: `eks`
    """
    name: line(100) = Field(min_length=1, pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
    """Name of the EKS cluster: the one created (modes eks and hyperpod) or the one adopted (mode existing). Node
    group names and the HyperPod cluster's name derive from it. Example: `llm-dev`
    """
    kubernetes_version: line(8) = Field(default="1.33", pattern=r"^1\.\d{2}$")
    """Kubernetes version of a new EKS cluster (ignored in mode existing). Example: `"1.33"`"""
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    """VPC of a new cluster (ignored in mode existing). Example: `{cidr: 10.20.0.0/16, availabilityZones: 3}`"""
    admin_principal_arns: list[line(2048)] = Field(default_factory=list)
    """IAM principals given cluster-admin on a new cluster through EKS access entries
    (AmazonEKSClusterAdminPolicy); ignored in mode existing. Example:
    `[arn:aws:iam::123456789012:role/platform-admins]`
    """
    system_nodes: SystemNodes = Field(default_factory=SystemNodes)
    """CPU node group of a new cluster (ignored in mode existing). Example: `{instanceType: m6i.2xlarge,
    desiredSize: 3}`
    """
    gpu_node_groups: list[GpuNodeGroup] = Field(default_factory=list)
    """GPU managed node groups (mode eks only; rejected in other modes). Unset or empty: one group per endpoint
    instance type (NVIDIA AMI, the stack's GPU labels and taint), `desiredSize` and `maxSize` the endpoints'
    replicas (their autoscaling maximum when set), announced in the plan. Example: `[{name: g5, instanceType:
    g5.12xlarge}]`
    """
    instance_groups: list[InstanceGroup] = Field(default_factory=list)
    """HyperPod instance groups (mode hyperpod only; rejected in other modes). Unset or empty: one group per
    endpoint instance type, sized for the endpoints' replicas (their autoscaling maximum when set). Example:
    `[{name: gpu, instanceType: ml.g5.12xlarge, instanceCount: 2}]`
    """
    hyperpod_name: Optional[line(63)] = None
    """Name of the HyperPod cluster (mode hyperpod); characters other than letters, digits and `-` become `-`.
    Unset: `<name>-hp`. Example: `llm-dev-hyperpod`
    """
    node_recovery: Literal["Automatic", "None"] = "Automatic"
    """Whether HyperPod replaces faulty instances automatically (mode hyperpod). Example: `None`"""
    kubeconfig_path: Optional[Line] = None
    """Mode existing: a kubeconfig file to reach the cluster (`~` is expanded). Unset: a kubeconfig built from `aws
    eks` data of the cluster `name`, which authenticates with `aws eks get-token`. Example:
    `~/.kube/llm-prod.yaml`
    """
    hyperpod_cluster_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "sagemaker:")
    """Mode existing only: ARN of the HyperPod cluster this EKS cluster orchestrates. It says the HyperPod operator
    runs there (so endpoints default to the hyperpod backend) and is passed to the operator. Example:
    `arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdef123456`
    """
    endpoint_public_access: bool = True
    """Expose the EKS API endpoint of a new cluster to the internet (to `publicAccessCidrs`); `false`: reachable
    from inside the VPC only. Ignored in mode existing. Example: `false`
    """
    public_access_cidrs: list[line(43)] = Field(default_factory=lambda: ["0.0.0.0/0"])
    """Networks allowed to reach the public EKS API of a new cluster; ignored (with a warning) when
    `endpointPublicAccess` is false. `pulumi up` must be inside one of them, so an empty list or a documentation
    range (RFC 5737, RFC 3849) is an error; security rule S4 rejects `0.0.0.0/0` outside dev stacks. Example:
    `[34.201.17.8/32]`
    """
    tags: dict[Line, Line] = Field(default_factory=dict)
    """AWS tags on every taggable AWS resource the stack creates, and on the ALBs of the load balancer controller
    it installs. At most 40; keys starting with `llm-serving/` or `aws:` are reserved, and `=` is not allowed in
    keys. Example: `{team: ml-platform, cost-center: "1234"}`
    """


class DomainSpec(_Model):
    """A DNS domain of a Route53 hosted zone under which the stack names each ALB endpoint
    `<Kubernetes name>.<name>` and for which it issues a wildcard ACM certificate `*.<name>`, validated by
    DNS records in that zone (rule S2).
    """

    name: DnsSubdomain
    """Domain under which the endpoints get their names; lowercase. Example: `api.example.com`"""
    hosted_zone_id: line(32) = Field(pattern=r"^Z[A-Z0-9]+$")
    """Route53 hosted zone that serves `name` (the validation and endpoint records go there). Example:
    `Z0123456789ABCDEFGHIJ`
    """


class IngressSpec(_Model):
    """The ALB the stack declares per endpoint: in front of the HyperPod operator's router (hyperpod backend with
    `publicAlb`; an internal HyperPod endpoint uses the operator's own ALB) or of the endpoint's Service (kubernetes and kserve backends with `loadBalancer:
    alb`). Rules G8, G16, G17.
    """

    certificate_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "acm:")
    """ACM certificate for HTTPS: the ALB then listens on 443 too, redirects HTTP to HTTPS and the endpoint URLs
    use `https`. With `domain`, it must cover `*.<domain.name>`. Unset: the certificate the stack issues for
    `domain`, else HTTP on port 80 only, which rule S2 refuses for an internet-facing ALB. Example:
    `arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef`
    """
    domain: Optional[DomainSpec] = None
    """Name every ALB endpoint `<Kubernetes name>.<domain.name>` in the Route53 zone `hostedZoneId` and serve it
    over HTTPS; without `certificateArn` the stack issues an ACM certificate for `*.<domain.name>` with DNS
    validation. The endpoint URLs then use these names. Example: `{name: api.example.com, hostedZoneId:
    Z0123456789ABCDEFGHIJ}`
    """
    allow_plaintext_api_key: bool = False
    """Dev stacks only (the stack names S4 treats as dev: `dev`, `dev-*`, `*-dev`): let an internet-facing ALB
    without a certificate carry an API key, which then crosses the internet in clear text. Refused in every other
    stack; the plan warns on every run while it is set (rule S2). Example: `true`
    """
    inbound_cidrs: list[line(43)] = Field(default_factory=list)
    """Networks allowed to reach an internet-facing ALB (`publicAlb: true` only). Empty: anywhere. Example:
    `[203.0.113.0/24]`
    """
    router_service: NameTemplate = "{name}-router"
    """Name of the operator's router Service of an endpoint (hyperpod backend with `publicAlb`), the last fallback of
    its lookup; `{name}` is the endpoint's Kubernetes name. AWS documents neither the router Service's name nor its
    port, so `pulumi up` finds it in `hyperpod-inference-system` once the endpoint reports DeploymentComplete: the
    Service owned by the endpoint or by its router Deployment, selecting the router's pods or carrying its name; only
    when none is tied to the router, or to choose among several, the one of this name. Example: `{name}-router`
    """
    router_port: Optional[Int32] = Field(default=None, ge=1, le=65535)
    """Port of the router Service the public ALB forwards to (hyperpod backend with `publicAlb`). Unset: the found
    Service's only port, or the one whose targetPort is a port of the router container; 8080 where the cluster is
    not read (offline plan). Example: `443`
    """
    router_protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    """Protocol the ALB speaks to the router, for traffic and health checks (hyperpod backend with intelligent
    routing; the kubernetes and kserve ALBs always use HTTP). Example: `HTTPS`
    """
    idle_timeout_seconds: Int32 = Field(default=600, ge=1, le=4000)
    """ALB idle timeout in seconds; long generations need a long one. Example: `900`"""


class PlatformSpec(_Model):
    """Platform add-ons and the HyperPod inference operator. Each add-on is a switch; unset means the default of
    the cluster mode (shown in the Default column). Add-ons are installed in dependency order, the operator last
    (rule G20).
    """

    load_balancer_controller: Optional[bool] = None
    """Install the AWS Load Balancer Controller (Helm), which creates the ALBs and NLBs of the endpoints. Example:
    `true`
    """
    nvidia_device_plugin: Optional[bool] = None
    """Install the NVIDIA device plugin (Helm), which makes nodes advertise `nvidia.com/gpu`; without it GPU pods
    stay Pending. In mode hyperpod this switches the HyperPod chart's own plugin, installed before the HyperPod
    cluster (rule O7). Example: `true`
    """
    cert_manager: Optional[bool] = None
    """Install cert-manager (Helm; in mode hyperpod the EKS add-on, as the HyperPod operator's setup requires), needed
    by KEDA, KServe and the HyperPod operator. Example: `true`
    """
    s3_csi: Optional[bool] = None
    """Install the Mountpoint for S3 CSI driver (EKS add-on) with a role that may read the endpoints' S3 model
    buckets (every bucket when no endpoint uses S3). Example: `true`
    """
    fsx_csi: Optional[bool] = None
    """Install the FSx for Lustre CSI driver (EKS add-on). Example: `true`"""
    metrics_server: Optional[bool] = None
    """Install metrics-server (Helm; in mode hyperpod the EKS add-on, as the HyperPod operator's setup requires).
    Example: `true`
    """
    keda: Optional[bool] = None
    """Install KEDA (Helm), needed by the HyperPod operator (its autoscaling triggers) and by OME. Example: `true`"""
    ome_operator: Optional[Union[bool, Literal["auto"]]] = None
    """Install OME (upstream charts `ome-crd` and `ome-resources` 0.1.5 from `oci://ghcr.io/moirai-internal/charts`,
    namespace `ome`), after cert-manager and KEDA and before every `ome` endpoint (rules O3, O8). `auto`: when an
    endpoint of this stack has `backend: ome`. An endpoints-only stack installs nothing: its platform stack sets
    this. Example: `true`
    """
    kserve_operator: Optional[Union[bool, Literal["auto"]]] = None
    """Install KServe (upstream charts `kserve-crd` and `kserve-resources` v0.20.0 from `oci://ghcr.io/kserve/charts`,
    namespace `kserve`) in Standard mode (RawDeployment: plain Deployments, no Knative or Istio), after cert-manager
    and before every `kserve` endpoint (rules O3, O8). `auto`: when an endpoint of this stack has `backend: kserve`.
    An endpoints-only stack installs nothing: its platform stack sets this. Example: `auto`
    """
    hyperpod_operator: Optional[bool] = None
    """Install the SageMaker HyperPod inference operator, after all of its prerequisites. In mode existing, `true`
    installs it on the adopted cluster and makes endpoints default to the hyperpod backend. Example: `true`
    """
    operator_install: Literal["addon", "helm"] = "addon"
    """How the operator is installed: the EKS add-on, or its Helm chart (the inference-operator subchart
    of the HyperPod chart that `python -m stacks charts fetch` caches; see docs/deploying.md). Example: `helm`
    """
    operator_addon_version: Optional[line(64)] = None
    """Version of the operator's EKS add-on (`operatorInstall: addon` only). Unset: the latest EKS offers. Example:
    `v1.0.0-eksbuild.1`
    """
    workload_identity: Literal["pod-identity", "irsa"] = "pod-identity"
    """How add-on service accounts get AWS roles: EKS Pod Identity (the stack installs its agent on a new cluster)
    or IRSA. The operator itself always uses IRSA. Example: `irsa`
    """
    tls_certificate_bucket: Optional[line(63)] = None
    """S3 bucket where the operator stores TLS certificates. Unset: a bucket the stack creates
    (`hyperpod-tls-...`). Example: `my-hyperpod-tls`
    """
    load_balancer_controller_policy_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "iam::")
    """IAM policy for the load balancer controller's role, when your account manages it itself. Unset: the
    stack attaches upstream's policy (docs/install/iam_policy.json of aws-load-balancer-controller v2.13.2) as an
    inline policy. Example:
    `arn:aws:iam::123456789012:policy/AWSLoadBalancerControllerIAMPolicy`
    """
    operator_role_name: line(64) = Field(default="SageMakerHyperPodInference-{cluster}", pattern=r"^([A-Za-z0-9_+=,.@-]|\{cluster\})+$")
    """Name of the operator's IAM execution role; `{cluster}` is replaced by the cluster name, and a name over 64
    characters is shortened with a hash. The add-on requires the prefix `SageMakerHyperPodInference` (rule G20).
    Example: `SageMakerHyperPodInference-{cluster}`
    """
    prometheus_server_address: Optional[line(2048)] = Field(default=None, pattern=AMP_WORKSPACE_PATTERN)
    """Amazon Managed Service for Prometheus workspace that holds the engines' metrics, for the HyperPod operator's
    Prometheus triggers (KEDA queries it with its role's `aps:QueryMetrics`), without a trailing slash (the CRD's
    pattern). The stack creates no workspace and scrapes nothing into one: the engines' `/metrics` must reach it by
    other means (the HyperPod observability add-on names its workspace in its configuration,
    `ampWorkspace.prometheusEndpoint`). Unset: no Prometheus, so HyperPod autoscaling needs a `cloudwatch` trigger or
    a `prometheus` trigger with its own `serverAddress` (rule A1). Example:
    `https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234abcd-5678-90ef-1234-567890abcdef`
    """
    ingress: IngressSpec = Field(default_factory=IngressSpec)
    """ALB settings shared by all endpoints. Example: `{certificateArn:
    arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef}`
    """


# ---------------------------------------------------------------- the tenant gateway (docs/gateway.md)

_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class GatewayTier(_Model):
    """A tier of tenant keys and its budget per key and per minute."""

    name: line(40) = Field(min_length=1, pattern=_LABEL)
    """Tier name, a lowercase DNS label; tenants name it in `tier` and their key Secret carries it as label
    `llm-serving/tier`. Example: `free`
    """
    tokens_per_minute: Optional[Int32] = Field(default=None, gt=0)
    """Tokens each key of this tier may use per minute, counted from the responses' `usage.total_tokens`
    (streams at their end). Required: a tier without it has no token limit (rule T1). Example: `200`
    """
    requests_per_minute: Optional[Int32] = Field(default=None, gt=0)
    """Requests each key of this tier may send per minute, besides the token budget. Unset: no request limit.
    Example: `20`
    """


class GatewayTenant(_Model):
    """One tenant: one API key, in one tier, for some or all endpoints."""

    name: line(40) = Field(min_length=1, pattern=_LABEL)
    """Tenant name, a lowercase DNS label: the client ID of its key and the bucket its usage is counted in.
    Removing a tenant revokes its key. Example: `team-a`
    """
    tier: line(40) = Field(min_length=1)
    """The tier (one of `tiers[].name`, rule T2). Example: `free`"""
    models: Optional[list[line(253)]] = None
    """Endpoint names (`endpoints[].name`) this tenant may call (rule T2). Unset: every endpoint. Example:
    `[qwen3-4b-vllm]`
    """
    rotation: line(64) = ""
    """Keeper of the tenant's generated key: change it (e.g. to a date) and `pulumi up` issues a new key and
    the old one stops working. Example: `2026-11`
    """


class GatewaySpec(_Model):
    """The tenant gateway in front of every endpoint (Envoy AI Gateway on Envoy Gateway, docs/gateway.md):
    per-tenant API keys in tiers with token limits per minute counted from response usage. Rules T1-T3.
    """

    enabled: bool = False
    """Declare the gateway, its controllers and its counter store. Example: `true`"""
    public: bool = False
    """Put the gateway behind an internet-facing ALB; it carries tenant keys, so it needs `certificateArn`
    (rule T3). `false`: an internal ALB. Example: `true`
    """
    certificate_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "acm:")
    """ACM certificate of the gateway's ALB (HTTPS on 443, HTTP redirected). Example:
    `arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef`
    """
    inbound_cidrs: list[line(43)] = Field(default_factory=list)
    """Networks allowed to reach a public gateway. Empty: anywhere. Example: `[203.0.113.0/24]`"""
    namespace: line(63) = Field(default="llm-gateway", pattern=_LABEL)
    """Namespace of the gateway's routes, policies and tenant key Secrets. Example: `llm-gateway`"""
    counter_store: Optional[Literal["in-cluster", "elasticache"]] = None
    """Where the rate-limit counters live: an in-cluster Redis, or ElastiCache for Redis with TLS and an auth
    token. Unset: in-cluster on dev stacks (`dev`, `dev-*`, `*-dev`), ElastiCache otherwise. Example:
    `elasticache`
    """
    cache_node_type: line(64) = "cache.t4g.small"
    """ElastiCache node type (`counterStore: elasticache`). Example: `cache.m7g.large`"""
    tiers: list[GatewayTier] = Field(default_factory=list)
    """The tiers. Example: `[{name: free, tokensPerMinute: 200, requestsPerMinute: 20}, {name: premium,
    tokensPerMinute: 1000}]`
    """
    tenants: list[GatewayTenant] = Field(default_factory=list)
    """The tenants, one key each. Example: `[{name: team-a, tier: free, models: [qwen3-4b-vllm]}]`"""
