"""`RouterServiceCheck`: before the stack's public ALB Ingress is created in front of the HyperPod
operator's router, find the router's Service and the port to forward to, and hand them to the Ingress
(outputs `service` and `port`). Two bounded waits: first until the InferenceEndpointConfig reports
DeploymentComplete (within its maxDeploySeconds and a margin; a failed deployment fails at once with the
object's own message), then briefly for the Service, found by what ties it to the endpoint's router
(rules/ingress.py find_router_service). Pure-Python dynamic resource: nothing to delete, nothing in the cloud."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pulumi
import pulumi.dynamic as dynamic

from ..kube_reader import KubeReader, LiveError, Unreachable
from ..rules import ingress as ingress_rules
from ..rules.addons import OPERATOR_NAMESPACE
from ..rules.backends import hyperpod as hyperpod_rules
from ..rules.backends import router as router_rules
from ..rules.spec import IngressSpec

POLL_SECONDS = router_rules.POLL_SECONDS
PLURAL = "inferenceendpointconfigs"
# The inputs that decide which Service is found; a change of any of them finds it again (replace).
LOOKUP_KEYS = ("endpointName", "endpointNamespace", "routerService", "routerPort")


class RouterReader(Protocol):
    def custom_object(
        self, group: str, version: str, plural: str, namespace: str, name: str
    ) -> dict[str, Any] | None: ...
    def services(self, namespace: str) -> list[Mapping[str, Any]]: ...
    def deployments(self, namespace: str) -> list[Mapping[str, Any]]: ...


def check_router(
    props: Mapping[str, Any],
    reader: RouterReader | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> router_rules.RouterService:
    """Wait for the endpoint's deployment, then for its router Service; raise RuntimeError with the fix otherwise."""
    name, namespace = str(props["endpointName"]), str(props.get("endpointNamespace") or "default")
    max_deploy = int(props.get("maxDeploySeconds") or 3600)
    try:
        reader = reader or KubeReader(props["kubeconfig"])
        obj = _wait(
            clock,
            sleep,
            router_rules.deployment_budget(max_deploy),
            lambda: _deployment(reader, namespace, name),
            lambda line: router_rules.deployment_timed_out(namespace, name, line, max_deploy),
        )
        uid = ((obj or {}).get("metadata") or {}).get("uid")
        wait = float(props.get("serviceWaitSeconds") or router_rules.ROUTER_SERVICE_WAIT_SECONDS)
        return _wait(
            clock,
            sleep,
            wait,
            lambda: _service(reader, props, name, namespace, uid),
            lambda why: f"{why} (waited {int(wait)} s after DeploymentComplete)",
        )
    except LiveError as exc:
        raise RuntimeError(
            f"{exc} (reading endpoint {namespace}/{name} and its router in {OPERATOR_NAMESPACE})"
        ) from None


def _deployment(reader: RouterReader, namespace: str, name: str) -> tuple[Any, str | None]:
    """(the object once it is complete, None) or (None, why not yet); a failed deployment raises at once."""
    obj = reader.custom_object(hyperpod_rules.GROUP, "v1", PLURAL, namespace, name)
    readiness, line = router_rules.deployment_verdict(obj)
    if readiness == "failed":
        raise RuntimeError(router_rules.deployment_failed(namespace, name, line))
    return (obj, None) if readiness == "ready" else (None, line)


def _service(
    reader: RouterReader, props: Mapping[str, Any], name: str, namespace: str, uid: str | None
) -> tuple[Any, str | None]:
    found, why = router_rules.find_router_service(
        reader.services(OPERATOR_NAMESPACE),
        reader.deployments(OPERATOR_NAMESPACE),
        name,
        namespace,
        str(props.get("routerService") or ""),
        int(props["routerPort"]) if props.get("routerPort") else None,
        str(props.get("template") or ""),
        uid,
    )
    return (found, None) if found is not None else (None, why)


def _wait(
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    seconds: float,
    poll: Callable[[], tuple[Any, str | None]],
    late: Callable[[str], str],
) -> Any:
    """Poll until `poll` gives a value; an API server that does not answer is polled again, like a value not there yet."""
    deadline = clock() + seconds
    while True:
        try:
            value, why = poll()
        except Unreachable as exc:
            value, why = None, str(exc)
        if why is None:
            return value
        now = clock()
        if now >= deadline:
            raise RuntimeError(late(why))
        sleep(min(POLL_SECONDS, deadline - now))


# Stack states name this class (module and name): see components/dynamic_providers.py before moving it.
class _Provider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        found = check_router(props)
        outs = {**props, "service": found.name, "port": found.port, "found": found.how}
        return dynamic.CreateResult(
            id_=f"router-check-{props.get('endpointNamespace')}-{props['endpointName']}", outs=outs
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        # `service`/`port` are outputs (the found Service); the inputs carry only placeholders for them, so they are
        # not compared. A state written before the lookup existed has no endpointNamespace: replaced once, found then.
        changed = [k for k in LOOKUP_KEYS if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=changed)


class RouterServiceCheck(dynamic.Resource):
    """Outputs `service` and `port`: the router Service the public Ingress forwards to. Under mocks (the offline plan)
    and in a preview they are the configured name and `routerPort` (8080 when unset)."""

    service: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        kubeconfig: pulumi.Input[Any],
        endpoint_name: str,
        endpoint_namespace: str,
        ingress: IngressSpec,
        max_deploy_seconds: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        configured = ingress_rules.router_service(ingress, endpoint_name)
        props = {
            "check": "router-service",
            "kubeconfig": pulumi.Output.secret(kubeconfig),
            "endpointName": endpoint_name,
            "endpointNamespace": endpoint_namespace,
            "routerService": configured,
            "template": ingress.router_service,
            "routerPort": ingress.router_port,
            "maxDeploySeconds": max_deploy_seconds,
            "serviceWaitSeconds": router_rules.ROUTER_SERVICE_WAIT_SECONDS,
            "service": configured,
            "port": ingress_rules.router_port(ingress),
            "found": None,
        }
        super().__init__(_Provider(), name, props, opts)
