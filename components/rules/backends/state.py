"""One readiness value per endpoint from its object's status, whatever the backend (stack output
`endpoints.<name>.state`, read by the tuning driver: DeploymentComplete/InService/Ready/True are
ready). None while the status is unknown (preview, mocks)."""

from __future__ import annotations

from typing import Any, Optional

READY = "Ready"
FAILED = "Failed"
DEPLOYING = "Deploying"
NOT_READY = "NotReady"


def _get(obj: Any, key: str) -> Any:
    """Typed Pulumi outputs arrive as objects with snake_case attributes, plain ones as dicts."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, _snake(key), None)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _conditions(status: Any) -> dict[str, Any]:
    return {_get(c, "type"): c for c in _get(status, "conditions") or [] if _get(c, "type")}


def _detail(condition: Any) -> Optional[str]:
    if condition is None:
        return None
    parts = [str(p) for p in (_get(condition, "reason"), _get(condition, "message")) if p]
    return ": ".join(parts) or None


def hyperpod(status: Any) -> tuple[Optional[str], Optional[str]]:
    """The InferenceEndpointConfig's own `status.state` (DeploymentComplete, DeploymentFailed, ...)."""
    if not status:
        return None, None
    deployment = _get(status, "deploymentStatus")
    detail = _get(deployment, "message") if deployment else None
    failed = [c for c in _conditions(status).values() if str(_get(c, "status")) == "False"]
    return _get(status, "state"), detail or (_detail(failed[0]) if failed else None)


def deployment(status: Any) -> tuple[Optional[str], Optional[str]]:
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


def ready_condition(status: Any) -> tuple[Optional[str], Optional[str]]:
    """OME and KServe InferenceServices: the Ready condition."""
    if not status:
        return None, None
    ready = _conditions(status).get("Ready")
    if ready is None:
        return DEPLOYING, None
    return (READY if str(_get(ready, "status")) == "True" else NOT_READY), _detail(ready)
