"""Each endpoint's real object, read live: its state (G15), ready replicas, last condition message and URL.

Per backend, the object the stack declares (named `resourceName` in `namespace`), found and read as its
`Backend.live` says: group, version and plural, the state and replica readers, its conditions. `stacks status`
also reads the HorizontalPodAutoscaler of a backend that scales with one, for a metric it cannot get.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.kube_reader import KubeReader
from components.rules import ingress as ingress_rules
from components.rules.backends import BACKENDS
from components.rules.backends import state as state_rules
from components.rules.tls import terminates_tls


@dataclass(frozen=True)
class LiveEndpoint:
    name: str
    backend: str
    readiness: state_rules.Readiness
    state: str  # the object's own state word (DeploymentInProgress, Ready, ...) or "not created"
    detail: str  # the line for the user: G15 keeps a failed object's own message
    ready_replicas: int | None
    replicas: int | None
    message: str  # the newest condition's message, what `kubectl describe` shows last
    url: str | None
    url_kind: str | None


def read_endpoint(kube: KubeReader, name: str, entry: dict[str, Any]) -> LiveEndpoint:
    """`entry` is the stack output `endpoints.<name>` (backend, namespace, resourceName, url, ...)."""
    backend = str(entry.get("backend") or "")
    if backend not in BACKENDS:
        raise ValueError(f"endpoints.{name}.backend is {backend!r}; expected one of {', '.join(sorted(BACKENDS))}")
    live = BACKENDS[backend].live
    namespace = str(entry.get("namespace") or "default")
    resource = str(entry.get("resourceName") or name)
    obj = _read(kube, live, namespace, resource)
    url, url_kind = live_url(kube, entry)
    if obj is None:  # not created yet (the operator or controller has not got to it): pending
        return LiveEndpoint(
            name,
            backend,
            "pending",
            "not created",
            f"{resource} not found in namespace {namespace} yet",
            None,
            None,
            "",
            url,
            url_kind,
        )
    status = obj.get("status") or {}
    state, detail = live.state(status)
    readiness, line = state_rules.classify(state, detail)
    ready, replicas = live.replicas(obj)
    return LiveEndpoint(
        name,
        backend,
        readiness,
        state or "no status yet",
        line,
        ready,
        replicas,
        _last_message(live.conditions(status)),
        url,
        url_kind,
    )


def read_autoscaler(kube: KubeReader, entry: dict[str, Any]) -> str:
    """The HPA of a backend that scales with one (named as its object) when it cannot read its metric, else ''. The
    metric's name is what a custom-metrics adapter serves; an adapter configured otherwise shows up here."""
    backend = BACKENDS.get(str(entry.get("backend") or ""))
    if backend is None or not backend.live.autoscaler:
        return ""
    hpa = kube.hpa(str(entry.get("namespace") or "default"), str(entry.get("resourceName") or ""))
    return state_rules.autoscaler((hpa or {}).get("status")) or ""


def _read(kube: KubeReader, live: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """The object by its live reference: a Deployment through the typed API, any custom resource by group/plural."""
    if (live.group, live.plural) == ("apps", "deployments"):
        return kube.deployment(namespace, name)
    return kube.custom_object(live.group, live.version, live.plural, namespace, name)


def _last_message(conditions: list[Any]) -> str:
    dated = [c for c in conditions if isinstance(c, dict) and c.get("message")]
    if not dated:
        return ""
    newest = max(dated, key=lambda c: str(c.get("lastTransitionTime") or c.get("lastUpdateTime") or ""))
    return f"{newest.get('type')}: {newest['message']}"


def live_url(kube: KubeReader, entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """The output URL; when it is null and `urlSource` names an Ingress or Service, its live hostname."""
    url, kind = entry.get("url"), entry.get("urlKind")  # the stack output's keys are camelCase, only
    source = entry.get("urlSource")
    if url or not isinstance(source, str):
        return url, kind
    what, _, ref = source.partition(" ")
    namespace, _, obj_name = ref.partition("/")
    if what not in ("Ingress", "Service") or not namespace or not obj_name:
        return None, kind
    obj = kube.ingress(namespace, obj_name) if what == "Ingress" else kube.service(namespace, obj_name)
    ingress = (((obj or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    host = (ingress[0].get("hostname") or ingress[0].get("ip")) if ingress and isinstance(ingress[0], dict) else None
    if not host:
        return None, kind
    scheme = "https" if what == "Ingress" and terminates_tls(obj or {}) else "http"
    return ingress_rules.endpoint_url(scheme, host, str(entry.get("invocationPath") or "")), kind
