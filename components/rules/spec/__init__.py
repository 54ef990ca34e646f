"""Typed endpoint, cluster, platform and gateway specs: what a user writes in `Pulumi.<env>.yaml`, parsed once.

Keys are camelCase in config (`instanceType`) and snake_case in code (`instance_type`). Unknown keys
are errors, so a typo never silently falls back to a default. One module per domain; this package
re-exports every model.
"""

from .base import _Model
from .cluster import (
    _ARN,
    ClusterSpec,
    GpuNodeGroup,
    InstanceGroup,
    KubernetesTaint,
    LifecycleScripts,
    NetworkSpec,
    SystemNodes,
)
from .endpoint import (
    HYPERPOD_MOVED,
    BackendName,
    EndpointSpec,
    GatewayRef,
    HyperPodBackend,
    KubernetesBackend,
    LlmisvcBackend,
    LoadBalancer,
    OmeBackend,
    OmeBenchmark,
    moved_hyperpod_keys,
)
from .engine_args import EngineArgs, KvCache
from .gateway import _LABEL, GatewaySpec, GatewayTenant, GatewayTier
from .hyperpod_options import PdRole, PdSpec, RequestLimits
from .model_source import FsxSource, HuggingFaceSource, ModelSource, S3Source, SecretKeyRef
from .platform import DomainSpec, IngressSpec, PlatformSpec
from .scaling import (
    AMP_WORKSPACE_PATTERN,
    Autoscaling,
    CloudWatchTrigger,
    Load,
    PodsMetric,
    PrometheusTrigger,
    Resources,
    Slo,
)

__all__ = [
    "_Model",
    "FsxSource",
    "HuggingFaceSource",
    "KvCache",
    "ModelSource",
    "S3Source",
    "SecretKeyRef",
    "EngineArgs",
    "AMP_WORKSPACE_PATTERN",
    "Autoscaling",
    "CloudWatchTrigger",
    "Load",
    "PodsMetric",
    "PrometheusTrigger",
    "Resources",
    "Slo",
    "BackendName",
    "HYPERPOD_MOVED",
    "HyperPodBackend",
    "moved_hyperpod_keys",
    "EndpointSpec",
    "PdRole",
    "PdSpec",
    "RequestLimits",
    "GatewayRef",
    "KubernetesBackend",
    "LlmisvcBackend",
    "LoadBalancer",
    "OmeBackend",
    "OmeBenchmark",
    "ClusterSpec",
    "GpuNodeGroup",
    "InstanceGroup",
    "KubernetesTaint",
    "LifecycleScripts",
    "NetworkSpec",
    "SystemNodes",
    "_ARN",
    "DomainSpec",
    "IngressSpec",
    "PlatformSpec",
    "GatewaySpec",
    "GatewayTenant",
    "GatewayTier",
    "_LABEL",
]
