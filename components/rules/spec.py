"""Typed endpoint and cluster specs: what a user writes in `Pulumi.<env>.yaml`, parsed once.

Keys are camelCase in config (`instanceType`) and snake_case in code (`instance_type`). Unknown keys
are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class S3Source(_Model):
    type: Literal["s3"]
    bucket: str = Field(min_length=3, max_length=63)
    region: Optional[str] = None  # defaults to the stack's aws:region
    path: str = ""


class FsxSource(_Model):
    type: Literal["fsx"]
    file_system_id: str = Field(pattern=r"^fs-[0-9a-f]{8,17}$")
    dns_name: Optional[str] = None
    mount_name: Optional[str] = None
    path: str = ""


class SecretKeyRef(_Model):
    name: str
    key: str = "token"


class HuggingFaceSource(_Model):
    type: Literal["huggingface"]
    model_id: Optional[str] = Field(default=None, pattern=r"^[a-zA-Z0-9_.-]+/[a-zA-Z0-9_.-]+$")
    revision: Optional[str] = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    token_secret: Optional[SecretKeyRef] = None


ModelSource = Annotated[Union[S3Source, FsxSource, HuggingFaceSource], Field(discriminator="type")]


class KvCache(_Model):
    l1: bool = False
    l2: bool = False
    l2_backend: Literal["tieredstorage", "redis"] = "tieredstorage"
    l2_local_url: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return self.l1 or self.l2


class EngineArgs(_Model):
    """Engine parameters (G10). Every field maps to a flag per engine in rules.engines.PARAMS."""

    max_model_len: Optional[int] = Field(default=None, gt=0)
    tensor_parallel_size: Optional[int] = Field(default=None, ge=1)
    gpu_memory_utilization: Optional[float] = Field(default=None, gt=0, le=1)
    max_num_seqs: Optional[int] = Field(default=None, ge=1)
    max_num_batched_tokens: Optional[int] = Field(default=None, ge=1)
    enable_prefix_caching: Optional[bool] = None
    enforce_eager: Optional[bool] = None
    dtype: Optional[Literal["auto", "float16", "bfloat16", "half", "float32"]] = None
    chat_template: Optional[str] = None
    tool_call_parser: Optional[str] = None
    limit_mm_per_prompt: Optional[str] = None

    def set_values(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PrometheusTrigger(_Model):
    query: str
    target_value: float = Field(gt=0)
    server_address: str = ""  # an Amazon Managed Prometheus workspace URL, or "" for the operator default


class CloudWatchTrigger(_Model):
    metric_name: str
    namespace: str = "AWS/SageMaker"
    target_value: float = Field(gt=0)
    statistic: Literal["Average", "Sum", "Maximum", "Minimum", "SampleCount"] = "Average"
    dimensions: dict[str, str] = Field(default_factory=dict)


class Autoscaling(_Model):
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=4, ge=1)
    prometheus: Optional[PrometheusTrigger] = None
    cloudwatch: Optional[CloudWatchTrigger] = None
    cooldown_seconds: int = Field(default=300, ge=0)


class Resources(_Model):
    cpu: Optional[str] = None
    memory: Optional[str] = None
    ephemeral_storage: str = "50Gi"  # G13: explicit, within node capacity


class EndpointSpec(_Model):
    name: str = Field(min_length=1)
    model: str = Field(min_length=1)
    engine: Literal["vllm", "sglang"]
    instance_type: str
    model_source: ModelSource
    image: Optional[str] = None
    replicas: int = Field(default=1, ge=0)
    namespace: str = "default"
    port: Optional[int] = Field(default=None, ge=1024, le=65535)
    intelligent_routing: bool = False
    routing_strategy: Literal["prefixaware", "kvaware", "session", "roundrobin"] = "prefixaware"
    public_alb: bool = False
    api_key: bool = False
    kv_cache: Optional[KvCache] = None
    prefetch: Optional[bool] = None
    engine_args: EngineArgs = Field(default_factory=EngineArgs)
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    invocation_endpoint: Literal["v1/chat/completions", "v1/completions"] = "v1/chat/completions"
    autoscaling: Optional[Autoscaling] = None
    resources: Resources = Field(default_factory=Resources)
    max_deploy_seconds: int = Field(default=3600, ge=60)
    sagemaker_endpoint: bool = True  # register a SageMaker endpoint (spec.endpointName)
    tls_certificate_s3_uri: Optional[str] = Field(default=None, pattern=r"^s3://([^/]+)/?(.*)$")


class ClusterSpec(_Model):
    mode: Literal["eks", "hyperpod", "existing"]
    name: str = Field(min_length=1, max_length=100)
