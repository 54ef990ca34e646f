"""TLS of an endpoint's ALB (S2): which endpoints have one (each backend says), and the config check that an
internet-facing load balancer never carries an API key (or no key at all) in clear text.

One decision, `tls_for`, read by the endpoint URLs, the HyperPod `tlsConfig` and the stack's certificate and DNS
records; the certificate, name and scheme of one ALB are `rules/alb_tls.py`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .alb_tls import (
    CERTIFICATE_ANNOTATION,
    OPT_OUT_ANNOTATION,
    OPT_OUT_KEY,
    SET_TLS,
    ResolvedTls,
    alb_tls,
    listener_annotations,
    terminates_tls,
)
from .backends import backend_for
from .catalog import S2
from .dev_stacks import DEFAULT_DEV_STACKS, is_dev_stack
from .paths import STACK_FILE, ConfigPaths
from .problems import Problem, Severity
from .spec import EndpointSpec, IngressSpec

__all__ = [
    "CERTIFICATE_ANNOTATION",
    "OPT_OUT_ANNOTATION",
    "OPT_OUT_KEY",
    "SET_TLS",
    "ResolvedTls",
    "alb_tls",
    "check_public_tls",
    "has_alb",
    "listener_annotations",
    "plaintext_severity",
    "terminates_tls",
    "tls_for",
]


def has_alb(spec: EndpointSpec) -> bool:
    """The stack declares an ALB Ingress for the endpoint (its backend's `has_alb`)."""
    return backend_for(spec).has_alb(spec)


def tls_for(spec: EndpointSpec, ingress: IngressSpec) -> ResolvedTls:
    return alb_tls(spec, ingress, has_alb(spec))


def plaintext_severity(opted_out: bool, stack: str | None, dev_stacks: Iterable[str] = DEFAULT_DEV_STACKS) -> Severity:
    """The verdict on an internet-facing ALB without TLS that carries API keys (S2 for an endpoint's key,
    T3 for the tenant gateway's keys): a warning only for a dev stack's explicit opt-out
    (`platform.ingress.allowPlaintextApiKey`), an error everywhere else (an unknown stack is not dev)."""
    return "warning" if opted_out and is_dev_stack(stack, tuple(dev_stacks)) else "error"


def _public_lb(spec: EndpointSpec) -> str | None:
    """The internet-facing load balancer the stack declares for the endpoint, if any: "ALB" or "NLB"."""
    return backend_for(spec).public_load_balancer(spec) if spec.public_alb else None


def check_public_tls(
    endpoints: Iterable[EndpointSpec],
    ingress: IngressSpec,
    stack: str | None,
    dev_stacks: Iterable[str] = DEFAULT_DEV_STACKS,
    paths: ConfigPaths = STACK_FILE,
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
        fix = (
            SET_TLS
            if kind == "ALB"
            else "use loadBalancer: alb (the stack terminates TLS on the ALB) and " + SET_TLS.removeprefix("set ")
        )
        if not spec.api_key:
            problems.append(
                Problem(
                    f"{where}.publicAlb",
                    True,
                    S2,
                    f"an internet-facing {kind} with neither TLS nor an API key: anyone can run (and read) inference in clear text",
                    f"{fix}, set apiKey: true, or publicAlb: false",
                )
            )
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
