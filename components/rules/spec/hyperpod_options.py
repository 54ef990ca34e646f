"""HyperPod operator options of an endpoint beyond one instance type and one worker Deployment: an ordered list of
instance types, the worker's request limits, and disaggregated prefill and decode (DPD).

Each maps to one field of the operator's InferenceEndpointConfig v1 (CRD `inference.sagemaker.aws.amazon.com_
inferenceendpointconfigs.yaml`, aws/sagemaker-hyperpod-cli@011ca927 helm_chart/HyperPodHelmChart/charts/
inference-operator/config/crd). The hyperpod backend only; the others refuse them (backends.validate_backends).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ..bounds import ONE_LINE, Int32, Number
from .base import _Model
from .scaling import Autoscaling

# PD_BUFFER_SIZE of AWS's DPD page: 8 GiB, "GPU buffer reserved on the decoder for incoming KV cache transfers".
PD_BUFFER_DEFAULT_MIB = 8 * 1024  # 8 GiB
# CRD pdSpec.routingThreshold default: "Default 4096. Set to 0 to always disaggregate."
ROUTING_THRESHOLD_DEFAULT = 4096
MAX_INSTANCE_TYPES = 8

InstanceTypes = list[Annotated[str, Field(max_length=64), ONE_LINE]]


class RequestLimits(_Model):
    """Concurrency limit of the nginx sidecar in front of each worker (the operator's `worker.requestLimits`). CRD:
    "When the limit is reached, new requests receive a 429 (Too Many Requests) response, enabling fail-fast
    behavior and allowing the load balancer to redirect traffic."
    """

    max_concurrent_requests: Int32 = Field(ge=1)
    """Requests one pod accepts at once; beyond it the sidecar answers `overflowStatusCode`. The load generator
    counts those answers as shed load, apart from errors. Example: `64`
    """
    max_queue_size: Int32 | None = Field(default=None, ge=0)
    """Requests the sidecar holds while the pod is at its limit; a full queue answers `overflowStatusCode`. Unset:
    no queue, excess requests are refused at once. Example: `16`
    """
    overflow_status_code: Int32 = Field(default=429, ge=400, le=599)
    """HTTP status the sidecar answers beyond the limit (CRD default 429). Only 429 is counted as shed load by the
    load generator; another code is counted as an error. Example: `429`
    """


class PdRole(_Model):
    """One DPD role (prefill or decode): its own Deployment, replica count and autoscaling."""

    replicas: Int32 = Field(default=1, ge=1)
    """Pods of this role (CRD `pdSpec.{prefillSpec,decodingSpec}.replicas`, minimum 1). Each pod takes the
    endpoint's GPUs (`engineArgs.tensorParallelSize`), so each usually takes a whole instance. Example: `2`
    """
    autoscaling: Autoscaling | None = None
    """KEDA autoscaling of this role alone (CRD `pdSpec.autoScalingSpec.{prefillAutoScaling,decodingAutoScaling}`):
    `minReplicas`, `maxReplicas`, `cooldownSeconds` and a `prometheus` or `cloudwatch` trigger. Unset: a fixed
    `replicas` count. Example: `{minReplicas: 1, maxReplicas: 3, prometheus: {query: 'sum(vllm:num_requests_waiting)',
    targetValue: 8}}`
    """
    max_num_seqs: Int32 | None = Field(default=None, ge=1)
    """`--max-num-seqs` of this role only (AWS's DPD tuning table: 16 on the prefiller, 32 on the decoder). Unset:
    `engineArgs.maxNumSeqs`. Example: `16`
    """
    gpu_memory_utilization: Number | None = Field(default=None, gt=0, le=1)
    """`--gpu-memory-utilization` of this role only (AWS's DPD example: 0.75). Unset:
    `engineArgs.gpuMemoryUtilization`. Example: `0.75`
    """


class PdSpec(_Model):
    """Disaggregated prefill and decode: the operator runs prefill and decode as separate Deployments behind its
    router and moves the KV cache between them with LMCache and NIXL over EFA (AWS: Disaggregated Prefill and Decode
    for HyperPod inference). vLLM only, on the instance types AWS lists (rules D1-D4).
    """

    prefill: PdRole = Field(default_factory=PdRole)
    """The prefill role (CRD `pdSpec.prefillSpec`). Example: `{replicas: 1, maxNumSeqs: 16}`"""
    decode: PdRole = Field(default_factory=PdRole)
    """The decode role (CRD `pdSpec.decodingSpec`). Example: `{replicas: 1, maxNumSeqs: 32}`"""
    routing_threshold: Int32 = Field(default=ROUTING_THRESHOLD_DEFAULT, ge=0)
    """Input tokens from which the router sends a request through a prefiller; shorter ones go straight to a
    decoder (CRD `pdSpec.routingThreshold`, default 4096, 0: always disaggregate). Checked against the endpoint's
    `load.workload` or the grid's benchmark (rule D3). Example: `2048`
    """
    buffer_mib: Int32 = Field(default=PD_BUFFER_DEFAULT_MIB, ge=1, le=1024**2)
    """Decoder GPU buffer for incoming KV transfers, per rank, in MiB (rendered in bytes as `PD_BUFFER_SIZE`; AWS:
    8 GiB holds about 35 in-flight 6,000-token transfers of a 70B model at TP 8). Unset: 8192. Example: `16384`
    """


def derive_instance_type(data: Any) -> Any:
    """Raw endpoint entry -> the same with `instanceType` set to the first of `hyperpod.instanceTypes` (the operator tries
    them in order: CRD `instanceTypes`), so every rule that reads one type (G11, G23, C1, cost) reads the
    preferred one. Both keys with different first types: a ValueError (CRD `instanceType`: "mutually exclusive
    with instanceTypes")."""
    if not isinstance(data, dict):
        return data
    block = data.get("hyperpod")
    types = (
        block.get("instanceTypes", block.get("instance_types"))
        if isinstance(block, dict)
        else getattr(block, "instance_types", None)
    )
    if not isinstance(types, list) or not types or not isinstance(types[0], str):
        return data
    given = data.get("instanceType", data.get("instance_type"))
    if given is not None and given != types[0]:
        raise ValueError(
            f"instanceType {given!r} and hyperpod.instanceTypes are mutually exclusive (CRD spec.instanceType); keep hyperpod.instanceTypes and drop instanceType"
        )
    return {**{k: v for k, v in data.items() if k not in ("instanceType", "instance_type")}, "instanceType": types[0]}
