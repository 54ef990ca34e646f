"""One readiness value per endpoint from its object's status, whatever the backend, and the one
mapping of that value to ready / pending / failed (G15). The stack output `endpoints.<name>.state`
and the live reader (`stacks/live`, what the tuning driver and `stacks status` use) both go through
here. None while the status is unknown (preview, mocks, object not created yet)."""

from __future__ import annotations

from typing import Any, Literal

READY = "Ready"
FAILED = "Failed"
DEPLOYING = "Deploying"
NOT_READY = "NotReady"


Readiness = Literal["ready", "pending", "failed"]

# HyperPod: the InferenceEndpointConfig CRD's `status.state` enum is DeploymentPending,
# DeploymentInProgress, DeploymentFailed, DeploymentComplete, DeletionPending, DeletionInProgress,
# DeletionFailed, DeletionComplete (sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart/charts/
# inference-operator/config/crd/inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml).
# InService is a SageMaker endpoint's state; READY is what the other backends' readers report.
READY_STATES = frozenset({"DeploymentComplete", "InService", READY, "True"})
FAILED_STATES = frozenset({"DeploymentFailed", "DeletionFailed", FAILED})


def classify(state: str | None, detail: str | None = None) -> tuple[Readiness, str]:
    """G15: (ready / pending / failed, a line for the user). A failed state keeps the object's own message."""
    if state in READY_STATES:
        return "ready", state or ""
    if state in FAILED_STATES:
        return "failed", f"{state}: {detail}" if detail else str(state)
    return "pending", f"{state}: {detail}" if state and detail else (state or "no status yet")


def _get(obj: Any, key: str) -> Any:
    """Typed Pulumi outputs arrive as objects with snake_case attributes, plain ones as dicts."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, _snake(key), None)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _conditions(status: Any) -> dict[str, Any]:
    return {_get(c, "type"): c for c in _get(status, "conditions") or [] if _get(c, "type")}


def _detail(condition: Any) -> str | None:
    if condition is None:
        return None
    parts = [str(p) for p in (_get(condition, "reason"), _get(condition, "message")) if p]
    return ": ".join(parts) or None


def hyperpod(status: Any) -> tuple[str | None, str | None]:
    """The InferenceEndpointConfig's own `status.state` (DeploymentComplete, DeploymentFailed, ...)."""
    if not status:
        return None, None
    deployment = _get(status, "deploymentStatus")
    detail = _get(deployment, "message") if deployment else None
    failed = [c for c in _conditions(status).values() if str(_get(c, "status")) == "False"]
    return _get(status, "state"), detail or (_detail(failed[0]) if failed else None)


def deployment(status: Any) -> tuple[str | None, str | None]:
    """Available=True is Ready; Progressing=False (ProgressDeadlineExceeded) is Failed."""
    if not status:
        return None, None
    conditions = _conditions(status)
    available, progressing = conditions.get("Available"), conditions.get("Progressing")
    if progressing is not None and str(_get(progressing, "status")) == "False":
        return FAILED, _detail(progressing)
    if available is not None and str(_get(available, "status")) == "True":
        return READY, _detail(available)
    return DEPLOYING, _detail(progressing or available)


# KServe and OME InferenceService CRDs: `status.modelStatus.transitionStatus` is one of UpToDate,
# InProgress, BlockedByFailedLoad, InvalidSpec, with `lastFailureInfo` (serving.kserve.io_
# inferenceservices.yaml, ome.io_inferenceservices.yaml). The last two never heal by waiting.
FAILED_TRANSITIONS = frozenset({"BlockedByFailedLoad", "InvalidSpec"})


def status_url(status: Any, invocation_path: str) -> str | None:
    """OME's InferenceService and KServe's LLMInferenceService: `status.url` (the service's address, once it has
    one) with the endpoint's invocation path."""
    url = _get(status, "url") if status else None
    return f"{str(url).rstrip('/')}/{invocation_path}" if url else None


def ready_condition(status: Any) -> tuple[str | None, str | None]:
    """OME and KServe InferenceServices: the Ready condition; a failed model load or invalid spec is Failed."""
    if not status:
        return None, None
    model = _get(status, "modelStatus")
    transition = _get(model, "transitionStatus") if model else None
    if transition in FAILED_TRANSITIONS:
        failure = _get(model, "lastFailureInfo")
        return FAILED, (_detail(failure) if failure else None) or str(transition)
    ready = _conditions(status).get("Ready")
    if ready is None:
        return DEPLOYING, None
    return (READY if str(_get(ready, "status")) == "True" else NOT_READY), _detail(ready)


def autoscaler(status: Any) -> str | None:
    """A HorizontalPodAutoscaler that cannot read its metric: `ScalingActive` False, with its reason and message
    (kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go, getUnableComputeReplicaCountCondition:
    reason FailedGetPodsMetric for a Pods metric the custom-metrics API does not serve, message "the HPA was
    unable to compute the replica count: ..."). None when it scales, or is off because the target has 0
    replicas (ScalingDisabled)."""
    active = _conditions(status or {}).get("ScalingActive")
    if active is None or str(_get(active, "status")) != "False" or _get(active, "reason") == "ScalingDisabled":
        return None
    return f"ScalingActive=False: {_detail(active)}"
