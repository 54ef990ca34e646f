"""Autoscaling, load, SLO and resources of an endpoint."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..bounds import MAX_LATENCY_SECONDS, MAX_REQUESTS_PER_SECOND, MAX_TEXT, ONE_LINE, Int32, Number, Text
from .base import _Model

# The CRD's `prometheusTrigger.serverAddress` pattern: an Amazon Managed Service for Prometheus workspace URL, or empty
# (aws/sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
# inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml @011ca927). The API server refuses anything else.
AMP_WORKSPACE_PATTERN = (
    r"^https://aps-workspaces\.[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.amazonaws\.com/workspaces/ws-[a-zA-Z0-9-]+$"
)


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
    server_address: Annotated[str, Field(max_length=2048), ONE_LINE] = Field(
        default="", pattern=AMP_WORKSPACE_PATTERN + "|^$"
    )
    """Amazon Managed Service for Prometheus workspace to query (the CRD accepts no other address). Empty:
    `platform.prometheusServerAddress`; with that unset too, none (rule A1 warns). Example:
    `https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234abcd-5678-90ef-1234-567890abcdef`
    """


class CloudWatchTrigger(_Model):
    """A KEDA CloudWatch trigger of the HyperPod operator: scale on an Amazon CloudWatch metric (hyperpod backend
    only). Unset keys give upstream's trigger: `Invocations` of the endpoint the operator registers, `Sum`, with
    dimensions `EndpointName` and `VariantName: AllTraffic` (rule A1).
    """

    metric_name: Annotated[str, Field(max_length=255), ONE_LINE] = "Invocations"
    """Name of the CloudWatch metric; in `AWS/SageMaker` a metric of real-time endpoints (rule A1 refuses the
    asynchronous-inference ones, such as `ApproximateBacklogSizePerInstance`). Example: `InvocationsPerInstance`
    """
    namespace: Annotated[str, Field(max_length=255), ONE_LINE] = "AWS/SageMaker"
    """CloudWatch namespace of the metric; `AWS/SageMaker` needs `hyperpod.sagemakerEndpoint: true` (rule A1). Example:
    `AWS/SageMaker`
    """
    target_value: Number = Field(gt=0)
    """Target value of the metric per replica: KEDA adds replicas while the value per replica is above it. Example:
    `10`
    """
    statistic: Literal["Average", "Sum", "Maximum", "Minimum", "SampleCount"] | None = None
    """Statistic of the metric KEDA reads (`metricStat`). Unset: `Sum` for the count metrics (`Invocations`,
    `InvocationsPerInstance`, `Invocation4XXErrors`, `Invocation5XXErrors`), `Average` for the others. Example:
    `Maximum`
    """
    dimensions: (
        dict[Annotated[str, Field(max_length=255), ONE_LINE], Annotated[str, Field(max_length=1024), ONE_LINE]] | None
    ) = None
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

    name: Annotated[str, Field(max_length=253), ONE_LINE] = Field(min_length=1)
    """Name of the per-pod metric as the custom-metrics API serves it. Example: `vllm:num_requests_waiting`"""
    target_average_value: Number = Field(gt=0)
    """Average value per pod the HPA keeps the metric at. Example: `8`"""


class Load(_Model):
    """The load an endpoint must carry at peak, checked against a measured capacity (rule C1)."""

    peak_requests_per_second: Number = Field(gt=0, le=MAX_REQUESTS_PER_SECOND)
    """Requests per second the endpoint must serve at peak, across all replicas. Example: `20`"""
    workload: Annotated[str, Field(max_length=256), ONE_LINE] = Field(min_length=1)
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

    ttft_p50: Number | None = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the median time to first token. Unset: no bound. Example: `0.5`"""
    ttft_p90: Number | None = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 90th-percentile time to first token. Unset: no bound. Example: `1.0`"""
    ttft_p99: Number | None = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 99th-percentile time to first token. Unset: no bound. Example: `2.0`"""
    tpot_p50: Number | None = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the median time per output token. Unset: no bound. Example: `0.03`"""
    tpot_p90: Number | None = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 90th-percentile time per output token. Unset: no bound. Example: `0.05`"""
    itl_p90: Number | None = Field(default=None, gt=0, le=MAX_LATENCY_SECONDS)
    """Bound on the 90th-percentile inter-token latency. Unset: no bound. Example: `0.05`"""
    e2e_p90: Number | None = Field(
        default=None, gt=0, le=MAX_LATENCY_SECONDS, alias="e2eP90"
    )  # to_camel would make it e2EP90
    """Bound on the 90th-percentile end-to-end request latency. Unset: no bound. Example: `20`"""
    error_rate: Number | None = Field(default=None, ge=0, le=1)
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
    prometheus: PrometheusTrigger | None = None
    """Scale on a Prometheus query (hyperpod backend only; rejected elsewhere). Unset, with `cloudwatch` and `target`
    unset too and `platform.prometheusServerAddress` set: the engine's queue length (`vllm:num_requests_waiting` or
    `sglang:num_queue_reqs` of the endpoint's served model) with a target of 8 per replica (rule A1). Example:
    `{query: 'sum(vllm:num_requests_waiting{model_name="Llama-3.1-8B-Instruct"})', targetValue: 8}`
    """
    cloudwatch: CloudWatchTrigger | None = None
    """Scale on a CloudWatch metric (hyperpod backend only; rejected elsewhere). `AWS/SageMaker` metrics count only
    requests sent through the SageMaker endpoint (InvokeEndpoint), never those to the endpoint's ALB URL (rule A1
    warns). Unset: no CloudWatch trigger. Example: `{metricName: Invocations, targetValue: 10}`
    """
    pods_metric: PodsMetric | None = None
    """The HPA's per-pod metric (kubernetes backend only; rejected elsewhere). Unset: the engine's queue length
    (`vllm:num_requests_waiting` or `sglang:num_queue_reqs`) with an average target of 8. Example: `{name:
    vllm:num_requests_running, targetAverageValue: 32}`
    """
    cooldown_seconds: Int32 = Field(default=300, ge=0)
    """Seconds to wait before scaling in. hyperpod: KEDA's `cooldownPeriod`; kubernetes: the HPA's scale-down
    stabilization window; ignored by ome and kserve. Example: `600`
    """
    target: Literal["fromCapacity"] | None = None
    """`fromCapacity`: derive the per-replica scaling target from the endpoint's `capacity` file (its lower bound ×
    `utilization`), in the unit the backend's autoscaler reads, and set the trigger itself (hyperpod: a Prometheus
    trigger on the engine's metrics through `platform.prometheusServerAddress`; with that unset, the CloudWatch
    `Invocations` trigger when `hyperpod.sagemakerEndpoint` is on, which rule A1 warns about; kubernetes: the HPA's
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

    cpu: Annotated[str, Field(max_length=64), ONE_LINE] | None = None
    """CPU request of the engine container, in Kubernetes quantity form. Unset: three quarters of the pod's share
    of the instance's vCPUs (its share is tensor-parallel size / GPUs); no request for an unknown instance type.
    Example: `"8"`
    """
    memory: Annotated[str, Field(max_length=64), ONE_LINE] | None = None
    """Memory request of the engine container, in Kubernetes quantity form. Unset: three quarters of the pod's
    share of the instance's memory, at least 4Gi; no request for an unknown instance type. Example: `64Gi`
    """
    ephemeral_storage: Annotated[str, Field(max_length=64), ONE_LINE] = "50Gi"
    """Ephemeral-storage request of the engine container, so the kubelet does not evict the pod when downloads fill
    the node (rule G13); keep it within the node's disk. It also caps the emptyDir that holds downloaded or
    copied model files (kubernetes backend). Example: `100Gi`
    """
