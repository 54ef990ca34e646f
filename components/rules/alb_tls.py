"""TLS of one ALB (S2), given that the endpoint has one: which certificate, which DNS name, which URL scheme, and
the listener annotations. A leaf: the Ingress rules and the backends read it; `rules/tls.py` decides which
endpoints have an ALB (a fact of each backend) and holds the config check."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .endpoint import resolve
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
    host: str | None = None
    """The endpoint's DNS name under `platform.ingress.domain` (its URL's host), else None (the ALB's name)."""
    certificate_domain: str | None = None
    """`*.<domain>`: one DNS label per endpoint, so one wildcard certificate covers them all."""
    hosted_zone_id: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.certificate_arn) or self.issue

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"


def alb_tls(spec: EndpointSpec, ingress: IngressSpec, alb: bool) -> ResolvedTls:
    """The endpoint's TLS; `alb`: the stack declares an ALB for it (only then does it get a DNS name)."""
    domain = ingress.domain
    if domain is None:
        return ResolvedTls(certificate_arn=ingress.certificate_arn)
    return ResolvedTls(
        certificate_arn=ingress.certificate_arn,
        issue=not ingress.certificate_arn,
        host=f"{resolve(spec).name}.{domain.name}" if alb else None,
        certificate_domain=f"*.{domain.name}",
        hosted_zone_id=domain.hosted_zone_id,
    )
