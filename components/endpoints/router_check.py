"""`RouterServiceCheck`: before the stack's public ALB Ingress is created in front of the HyperPod
operator's router, wait (bounded) until the router Service the config names exists with the
configured port; else fail `up` with the config keys and the `kubectl` check (rules/ingress.py
router_service_problem). Pure-Python dynamic resource: nothing to delete, nothing in the cloud."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Optional, Protocol

import pulumi
import pulumi.dynamic as dynamic

from ..kube_reader import KubeReader
from ..rules import ingress as ingress_rules
from ..rules.addons import OPERATOR_NAMESPACE

POLL_SECONDS = 10


class ServiceLister(Protocol):
    def services(self, namespace: str) -> list[Mapping[str, Any]]: ...


def check_router(props: Mapping[str, Any], lister: Optional[ServiceLister] = None, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    timeout = float(props.get("timeoutSeconds") or ingress_rules.ROUTER_CHECK_SECONDS)
    lister = lister or KubeReader(props["kubeconfig"])
    deadline = clock() + timeout
    while True:
        problem = ingress_rules.router_service_problem(lister.services(OPERATOR_NAMESPACE), props["service"], int(props["port"]), props["endpointName"], props["template"])
        if problem is None:
            return
        now = clock()
        if now >= deadline:
            raise RuntimeError(f"{problem} (waited {int(timeout)} s)")
        sleep(min(POLL_SECONDS, deadline - now))


# Stack states name this class (module and name): see components/dynamic_providers.py before moving it.
class _Provider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        check_router(props)
        return dynamic.CreateResult(id_=f"router-check-{props['service']}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        keys = ("service", "port")
        return dynamic.DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys), replaces=[k for k in keys if olds.get(k) != news.get(k)])


class RouterServiceCheck(dynamic.Resource):
    def __init__(self, name: str, kubeconfig: pulumi.Input[Any], service: str, port: int, endpoint_name: str, template: str, opts: Optional[pulumi.ResourceOptions] = None):
        props = {
            "check": "router-service",
            "kubeconfig": pulumi.Output.secret(kubeconfig),
            "service": service,
            "port": port,
            "endpointName": endpoint_name,
            "template": template,
            "timeoutSeconds": ingress_rules.ROUTER_CHECK_SECONDS,
        }
        super().__init__(_Provider(), name, props, opts)
