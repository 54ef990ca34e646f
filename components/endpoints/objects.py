"""Declaring rendered manifests as Pulumi resources: the typed class for the core kinds, a custom
resource with a readable `status` for the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

# G8: a scheme change is a new Ingress (and ALB), never an in-place flip.
SCHEME_ANNOTATION = "metadata.annotations.alb\\.ingress\\.kubernetes\\.io/scheme"


class StatusCustomResource(k8s.apiextensions.CustomResource):
    """A Kubernetes custom resource whose `status` is an output, so outputs can read what the
    operator reports (`status.state`, the Ready condition). pulumi-kubernetes' CustomResource sends
    only apiVersion/kind/metadata/spec and so exposes no `status` attribute in Python."""

    status: pulumi.Output[Any]

    def _internal_init(
        self,
        resource_name: str,
        api_version: str,
        kind: str,
        opts: pulumi.ResourceOptions | None = None,
        metadata: Any = None,
        spec: Any = None,
        __props__: Any = None,
    ) -> None:
        # Same as the base, plus `status` (None: never sent) so the engine's value resolves into an output.
        if opts is None:
            opts = pulumi.ResourceOptions()
        props = {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, "status": None}
        pulumi.CustomResource.__init__(self, f"kubernetes:{api_version}:{kind}", resource_name, props, opts)


# Typed classes for the core kinds the backends render; anything else is a custom resource.
_TYPED: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
}

# Kinds that wait for the objects declared before them (a claim after its volume, ...).
_WAITS_FOR_EARLIER = ("PersistentVolumeClaim", "Deployment", "InferenceService", "BenchmarkJob")
_MAIN = ("Deployment", "InferenceService", "LLMInferenceService")


def status_of(resource: pulumi.CustomResource) -> pulumi.Output[Any]:
    """The `status` output of an object `declare` made: each typed class and StatusCustomResource has one,
    their common base declares none."""
    return cast(pulumi.Output[Any], getattr(resource, "status"))  # noqa: B009 - the base class declares no status


def declare(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    cls = _TYPED.get((manifest["apiVersion"], manifest["kind"]))
    if cls is None:
        return StatusCustomResource(
            name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest.get("spec"),
            opts=opts,
        )
    return cls(name, metadata=manifest["metadata"], spec=manifest.get("spec"), opts=opts)


# pulumi-kubernetes waits up to 10 minutes for a Deployment to become ready, then fails the update
# (its await logic's default; https://www.pulumi.com/registry/packages/kubernetes/api-docs/apps/v1/deployment/).
# A large model loads for longer, so the Deployment gets the endpoint's own budget (maxDeploySeconds,
# also its progressDeadlineSeconds) plus time to pull the image and schedule the pod.
AWAIT_MARGIN_SECONDS = 600


def await_timeouts(max_deploy_seconds: int) -> pulumi.CustomTimeouts:
    budget = f"{max_deploy_seconds + AWAIT_MARGIN_SECONDS}s"
    return pulumi.CustomTimeouts(create=budget, update=budget)


def declare_all(
    parent: pulumi.Resource,
    name: str,
    manifests: list[dict[str, Any]],
    depends_on: list[pulumi.Resource],
    ingress_ready: list[pulumi.Resource],
    max_deploy_seconds: int | None = None,
) -> dict[str, pulumi.CustomResource]:
    """Every manifest as a child of `parent`, in order, each waiting for `depends_on` and for the
    earlier objects it needs; the Ingress also for the load balancer controller (`ingress_ready`).
    A Deployment's await lasts `max_deploy_seconds` plus a margin.
    Pulumi names: `<name>-<kind>` (the Deployment/InferenceService keeps the component's name)."""
    out: dict[str, pulumi.CustomResource] = {}
    for manifest in manifests:
        kind = manifest["kind"]
        after: list[pulumi.Resource] = list(out.values()) if kind in _WAITS_FOR_EARLIER else []
        extra: dict[str, Any] = {}
        if kind == "Ingress":
            after = [*ingress_ready, *out.values()]
            # G8, as for the HyperPod router's Ingress: a scheme change replaces the Ingress.
            extra = {"replace_on_changes": [SCHEME_ANNOTATION], "delete_before_replace": True}
        if kind == "Deployment" and max_deploy_seconds is not None:
            extra = {"custom_timeouts": await_timeouts(max_deploy_seconds)}
        label = name if kind in _MAIN else f"{name}-{kind.lower()}"
        out[kind] = declare(
            label, manifest, pulumi.ResourceOptions(parent=parent, depends_on=[*depends_on, *after], **extra)
        )
    return out
