"""`EndpointIngress`: one ALB per endpoint in front of the operator's router (G8, G16, G17).

Why the stack declares its own Ingress instead of patching the operator's `alb-{name}` Ingress:
- the scheme of an ALB is fixed when its Ingress is created; patching the operator's Ingress means
  the ALB first comes up internal and is then rebuilt, the §15/§16 timeline that left a stale
  internal URL behind;
- the operator reconciles its own objects and puts its values back (it did so with the router's
  env in §11 and re-created its Ingress as internal in §15), so a server-side-apply patch would be a
  tug-of-war over field managers;
- a patch resource needs the object to exist at apply time, but the operator creates it
  asynchronously after the endpoint, so the first `pulumi up` would fail.
Our Ingress is named `llm-{name}`, so the two never touch the same object. Its scheme never changes
in place: switching `publicAlb` makes Pulumi replace the Ingress (its name is fixed, so the old one
is deleted first and the ALB controller cleans up its ALB under its finalizer, no race).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from .rules import addons as addon_rules, ingress as ingress_rules, tags as tag_rules
from .rules.spec import EndpointSpec, IngressSpec

SCHEME_ANNOTATION = "metadata.annotations.alb\\.ingress\\.kubernetes\\.io/scheme"


@dataclass
class EndpointIngressArgs:
    spec: EndpointSpec
    endpoint_name: str  # the endpoint's Kubernetes name
    ingress: IngressSpec
    health_path: str
    after: list[pulumi.Resource] = field(default_factory=list)  # the load balancer controller, the endpoint
    tags: dict[str, str] = field(default_factory=dict)  # extra ALB tags; stack and endpoint tags are added


def hostname_of(status: Any) -> Optional[str]:
    """The ALB's DNS name from an Ingress status (typed or plain), or None while it has none."""
    if status is None:
        return None
    # Typed output classes are dicts too, but warn on camelCase keys: try their getters first.
    lb = getattr(status, "load_balancer", None) or (status.get("loadBalancer") if isinstance(status, dict) else None)
    entries = getattr(lb, "ingress", None) or (lb.get("ingress") if isinstance(lb, dict) else None) or []
    for entry in entries:
        host = getattr(entry, "hostname", None) or (entry.get("hostname") if isinstance(entry, dict) else None)
        if host:
            return host
    return None


class EndpointIngress(pulumi.ComponentResource):
    """Outputs: `hostname` and `url` (both from the Ingress's final status, G16)."""

    hostname: pulumi.Output[Optional[str]]
    url: pulumi.Output[Optional[str]]

    def __init__(self, name: str, args: EndpointIngressArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llm-serving:endpoints:EndpointIngress", name, None, opts)
        spec = args.spec
        tags = tag_rules.alb_tags(pulumi.get_stack(), args.endpoint_name, args.tags)
        manifest = ingress_rules.alb_ingress(
            ingress_rules.ingress_name(args.endpoint_name),
            addon_rules.OPERATOR_NAMESPACE,  # where the router and its Service run
            {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/name": args.endpoint_name},
            ingress_rules.ingress_annotations(spec, args.ingress, args.health_path, tags),
            ingress_rules.router_service(args.ingress, args.endpoint_name),
            args.ingress.router_port,
        )
        self.ingress = k8s.networking.v1.Ingress(
            name,
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.after,
                # G8: a scheme change is a new Ingress (and ALB), never an in-place flip or a
                # delete-and-recreate outside Pulumi's control.
                replace_on_changes=[SCHEME_ANNOTATION],
                delete_before_replace=True,
            ),
        )
        scheme = ingress_rules.url_scheme(args.ingress)
        self.hostname = self.ingress.status.apply(hostname_of)
        self.url = self.hostname.apply(lambda host: ingress_rules.endpoint_url(scheme, host, spec.invocation_endpoint))
        self.register_outputs({"hostname": self.hostname, "url": self.url})
