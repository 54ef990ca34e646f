"""What stands in front of an engine's pods on plain Kubernetes: the ClusterIP (or NLB) Service and
the ALB Ingress. The kubernetes backend puts them in front of its Deployment; the kserve backend
in front of its predictor (its own Service is headless)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import ingress as ingress_rules
from ..endpoint import resolve
from ..problems import Problem
from ..spec import EndpointSpec, IngressSpec
from .base import PlatformNeeds
from .container import PORT_NAME

SERVICE_PORT = 80


def service(spec: EndpointSpec, load_balancer: str | None = None) -> dict[str, Any]:
    """The endpoint's Service: ClusterIP, or an NLB with `load_balancer` (the backend's, `spec.load_balancer` when None)."""
    r = resolve(spec)
    meta: dict[str, Any] = {"name": r.name, "namespace": spec.namespace, "labels": r.labels}
    body: dict[str, Any] = {
        "type": "ClusterIP",
        "selector": r.selector,
        "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }
    if (load_balancer or spec.load_balancer) == "nlb":
        meta["annotations"] = nlb_annotations(spec)
        body["type"] = "LoadBalancer"
        body["loadBalancerClass"] = "service.k8s.aws/nlb"  # the AWS Load Balancer Controller, not the in-tree one
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}


def nlb_annotations(spec: EndpointSpec) -> dict[str, str]:
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    return {
        prefix + "type": "external",
        prefix + "nlb-target-type": "ip",  # instance targets never became healthy on EKS
        prefix + "scheme": "internet-facing" if spec.public_alb else "internal",
        prefix + "healthcheck-path": resolve(spec).health_path,  # G17
        prefix + "healthcheck-protocol": "HTTP",
        prefix + "healthcheck-port": "traffic-port",
    }


def ingress(
    spec: EndpointSpec,
    ingress_spec: IngressSpec,
    service_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An ALB Ingress in the endpoint's namespace, in front of the endpoint's own Service. Same
    annotations as the HyperPod path (G8 scheme fixed at creation, G17 health check, `tags` on the ALB)."""
    r = resolve(spec)
    plain = ingress_spec.model_copy(update={"router_protocol": "HTTP"})
    return ingress_rules.alb_ingress(
        ingress_rules.ingress_name(r.name),
        spec.namespace,
        {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/name": r.name},
        ingress_rules.ingress_annotations(spec, plain, r.health_path, tags),
        service_name or r.name,
        SERVICE_PORT,
    )


def needs_front(spec: EndpointSpec, where: str, needs: PlatformNeeds, load_balancer: str) -> list[Problem]:
    """What a backend whose pods the stack fronts needs on a cluster it creates: the AWS Load Balancer Controller
    for an ALB or NLB, and the NVIDIA device plugin so a node advertises nvidia.com/gpu."""
    if needs.adopted:  # add-ons of an adopted cluster are the user's: not checked
        return []
    problems = []
    if load_balancer != "none" and not needs.plan["load_balancer_controller"]:
        problems.append(
            Problem(
                f"{where}.loadBalancer",
                load_balancer,
                "BACKEND",
                f"an {load_balancer.upper()} needs the AWS Load Balancer Controller",
                f"set {needs.paths.platform}.loadBalancerController: true, or loadBalancer: none",
            )
        )
    if not needs.plan["nvidia_device_plugin"]:
        problems.append(
            Problem(
                f"{where}.backend",
                spec.backend,
                "BACKEND",
                "without the NVIDIA device plugin no node advertises nvidia.com/gpu and the pod stays Pending",
                f"set {needs.paths.platform}.nvidiaDevicePlugin: true",
            )
        )
    return problems


def public_load_balancer(load_balancer: str) -> str | None:
    """The internet-facing load balancer a fronted backend declares with `publicAlb`."""
    return {"alb": "ALB", "nlb": "NLB"}.get(load_balancer)


def in_cluster(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local"
