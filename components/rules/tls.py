"""TLS of an endpoint's ALB (S2): which certificate, which DNS name, which URL scheme; and the config
check that an internet-facing ALB never carries an API key (or no key at all) in clear text.

One decision, `tls_for`, read by the Ingress annotations, the endpoint URLs, the HyperPod
`tlsConfig` and the stack's certificate and DNS records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from .catalog import S2
from .endpoint import resolve
from .problems import Problem
from .dev_stacks import DEFAULT_DEV_STACKS, is_dev_stack
from .paths import STACK_FILE, ConfigPaths
from .spec import EndpointSpec, IngressSpec

OPT_OUT_KEY = "platform.ingress.allowPlaintextApiKey"
# Marks the Ingress of a dev stack that opted out, for the stack policy, which sees objects, not config.
OPT_OUT_ANNOTATION = "llm-serving/allow-plaintext-api-key"
CERTIFICATE_ANNOTATION = "alb.ingress.kubernetes.io/certificate-arn"
SET_TLS = (
    "set platform.ingress.certificateArn to an ACM certificate of the ALB's region, or platform.ingress.domain "
    "{name: api.example.com, hostedZoneId: Z...} so the stack issues one with DNS validation"
)


def listener_annotations(certificate_arn: Any) -> dict[str, Any]:
    """The ALB's listeners (load balancer controller annotations): HTTP and HTTPS with the certificate
    and a redirect to HTTPS, or HTTP alone without one."""
    if not certificate_arn:
        return {"alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}], separators=(",", ":"))}
    return {
        "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}], separators=(",", ":")),
        CERTIFICATE_ANNOTATION: certificate_arn,
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
    }


def terminates_tls(ingress: Mapping[str, Any]) -> bool:
    """An Ingress whose ALB serves HTTPS: a certificate annotation or `spec.tls`."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(CERTIFICATE_ANNOTATION) or (ingress.get("spec") or {}).get("tls"))


@dataclass(frozen=True)
class ResolvedTls:
    """TLS of one endpoint's ALB."""

    certificate_arn: Any = None
    """The ACM certificate: the configured ARN, or (in the program, once declared) the issued certificate's
    ARN as a Pulumi Output. None with `issue` set: the stack issues it."""
    issue: bool = False
    """The stack issues an ACM certificate for `certificate_domain` with DNS validation."""
    host: Optional[str] = None
    """The endpoint's DNS name under `platform.ingress.domain` (its URL's host), else None (the ALB's name)."""
    certificate_domain: Optional[str] = None
    """`*.<domain>`: one DNS label per endpoint, so one wildcard certificate covers them all."""
    hosted_zone_id: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return bool(self.certificate_arn) or self.issue

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"


def has_alb(spec: EndpointSpec) -> bool:
    """The stack declares an ALB Ingress for the endpoint: the hyperpod backend with the router (G8),
    the kubernetes and kserve backends with `loadBalancer: alb`."""
    if spec.backend == "hyperpod":
        return spec.intelligent_routing
    return spec.backend != "ome" and spec.load_balancer == "alb"


def tls_for(spec: EndpointSpec, ingress: IngressSpec) -> ResolvedTls:
    domain = ingress.domain
    if domain is None:
        return ResolvedTls(certificate_arn=ingress.certificate_arn)
    return ResolvedTls(
        certificate_arn=ingress.certificate_arn,
        issue=not ingress.certificate_arn,
        host=f"{resolve(spec).name}.{domain.name}" if has_alb(spec) else None,
        certificate_domain=f"*.{domain.name}",
        hosted_zone_id=domain.hosted_zone_id,
    )


def plaintext_severity(opted_out: bool, stack: Optional[str], dev_stacks: Iterable[str] = DEFAULT_DEV_STACKS) -> str:
    """The verdict on an internet-facing ALB without TLS that carries API keys (S2 for an endpoint's key,
    T3 for the tenant gateway's keys): a warning only for a dev stack's explicit opt-out
    (`platform.ingress.allowPlaintextApiKey`), an error everywhere else (an unknown stack is not dev)."""
    return "warning" if opted_out and is_dev_stack(stack, tuple(dev_stacks)) else "error"


def _public_lb(spec: EndpointSpec) -> Optional[str]:
    if not spec.public_alb:
        return None
    if has_alb(spec):
        return "ALB"
    return "NLB" if spec.backend in ("kubernetes", "kserve") and spec.load_balancer == "nlb" else None


def check_public_tls(
    endpoints: Iterable[EndpointSpec], ingress: IngressSpec, stack: Optional[str], dev_stacks: Iterable[str] = DEFAULT_DEV_STACKS, paths: ConfigPaths = STACK_FILE
) -> list[Problem]:
    """S2 at config time. An internet-facing load balancer without TLS sends every request, and the
    `Authorization: Bearer` key with it, in clear text across the internet. The stack terminates TLS on
    the ALB only (an NLB passes TCP through), so a public NLB has no TLS either.

    AWS: "To use an HTTPS listener, you must deploy at least one SSL/TLS server certificate on your load
    balancer" (Elastic Load Balancing user guide, create-https-listener); the ALB controller takes it from
    the `alb.ingress.kubernetes.io/certificate-arn` annotation (kubernetes-sigs.github.io/aws-load-balancer-controller
    guide/ingress/annotations, "TLS")."""
    dev_stacks = tuple(dev_stacks)
    dev = is_dev_stack(stack, dev_stacks)
    problems: list[Problem] = []
    if ingress.allow_plaintext_api_key and not dev:
        problems.append(
            Problem(
                f"{paths.platform}.{OPT_OUT_KEY.removeprefix('platform.')}",
                True,
                S2,
                f"stack {stack or '(unknown)'!r} is not a dev stack ({', '.join(dev_stacks)}): outside dev an API key never crosses the internet in clear text",
                f"remove it and {SET_TLS}",
            )
        )
    for i, spec in enumerate(endpoints):
        kind = _public_lb(spec)
        if kind is None or (kind == "ALB" and tls_for(spec, ingress).enabled):
            continue
        where = paths.endpoint(i)
        fix = SET_TLS if kind == "ALB" else "use loadBalancer: alb (the stack terminates TLS on the ALB) and " + SET_TLS.removeprefix("set ")
        if not spec.api_key:
            problems.append(Problem(f"{where}.publicAlb", True, S2, f"an internet-facing {kind} with neither TLS nor an API key: anyone can run (and read) inference in clear text", f"{fix}, set apiKey: true, or publicAlb: false"))
        elif plaintext_severity(ingress.allow_plaintext_api_key, stack, dev_stacks) == "warning":
            problems.append(
                Problem(
                    f"{where}.apiKey",
                    True,
                    S2,
                    f"{OPT_OUT_KEY} is set: the API key of this internet-facing {kind} crosses the internet in clear text (dev stack {stack!r} only)",
                    f"{fix}, and remove allowPlaintextApiKey",
                    severity="warning",
                )
            )
        else:
            problems.append(
                Problem(
                    f"{where}.apiKey",
                    True,
                    S2,
                    f"an internet-facing {kind} without TLS: the API key (Authorization: Bearer) and every prompt cross the internet in clear text",
                    f"{fix}; or publicAlb: false; in a dev stack {OPT_OUT_KEY}: true accepts the risk",
                )
            )
    return problems
