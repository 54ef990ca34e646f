"""`python -m stacks preflight --stack <env>`: what AWS and the Hugging Face Hub must already hold before `pulumi up`.

- G14: each S3 model location holds `config.json` and at least one `*.safetensors`;
- the GPU instance types exist in the region, and the region's quota covers what the stack asks for
  (EC2 On-Demand vCPU quotas for EKS node groups, SageMaker "<type> for cluster usage" for HyperPod);
- an adopted HyperPod cluster (mode existing, `hyperpodClusterArn`) is InService;
- S2: `platform.ingress.certificateArn` is an ISSUED ACM certificate of the stack's region covering the
  endpoints' names; T3: so is `gateway.certificateArn`, the tenant gateway's;
- A1: every Amazon Managed Service for Prometheus workspace the autoscaling triggers query
  (`platform.prometheusServerAddress`, `autoscaling.prometheus.serverAddress`) exists and is ACTIVE;
- G24: each Hugging Face model exists at its revision, a gated one has `tokenSecret`, and `$HF_TOKEN` (the
  token that Secret should hold) can read its files (stacks/models/hub.py; timeouts, 404, 401/403 one line each).
Each problem is one line; a `PreflightWarning` line does not fail the preflight. Also callable from the program (`llm-serving:preflight: true`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from components.rules import instances
from components.rules.clusters import hyperpod_instance_type, with_default_groups
from components.rules.spec import S3Source
from components.rules.tls import has_alb, tls_for

from .aws import Aws, AwsError
from .config import StackConfig
from .literal import labelled, plain

if TYPE_CHECKING:
    from .models.hub import Hub

# EC2 On-Demand vCPU quotas by instance family letter.
EC2_QUOTAS = {
    "g": ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    "p": ("L-417A185B", "Running On-Demand P instances"),
}


class PreflightWarning(str):
    """A preflight line that does not stop `up`: the stack cannot see whether it holds."""


def run(cfg: StackConfig, aws: Aws | None = None) -> list[str]:
    aws = aws or Aws(cfg.region)
    problems: list[str] = []
    for check in (
        check_models,
        check_hub_models,
        check_instance_types,
        check_quotas,
        check_hyperpod,
        check_certificate,
        check_gateway_certificate,
        check_prometheus_workspaces,
    ):
        try:
            problems += check(cfg, aws)
        except AwsError as exc:
            problems.append(str(exc))
    return problems


def check_models(cfg: StackConfig, aws: Aws) -> list[str]:
    out = []
    for i, ep in enumerate(cfg.endpoints):
        src = ep.model_source
        if not isinstance(src, S3Source):
            continue
        prefix = src.path if not src.path or src.path.endswith("/") else src.path + "/"
        where = f"endpoints[{i}].modelSource = s3://{src.bucket}/{prefix}"
        try:
            keys = aws.s3_keys(src.bucket, prefix, src.region or cfg.region)
        except AwsError as exc:
            out.append(f"{where}: [G14] {exc}")
            continue
        names = {k[len(prefix) :] for k in keys}
        missing = [
            m
            for m, ok in (
                ("config.json", "config.json" in names),
                ("*.safetensors", any(n.endswith(".safetensors") for n in names)),
            )
            if not ok
        ]
        if missing:
            out.append(
                f"{where}: [G14] no {' and no '.join(missing)} at the top of the model location. Fix: upload the model there or correct modelSource.path"
            )
    return out


HUB_TIMEOUT = 15.0  # seconds for each answer of the hub


def check_hub_models(cfg: StackConfig, aws: Aws | None = None, hub: Hub | None = None) -> list[str]:
    """G24 and the hub's answers: the model and its revision exist; a gated model has a token Secret; the local
    `$HF_TOKEN` can read config.json (the Secret's token is in the cluster, out of reach: a warning says so
    when no local token is set)."""
    from components.rules import gated
    from components.rules.spec import HuggingFaceSource

    from .models.hub import DEFAULT_TOKEN_ENV, Hub, HubError, token_from

    out: list[str] = []
    for i, ep in enumerate(cfg.endpoints):
        src = ep.model_source
        if not isinstance(src, HuggingFaceSource):
            continue
        repo = src.model_id or ep.model
        where = f"endpoints[{i}].modelSource"
        hub = hub or Hub(token_from(DEFAULT_TOKEN_ENV), HUB_TIMEOUT)
        try:
            info = hub.info(repo, src.revision)
        except HubError as exc:
            out.append(f"{where}: [G24] {exc}")
            continue
        missing = gated.without_token(ep, info.gated, f"endpoints[{i}]", "error")
        out += [str(p) for p in missing]
        if missing:
            continue
        if info.gated and not hub.token:
            out.append(
                PreflightWarning(
                    f"{where}.tokenSecret = {src.token_secret.name if src.token_secret else '-'}: [G24] {repo} is gated; whether the Secret's token may read it is not visible from here. Fix: set ${DEFAULT_TOKEN_ENV} to the same token and run preflight again"
                )
            )
            continue
        try:
            hub.read(repo, info.sha, "config.json", (0, 0), 1)  # one byte: can this token read the files?
        except HubError as exc:
            secret = f" (the Secret {src.token_secret.name} must hold a token that can)" if src.token_secret else ""
            out.append(f"{where}: [G24] {exc}{secret}")
    return out


def _wanted(cfg: StackConfig) -> dict[str, int]:
    """EC2 instance type -> how many instances the stack may run (max sizes)."""
    cluster = with_default_groups(cfg.cluster, cfg.endpoints)
    wanted: dict[str, int] = {}
    for g in cluster.gpu_node_groups if cluster.mode == "eks" else []:
        wanted[g.instance_type] = wanted.get(g.instance_type, 0) + g.max_size
    for ig in cluster.instance_groups if cluster.mode == "hyperpod" else []:
        key = instances.ec2_name(ig.instance_type.lower())
        wanted[key] = wanted.get(key, 0) + ig.instance_count
    return wanted


def check_instance_types(cfg: StackConfig, aws: Aws) -> list[str]:
    return [
        f"cluster: instance type {t} = not offered in {cfg.region}. Fix: pick another region or instance type"
        for t in sorted(_wanted(cfg))
        if not aws.instance_type_offered(t)
    ]


def check_quotas(cfg: StackConfig, aws: Aws) -> list[str]:
    out = []
    wanted = _wanted(cfg)
    if cfg.cluster.mode == "eks":
        vcpus: dict[str, int] = {}
        for t, n in wanted.items():
            info = instances.lookup(t)
            family = t[0]
            if info and family in EC2_QUOTAS:
                vcpus[family] = vcpus.get(family, 0) + info.vcpus * n
        for family, need in sorted(vcpus.items()):
            code, label = EC2_QUOTAS[family]
            have = aws.quota("ec2", code)
            if have < need:
                out.append(
                    f"cluster.gpuNodeGroups: quota '{label}' ({code}) in {cfg.region} = {have:g} vCPUs, the node groups' maxSize needs {need}. Fix: request an increase in Service Quotas or lower maxSize"
                )
    elif cfg.cluster.mode == "hyperpod":
        quotas = {
            name.lower(): value for name, value in aws.quotas_named("sagemaker", "ml.* for cluster usage").items()
        }
        for t, n in sorted(wanted.items()):
            name = f"{hyperpod_instance_type(t)} for cluster usage"
            have = quotas.get(name.lower(), 0.0)
            if have < n:
                out.append(
                    f"cluster.instanceGroups: quota '{name}' in {cfg.region} = {have:g}, the instance groups need {n}. Fix: request an increase in Service Quotas or lower instanceCount"
                )
    return out


def unobtainable(wanted: dict[str, int], hyperpod: bool, region: str, aws: Aws) -> dict[str, str]:
    """Instance type -> why the account cannot get that many in `region`: not offered there, or over the
    quota checked above (HyperPod "<type> for cluster usage", else the EC2 On-Demand vCPU quota of the
    family). `stacks tune` drops these types from a grid before deploying anything."""
    out: dict[str, str] = {}
    named: dict[str, float] | None = None
    for t, n in sorted(wanted.items()):
        ec2 = instances.ec2_name(t.strip().lower())
        if not aws.instance_type_offered(ec2):
            out[t] = f"not offered in {region}"
        elif hyperpod:
            named = (
                named
                if named is not None
                else {k.lower(): v for k, v in aws.quotas_named("sagemaker", "ml.* for cluster usage").items()}
            )
            quota = f"{hyperpod_instance_type(ec2)} for cluster usage"
            if named.get(quota.lower(), 0.0) < n:
                out[t] = f"quota '{quota}' in {region} = {named.get(quota.lower(), 0.0):g}, a trial needs {n}"
        elif (info := instances.lookup(ec2)) and ec2[0] in EC2_QUOTAS:
            code, label = EC2_QUOTAS[ec2[0]]
            have = aws.quota("ec2", code)
            if have < info.vcpus * n:
                out[t] = f"quota '{label}' ({code}) in {region} = {have:g} vCPUs, a trial needs {info.vcpus * n}"
    return out


def check_hyperpod(cfg: StackConfig, aws: Aws) -> list[str]:
    arn = cfg.cluster.hyperpod_cluster_arn
    if cfg.cluster.mode != "existing" or not arn:
        return []
    status = aws.hyperpod_status(arn)
    if status != "InService":
        return [
            f"cluster.hyperpodClusterArn = {arn}: HyperPod cluster is {status}, not InService. Fix: wait for it or repair it before deploying endpoints"
        ]
    return []


CERT_KEY = "platform.ingress.certificateArn"


def covers(names: list[str], host: str) -> bool:
    """A certificate name matches `host` exactly or as a wildcard of one leftmost label (`*.example.com`
    covers `a.example.com`, not `example.com` nor `a.b.example.com`; RFC 6125 6.4.3, as ACM issues them)."""
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host or (name.startswith("*.") and host.partition(".")[2] == name[2:] and host.partition(".")[0]):
            return True
    return False


def _issued(where: str, arn: str, stack_region: str, aws: Aws) -> tuple[dict | None, list[str]]:
    """(the certificate, []) when `arn` is an ISSUED ACM certificate of the stack's region, else (None, the
    problem). An ALB takes ACM certificates of its own region only ("Certificates in ACM are regional
    resources", docs.aws.amazon.com/acm/latest/userguide/acm-regions.html), and only ISSUED ones: a listener
    with a PENDING_VALIDATION certificate fails with UnsupportedCertificate
    (github.com/cloudposse/terraform-aws-acm-request-certificate/issues/58), so the ALB controller never
    attaches it and `up` times out waiting for the Ingress."""
    region, account = arn.split(":")[3:5]
    if region != stack_region:
        return None, [
            f"{where} the certificate is in {region}, the stack's ALBs in {stack_region}; an ALB can use ACM certificates of its own region only. Fix: request or import the certificate in {stack_region} and set its ARN"
        ]
    cert = aws.acm_certificate(arn, region)
    if cert is None:
        placeholder = (
            " (123456789012 is AWS's documentation account: the example's placeholder)"
            if account == "123456789012"
            else ""
        )
        return None, [
            f"{where} no such certificate in {region} for the account of these credentials{placeholder}. Fix: set the ARN of an ACM certificate of that account and region (`aws acm list-certificates --region {region}`)"
        ]
    status = cert.get("Status")
    if status != "ISSUED":
        fix = (
            "create the DNS validation record (`aws acm describe-certificate` lists it) and wait for ISSUED"
            if status == "PENDING_VALIDATION"
            else "request or import a new certificate and set its ARN"
        )
        return None, [
            f"{where} the certificate is {status}, not ISSUED: the ALB cannot serve it and `pulumi up` times out waiting for the Ingress. Fix: {fix}"
        ]
    return cert, []


def _names(cert: dict) -> list[str]:
    return sorted({cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])} - {""})


def _alb_name_warning(where: str, names: list[str], fix: str) -> PreflightWarning:
    """Clients reach an ALB the stack does not name by its `*.elb.amazonaws.com` name, which no ACM
    certificate can hold (ACM refuses Amazon-owned names, FailureReason DOMAIN_NOT_ALLOWED,
    docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html): a warning, since a CNAME the
    user points at the ALB after `up` (outside the stack) makes it work."""
    return PreflightWarning(
        f"{where} clients reach the ALB by its *.elb.amazonaws.com name, which no ACM certificate covers (this one: {', '.join(names)}): browsers and curl see a name mismatch. Fix: {fix}"
    )


def check_certificate(cfg: StackConfig, aws: Aws) -> list[str]:
    """S2: the certificate the endpoints' ALBs will serve. With `domain` the stack serves
    `<endpoint>.<domain>` and points those names at the ALBs, so an uncovered one is an error; without it,
    the ALB-name warning."""
    ingress = cfg.platform.ingress
    arn = ingress.certificate_arn
    albs = [ep for ep in cfg.endpoints if has_alb(ep)]
    if not arn or not albs:
        return []
    where = f"{CERT_KEY} = {arn}: [S2]"
    cert, problems = _issued(where, arn, cfg.region, aws)
    if cert is None:
        return problems
    names = _names(cert)
    if ingress.domain is not None:
        hosts = [h for h in (tls_for(ep, ingress).host for ep in albs) if h]
        missing = [h for h in hosts if not covers(names, h)]
        if missing:
            return [
                f"{where} the certificate covers {', '.join(names)}, not {', '.join(missing)}: clients see a name mismatch. Fix: use a certificate for *.{ingress.domain.name}, or remove certificateArn so the stack issues one"
            ]
        return []
    return [
        _alb_name_warning(
            f"{where} without platform.ingress.domain",
            names,
            "point a DNS name of the certificate at the ALB (CNAME) after `up`, or set platform.ingress.domain {name, hostedZoneId} so the stack names and points each endpoint",
        )
    ]


GATEWAY_CERT_KEY = "gateway.certificateArn"


def check_gateway_certificate(cfg: StackConfig, aws: Aws) -> list[str]:
    """T3: the certificate of the tenant gateway's ALB, checked as S2's. The stack names no host for the
    gateway, so its name is the ALB-name warning."""
    arn = cfg.gateway.certificate_arn
    if not cfg.gateway.enabled or not arn:
        return []
    where = f"{GATEWAY_CERT_KEY} = {arn}: [T3]"
    cert, problems = _issued(where, arn, cfg.region, aws)
    if cert is None:
        return problems
    return [
        _alb_name_warning(
            where,
            _names(cert),
            "point a DNS name of the certificate at the gateway's ALB (CNAME) after `up` and give tenants that name",
        )
    ]


# https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>: the CRD's serverAddress pattern.
_AMP_URL = re.compile(
    r"^https://aps-workspaces\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/workspaces/(?P<id>ws-[a-zA-Z0-9-]+)$"
)


def check_prometheus_workspaces(cfg: StackConfig, aws: Aws) -> list[str]:
    """A1: a trigger whose workspace does not exist, or is not ACTIVE, never gets a datapoint."""
    where: dict[str, list[str]] = {}
    if cfg.platform.prometheus_server_address:
        where.setdefault(cfg.platform.prometheus_server_address, []).append("platform.prometheusServerAddress")
    for i, ep in enumerate(cfg.endpoints):
        scaling = ep.autoscaling
        address = scaling.prometheus.server_address if scaling is not None and scaling.prometheus is not None else ""
        if address and address != cfg.platform.prometheus_server_address:
            where.setdefault(address, []).append(f"endpoints[{i}].autoscaling.prometheus.serverAddress")
    out = []
    for address, keys in where.items():
        match = _AMP_URL.match(address)
        if match is None:
            continue  # another host form the pattern admits: nothing to ask AWS
        status = aws.amp_workspace_status(match["id"], match["region"])
        if status == "ACTIVE":
            continue
        state = (
            f"has no workspace {match['id']} in {match['region']}"
            if status is None
            else f"workspace {match['id']} is {status}, not ACTIVE"
        )
        out.append(
            f"{keys[0]} = {address}: [A1] the account {state}, so the autoscaling queries get no data and the endpoints never "
            "scale. Fix: set it to your workspace's query URL (`aws amp list-workspaces`), with the engines' /metrics scraped into it"
        )
    return out


def main(stack: str, console, project_dir=None) -> int:
    from . import plan as plan_mod

    try:
        values = plan_mod.read_stack_config(stack, project_dir or plan_mod.PROJECT_DIR)
        cfg = plan_mod.parse_stack_config(values, plan_mod.project_name(project_dir or plan_mod.PROJECT_DIR), stack)
    except plan_mod.StackFileError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 2
    except plan_mod.ConfigError as exc:
        for problem in exc.problems:
            console.print(plain(f"  {problem}"), soft_wrap=True)
        return 2
    lines = run(cfg)
    problems = [line for line in lines if not isinstance(line, PreflightWarning)]
    for line in lines:
        console.print(
            labelled("preflight warning", "yellow", line)
            if isinstance(line, PreflightWarning)
            else labelled("preflight", "red", line),
            soft_wrap=True,
        )
    if problems:
        return 1
    console.print(labelled("Preflight passed", "green bold", f"for stack {stack} ({cfg.region})."))
    return 0
