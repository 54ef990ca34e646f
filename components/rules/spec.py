"""Typed endpoint and cluster specs: what a user writes in `Pulumi.<env>.yaml`, parsed once.

Keys are camelCase in config (`instanceType`) and snake_case in code (`instance_type`). Unknown keys
are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .bounds import MAX_TEXT, DnsSubdomain, Env, ImageReference, Int32, LabelKey, LabelValue, Line, NameTemplate, Number, SecretKey, Text, line


class _Model(BaseModel):
    # No inf/nan: a float lands in a custom resource or a flag, where neither means anything.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, allow_inf_nan=False)


class S3Source(_Model):
    type: Literal["s3"]
    bucket: line(63) = Field(min_length=3)
    region: Optional[line(32)] = None  # defaults to the stack's aws:region
    path: line(1024) = ""  # an S3 key prefix (S3 keys are at most 1024 bytes)


class FsxSource(_Model):
    type: Literal["fsx"]
    file_system_id: line(21) = Field(pattern=r"^fs-[0-9a-f]{8,17}$")
    dns_name: Optional[line(253)] = None
    mount_name: Optional[line(63)] = None
    path: Line = ""


class SecretKeyRef(_Model):
    name: DnsSubdomain
    key: SecretKey = "token"


class HuggingFaceSource(_Model):
    type: Literal["huggingface"]
    model_id: Optional[line(256)] = Field(default=None, pattern=r"^[a-zA-Z0-9_.-]+/[a-zA-Z0-9_.-]+$")
    revision: Optional[line(40)] = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    token_secret: Optional[SecretKeyRef] = None


ModelSource = Annotated[Union[S3Source, FsxSource, HuggingFaceSource], Field(discriminator="type")]


class KvCache(_Model):
    l1: bool = False
    l2: bool = False
    l2_backend: Literal["tieredstorage", "redis"] = "tieredstorage"
    l2_local_url: Optional[Line] = None

    @property
    def enabled(self) -> bool:
        return self.l1 or self.l2


class EngineArgs(_Model):
    """Engine parameters (G10). Every field maps to a flag per engine in rules.engines.PARAMS."""

    max_model_len: Optional[Int32] = Field(default=None, gt=0)
    tensor_parallel_size: Optional[Int32] = Field(default=None, ge=1)
    gpu_memory_utilization: Optional[Number] = Field(default=None, gt=0, le=1)
    max_num_seqs: Optional[Int32] = Field(default=None, ge=1)
    max_num_batched_tokens: Optional[Int32] = Field(default=None, ge=1)
    enable_prefix_caching: Optional[bool] = None
    enforce_eager: Optional[bool] = None
    dtype: Optional[Literal["auto", "float16", "bfloat16", "half", "float32"]] = None
    chat_template: Optional[Text] = None  # a file path or an inline Jinja template
    tool_call_parser: Optional[line(64)] = None
    limit_mm_per_prompt: Optional[Line] = None

    def set_values(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PrometheusTrigger(_Model):
    query: Annotated[Text, Field(max_length=MAX_TEXT // 16)]  # PromQL may span lines
    target_value: Number = Field(gt=0)
    server_address: line(2048) = ""  # an Amazon Managed Prometheus workspace URL, or "" for the operator default


class CloudWatchTrigger(_Model):
    metric_name: line(255)
    namespace: line(255) = "AWS/SageMaker"
    target_value: Number = Field(gt=0)
    statistic: Literal["Average", "Sum", "Maximum", "Minimum", "SampleCount"] = "Average"
    dimensions: dict[line(255), line(1024)] = Field(default_factory=dict)  # CloudWatch's limits


class PodsMetric(_Model):
    """kubernetes backend: a per-pod metric the HorizontalPodAutoscaler reads (needs a custom-metrics
    adapter such as prometheus-adapter exposing the engine's Prometheus metric)."""

    name: line(253) = Field(min_length=1)
    target_average_value: Number = Field(gt=0)


class Autoscaling(_Model):
    min_replicas: Int32 = Field(default=1, ge=0)
    max_replicas: Int32 = Field(default=4, ge=1)
    prometheus: Optional[PrometheusTrigger] = None  # hyperpod backend (the operator's KEDA triggers)
    cloudwatch: Optional[CloudWatchTrigger] = None  # hyperpod backend
    pods_metric: Optional[PodsMetric] = None  # kubernetes backend (HPA); default: the engine's queue length
    cooldown_seconds: Int32 = Field(default=300, ge=0)


class Resources(_Model):
    cpu: Optional[line(64)] = None
    memory: Optional[line(64)] = None
    ephemeral_storage: line(64) = "50Gi"  # G13: explicit, within node capacity


Backend = Literal["hyperpod", "kubernetes", "ome", "kserve"]
BACKENDS: tuple[str, ...] = ("hyperpod", "kubernetes", "ome", "kserve")


class KubernetesBackend(_Model):
    """Options of the plain Deployment backend."""

    weights: Literal["s3-csi", "init-container"] = "s3-csi"  # how S3 model files reach the pod
    service_account_name: Optional[DnsSubdomain] = None  # needs S3 read access for weights: init-container
    init_image: ImageReference = "public.ecr.aws/aws-cli/aws-cli:2.27.50"  # runs `aws s3 sync` before the engine


class OmeBenchmark(_Model):
    """An OME BenchmarkJob against the endpoint (genai-bench); results go to a PVC or object storage."""

    output_location: Line = Field(min_length=1)  # pvc://<claim>/<subpath> or oci://... (autotuner bugs 4, 5)
    image: Optional[ImageReference] = None  # default: the OME controller's genai-bench image
    task: Literal["text-to-text", "image-to-text", "text-to-embeddings", "image-to-embeddings"] = "text-to-text"
    traffic_scenarios: list[line(256)] = Field(default_factory=lambda: ["D(100,100)"])
    num_concurrency: list[Int32] = Field(default_factory=lambda: [1, 4])
    max_time_per_iteration: Int32 = Field(default=15, ge=1)  # minutes
    max_requests_per_iteration: Int32 = Field(default=100, ge=1)


class OmeBackend(_Model):
    """Options of the OME backend. The stack declares a ClusterBaseModel and a ClusterServingRuntime
    per endpoint unless `baseModel` names an existing ClusterBaseModel."""

    base_model: Optional[DnsSubdomain] = None
    model_format: line(253) = "safetensors"
    model_framework: line(253) = "transformers"
    benchmark: Optional[OmeBenchmark] = None


class EndpointSpec(_Model):
    name: line(253) = Field(min_length=1)
    model: line(1024) = Field(min_length=1)
    engine: Literal["vllm", "sglang"]
    instance_type: line(64)
    model_source: ModelSource
    image: Optional[ImageReference] = None
    replicas: Int32 = Field(default=1, ge=0)
    namespace: line(253) = "default"  # checked as a DNS label by rule G2, with a suggestion
    port: Optional[Int32] = Field(default=None, ge=1024, le=65535)
    intelligent_routing: bool = False
    routing_strategy: Literal["prefixaware", "kvaware", "session", "roundrobin"] = "prefixaware"
    public_alb: bool = False
    api_key: bool = False
    kv_cache: Optional[KvCache] = None
    prefetch: Optional[bool] = None
    engine_args: EngineArgs = Field(default_factory=EngineArgs)
    extra_args: list[Line] = Field(default_factory=list)
    env: Env = Field(default_factory=dict)
    invocation_endpoint: Literal["v1/chat/completions", "v1/completions"] = "v1/chat/completions"
    autoscaling: Optional[Autoscaling] = None
    resources: Resources = Field(default_factory=Resources)
    max_deploy_seconds: Int32 = Field(default=3600, ge=60)
    sagemaker_endpoint: bool = True  # register a SageMaker endpoint (spec.endpointName)
    tls_certificate_s3_uri: Optional[Line] = Field(default=None, pattern=r"^s3://([^/]+)/?(.*)$")
    # G9: use this Secrets Manager secret (its SecretString) as the API key instead of generating one.
    api_key_secret_arn: Optional[line(2048)] = Field(default=None, pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
    # How the endpoint runs; unset: derived from the cluster (components.rules.backends.default_backend).
    backend: Optional[Backend] = None
    # kubernetes/kserve backends: an ALB Ingress (default), an NLB Service, or in-cluster only.
    load_balancer: Literal["alb", "nlb", "none"] = "alb"
    kubernetes: KubernetesBackend = Field(default_factory=KubernetesBackend)
    ome: OmeBackend = Field(default_factory=OmeBackend)


# ---------------------------------------------------------------- clusters and platform

_ARN = r"^arn:aws[a-z-]*:"


class NetworkSpec(_Model):
    """A new VPC (default) or the subnets of an existing one."""

    vpc_id: Optional[line(21)] = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    private_subnet_ids: list[line(24)] = Field(default_factory=list)
    public_subnet_ids: list[line(24)] = Field(default_factory=list)
    cidr: line(18) = Field(default="10.0.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-4])$")
    availability_zones: Int32 = Field(default=2, ge=2, le=4)
    single_nat_gateway: bool = True  # one NAT for the VPC: cheaper; false = one per AZ

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None


class SystemNodes(_Model):
    """The small CPU node group for the operator, controllers and add-ons (amd64, G20)."""

    instance_type: line(64) = "m6i.xlarge"
    min_size: Int32 = Field(default=2, ge=1)
    max_size: Int32 = Field(default=4, ge=1)
    desired_size: Int32 = Field(default=2, ge=1)
    disk_size: Int32 = Field(default=50, ge=20)


class GpuNodeGroup(_Model):
    """An EKS managed node group of GPU instances (mode eks)."""

    name: line(40) = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    instance_type: line(64)
    min_size: Int32 = Field(default=0, ge=0)
    max_size: Int32 = Field(default=2, ge=1)
    desired_size: Int32 = Field(default=1, ge=0)
    disk_size: Int32 = Field(default=200, ge=50)
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = "AL2023_x86_64_NVIDIA"
    capacity_type: Literal["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"] = "ON_DEMAND"
    capacity_reservation_id: Optional[line(20)] = Field(default=None, pattern=r"^cr-[0-9a-f]{8,17}$")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)


class LifecycleScripts(_Model):
    source_s3_uri: line(1024) = Field(pattern=r"^s3://[^/]+(/.*)?$")
    on_create: line(255) = "on_create.sh"


class KubernetesTaint(_Model):
    key: LabelKey
    value: Optional[LabelValue] = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class InstanceGroup(_Model):
    """A SageMaker HyperPod instance group (mode hyperpod)."""

    name: line(63) = Field(min_length=1, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    instance_type: line(64)  # ml.g5.12xlarge (the ml. prefix is added when missing)
    instance_count: Int32 = Field(default=1, ge=0)
    volume_size_gb: Int32 = Field(default=500, ge=1)
    lifecycle: Optional[LifecycleScripts] = None  # omitted: HyperPod's own bootstrap
    deep_health_checks: list[Literal["InstanceStress", "InstanceConnectivity"]] = Field(
        default_factory=lambda: ["InstanceStress", "InstanceConnectivity"]
    )
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    taints: list[KubernetesTaint] = Field(default_factory=list)
    threads_per_core: Literal[1, 2] = 1
    training_plan_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "sagemaker:")


class ClusterSpec(_Model):
    mode: Literal["eks", "hyperpod", "existing"]
    name: line(100) = Field(min_length=1, pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
    kubernetes_version: line(8) = Field(default="1.33", pattern=r"^1\.\d{2}$")
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    admin_principal_arns: list[line(2048)] = Field(default_factory=list)  # access entries with cluster-admin
    system_nodes: SystemNodes = Field(default_factory=SystemNodes)
    gpu_node_groups: list[GpuNodeGroup] = Field(default_factory=list)  # mode eks
    instance_groups: list[InstanceGroup] = Field(default_factory=list)  # mode hyperpod
    hyperpod_name: Optional[line(63)] = None  # default: <name>-hp
    node_recovery: Literal["Automatic", "None"] = "Automatic"
    kubeconfig_path: Optional[Line] = None  # mode existing: a kubeconfig file instead of `aws eks` data
    hyperpod_cluster_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "sagemaker:")  # mode existing
    endpoint_public_access: bool = True
    public_access_cidrs: list[line(43)] = Field(default_factory=lambda: ["0.0.0.0/0"])
    tags: dict[Line, Line] = Field(default_factory=dict)  # AWS tag rules: platform.validate_tags


class IngressSpec(_Model):
    """The ALB the stack declares per endpoint (G8, G16, G17)."""

    certificate_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "acm:")  # HTTPS on 443 when set
    inbound_cidrs: list[line(43)] = Field(default_factory=list)  # internet-facing only; default: anywhere
    # The operator's router Service for an endpoint (intelligent routing). `{name}` is the endpoint's
    # Kubernetes name. Check with `kubectl get svc -n hyperpod-inference-system` on your operator version.
    router_service: NameTemplate = "{name}-router"
    router_port: Int32 = Field(default=8080, ge=1, le=65535)
    router_protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    idle_timeout_seconds: Int32 = Field(default=600, ge=1, le=4000)  # long generations


class PlatformSpec(_Model):
    """Platform add-ons. Each is a switch; unset means the default of the cluster mode
    (`components.rules.platform.DEFAULTS`)."""

    load_balancer_controller: Optional[bool] = None
    nvidia_device_plugin: Optional[bool] = None
    cert_manager: Optional[bool] = None
    s3_csi: Optional[bool] = None
    fsx_csi: Optional[bool] = None
    metrics_server: Optional[bool] = None
    keda: Optional[bool] = None
    hyperpod_operator: Optional[bool] = None
    operator_install: Literal["addon", "helm"] = "addon"
    operator_addon_version: Optional[line(64)] = None  # default: the latest EKS offers
    workload_identity: Literal["pod-identity", "irsa"] = "pod-identity"
    tls_certificate_bucket: Optional[line(63)] = None  # default: a bucket the stack creates
    # The upstream controller policy (docs/install/iam_policy.json) created in your account; default:
    # the stack's own, coarser policy.
    load_balancer_controller_policy_arn: Optional[line(2048)] = Field(default=None, pattern=_ARN + "iam::")
    operator_role_name: line(64) = Field(default="SageMakerHyperPodInference-{cluster}", pattern=r"^([A-Za-z0-9_+=,.@-]|\{cluster\})+$")
    ingress: IngressSpec = Field(default_factory=IngressSpec)
