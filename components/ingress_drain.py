"""`IngressDrainGuard`: a pure-Python dynamic resource whose delete waits until no Ingress of class
alb is left in the stack's namespaces (rule O6; the logic is in rules/drain.py). It waits for the load
balancer controller and the operator, and every endpoint waits for it, so on `pulumi destroy` it is
deleted after the endpoints and before the controller: the operator's own Ingress (not declared by
Pulumi) has then lost its ALB before the controller that removes it goes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from .kube_reader import KubeReader
from .rules import drain as drain_rules


def wait_for_drain(
    props: Mapping[str, Any], lister: drain_rules.IngressLister | None = None, clock=time.monotonic, sleep=time.sleep
) -> None:
    """The guard's delete: wait, bounded; raise with the Ingresses left and the cleanup command."""
    cluster = str(props.get("clusterName") or "")
    timeout = float(props.get("timeoutSeconds") or drain_rules.DEFAULT_TIMEOUT_SECONDS)
    try:
        lister = lister or KubeReader(props["kubeconfig"])
        left = drain_rules.wait_drained(lister, props.get("namespaces") or [], timeout, clock, sleep)
    except Exception as exc:
        raise RuntimeError(drain_rules.unreachable_message(f"{type(exc).__name__}: {exc}", cluster)) from None
    if left:
        raise RuntimeError(drain_rules.not_drained_message(left, timeout, cluster))


# Stack states name this class (module and name): see components/dynamic_providers.py before moving it.
class _Provider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(id_=f"ingress-drain-{props.get('clusterName')}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        keys = ("namespaces", "timeoutSeconds", "clusterName", "kubeconfig")
        return dynamic.DiffResult(
            changes=any(olds.get(k) != news.get(k) for k in keys), replaces=[], delete_before_replace=False
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        wait_for_drain(props)


class IngressDrainGuard(dynamic.Resource):
    """Declare with `depends_on` = the load balancer controller and the operator; give it to every
    endpoint as something to wait for (Base.ingress_ready)."""

    def __init__(
        self,
        name: str,
        kubeconfig: pulumi.Input[Any],
        cluster_name: pulumi.Input[str],
        namespaces: list[str],
        timeout_seconds: int = drain_rules.DEFAULT_TIMEOUT_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "guard": drain_rules.GUARD_MARKER,
            "kubeconfig": pulumi.Output.secret(kubeconfig),
            "clusterName": cluster_name,
            "namespaces": sorted(set(namespaces)),
            "timeoutSeconds": timeout_seconds,
        }
        super().__init__(_Provider(), name, props, opts)
