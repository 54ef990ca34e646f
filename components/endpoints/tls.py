"""TLS of the endpoints' ALBs (S2): the ACM certificate the stack issues for `platform.ingress.domain`
and each endpoint's DNS name. Which certificate and which name is `rules.tls.tls_for`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws

from ..rules import ingress as ingress_rules
from ..rules.spec import EndpointSpec, IngressSpec
from ..rules.tls import tls_for

RECORD_TTL = 60  # seconds: a replaced ALB (G8) is reachable by name within a minute


class IssuedCertificate(pulumi.ComponentResource):
    """An ACM certificate for `*.<domain>` validated by DNS: the validation record in the hosted zone and the
    `CertificateValidation` that waits until ACM has issued it (pulumi-aws `acm.CertificateValidation` docs).
    A wildcard names one domain, so ACM asks for exactly one validation record. `arn` is the validated
    certificate's, so an Ingress that uses it waits for the issue."""

    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        domain: str,
        hosted_zone_id: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-serving:endpoints:IssuedCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.certificate = aws.acm.Certificate(name, domain_name=domain, validation_method="DNS", tags=tags, opts=child)
        option = self.certificate.domain_validation_options.apply(lambda opts: opts[0] if opts else None)
        self.validation_record = aws.route53.Record(
            f"{name}-validation",
            zone_id=hosted_zone_id,
            name=option.apply(lambda o: o.resource_record_name if o else None),
            type=option.apply(lambda o: o.resource_record_type if o else "CNAME"),
            records=[option.apply(lambda o: o.resource_record_value if o else None)],  # type: ignore[arg-type, return-value]  # None only while the certificate has no option yet
            ttl=RECORD_TTL,
            allow_overwrite=True,  # the same record validates every certificate for this name (a re-issue)
            opts=child,
        )
        self.validation = aws.acm.CertificateValidation(
            name,
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[self.validation_record.fqdn],
            opts=child,
        )
        self.arn = self.validation.certificate_arn
        self.register_outputs({"arn": self.arn})


def with_issued_certificate(
    ingress: IngressSpec, tags: dict[str, str], opts: pulumi.ResourceOptions | None = None
) -> IngressSpec:
    """The ingress settings with the certificate the stack issues for `domain` in place of `certificateArn`
    (an Output, which the rules place and never inspect); unchanged when there is none to issue."""
    if ingress.domain is None or ingress.certificate_arn:
        return ingress
    issued = IssuedCertificate("endpoints-tls", f"*.{ingress.domain.name}", ingress.domain.hosted_zone_id, tags, opts)
    pulumi.log.info(
        f"[S2] platform.ingress.certificateArn: None -> ACM certificate for *.{ingress.domain.name} "
        "(issued by the stack with DNS validation; every ALB endpoint serves HTTPS under this domain)"
    )
    return ingress.model_copy(update={"certificate_arn": issued.arn})


def named_url(parent: pulumi.Resource, name: str, spec: EndpointSpec, ingress: IngressSpec, url: Any) -> Any:
    """With `domain`: a CNAME `<endpoint>.<domain>` -> the ALB the URL names, and the URL by that name (the
    one the certificate covers). A CNAME, not an alias: an alias needs the ALB's canonical hosted zone,
    which only a lookup of the ALB gives, and for a name below the zone apex a CNAME resolves the same
    (Route53 developer guide, "Choosing between alias and non-alias records"). Without: `url` as it is."""
    tls = tls_for(spec, ingress)
    if tls.host is None or url is None:
        return url
    alb_host = pulumi.Output.from_input(url).apply(lambda u: urlparse(u).hostname if u else None)
    record = aws.route53.Record(
        f"{name}-dns",
        zone_id=tls.hosted_zone_id,
        name=tls.host,
        type="CNAME",
        ttl=RECORD_TTL,
        records=[alb_host],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.all(alb_host, record.fqdn).apply(lambda a: ingress_rules.alb_url(spec, ingress, a[0]))
