"""The ingress drain guard's logic (rule O6), free of Pulumi and of any cluster client: which
Ingresses still hold an ALB, the bounded wait for them to go, and the message when they do not.

Why: an Ingress of class alb holds the load balancer controller's finalizer `ingress.k8s.aws/resources`
until the controller has deleted its ALB, target groups and security groups (a recreated Ingress hung on it with 409 Conflict). The
HyperPod operator's Ingress is not declared by Pulumi, so nothing orders it before the controller on
`pulumi destroy`: deleted after the controller, it stays Terminating and its ALB and security groups
are orphaned; the VPC delete then fails with DependencyViolation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from .addons import OPERATOR_NAMESPACE

# The Ingress is deleted only after the controller removed its AWS resources:
# https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/2894 (maintainer reply).
FINALIZER = "ingress.k8s.aws/resources"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"  # the controller tags every ALB, target group and security group with it
GUARD_MARKER = "ingress-drain"  # the guard's `guard` input: how the ordering rule O6 recognises it
DEFAULT_TIMEOUT_SECONDS = 900  # an ALB and its target groups go in 1-3 minutes; deregistration delay 300 s
POLL_SECONDS = 10


class IngressLister(Protocol):
    """The one live-cluster call the guard makes: the Ingress objects of a namespace (plain dicts
    shaped like the Kubernetes API's `items`)."""

    def ingresses(self, namespace: str) -> list[Mapping[str, Any]]: ...


def holds_alb(ingress: Mapping[str, Any]) -> bool:
    """An Ingress the load balancer controller serves: class alb (field or the legacy annotation),
    or already carrying its finalizer (whatever its class name)."""
    meta = ingress.get("metadata") or {}
    spec = ingress.get("spec") or {}
    annotations = meta.get("annotations") or {}
    return (
        spec.get("ingressClassName") == "alb"
        or annotations.get("kubernetes.io/ingress.class") == "alb"
        or FINALIZER in (meta.get("finalizers") or [])
    )


# Kinds whose controllers create Ingresses Pulumi does not declare (ownerReferences point back at them).
OWNER_KINDS = ("InferenceEndpointConfig", "JumpStartModel", "InferenceService")


def accounted_for(ingress: Mapping[str, Any], operator_namespace: str) -> bool:
    """An Ingress the stack's endpoints account for: any in the operator's own namespace, and elsewhere
    one a controller made for an endpoint's custom resource (ownerReferences) or one the stack declared
    (managed-by pulumi). A user's own ALB Ingress in a shared namespace such as `default` is not
    waited for: it is not the stack's to delete, and waiting on it would only fail the destroy."""
    meta = ingress.get("metadata") or {}
    if meta.get("namespace") == operator_namespace:
        return True
    owners = meta.get("ownerReferences") or []
    labels = meta.get("labels") or {}
    return any(o.get("kind") in OWNER_KINDS for o in owners) or labels.get("app.kubernetes.io/managed-by") == "pulumi"


def alb_ingresses(
    lister: IngressLister, namespaces: Iterable[str], operator_namespace: str = OPERATOR_NAMESPACE
) -> list[str]:
    """`namespace/name` of every Ingress the stack accounts for that still holds an ALB."""
    left = []
    for ns in sorted(set(namespaces)):
        for ing in lister.ingresses(ns):
            ing = {**ing, "metadata": {"namespace": ns, **(ing.get("metadata") or {})}}
            if holds_alb(ing) and accounted_for(ing, operator_namespace):
                left.append(f"{ns}/{(ing.get('metadata') or {}).get('name')}")
    return left


def wait_drained(
    lister: IngressLister,
    namespaces: Iterable[str],
    timeout_seconds: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll_seconds: float = POLL_SECONDS,
) -> list[str]:
    """Poll until no ALB Ingress is left or the deadline passes; returns what is left ([] = drained)."""
    namespaces = list(namespaces)
    deadline = clock() + timeout_seconds
    while True:
        left = alb_ingresses(lister, namespaces)
        now = clock()
        if not left or now >= deadline:
            return left
        sleep(min(poll_seconds, deadline - now))


def cleanup_command(cluster_name: str) -> str:
    return (
        f"aws resourcegroupstaggingapi get-resources --tag-filters Key={CLUSTER_TAG},Values={cluster_name} "
        "--query 'ResourceTagMappingList[].ResourceARN'"
    )


def not_drained_message(left: list[str], timeout_seconds: float, cluster_name: str) -> str:
    return (
        f"ingress drain guard: {len(left)} Ingress(es) of class alb still exist after {int(timeout_seconds)} s: "
        f"{', '.join(left)} (finalizer {FINALIZER}). The load balancer controller must delete their ALBs before "
        "it is removed, or the ALBs and their security groups are orphaned and the VPC delete fails "
        "(DependencyViolation). Check `kubectl get ingress -A` and "
        "`kubectl logs -n kube-system deploy/aws-load-balancer-controller`, then run `pulumi destroy` again. "
        f"If the controller is gone already, delete what `{cleanup_command(cluster_name)}` lists "
        "(load balancers, target groups, security groups), remove the finalizers, and run `pulumi destroy` again."
    )


def unreachable_message(error: str, cluster_name: str) -> str:
    return (
        f"ingress drain guard: cannot list Ingresses ({error}). If the cluster is gone, check that no ALB is "
        f"left with `{cleanup_command(cluster_name)}` and run `pulumi state delete` on this guard's URN; "
        "else fix cluster access (the stack's kubeconfig) and run `pulumi destroy` again."
    )
