"""`python -m stacks preflight --stack <env>`: what AWS must already hold before `pulumi up`.

- G14: each S3 model location holds `config.json` and at least one `*.safetensors`;
- the GPU instance types exist in the region, and the region's quota covers what the stack asks for
  (EC2 On-Demand vCPU quotas for EKS node groups, SageMaker "<type> for cluster usage" for HyperPod);
- an adopted HyperPod cluster (mode existing, `hyperpodClusterArn`) is InService.
Each problem is one line. Also callable from the program (`llm-serving:preflight: true`).
"""

from __future__ import annotations

from typing import Optional

from components.rules import instances
from components.rules.clusters import hyperpod_instance_type, with_default_groups
from components.rules.spec import S3Source

from .aws import Aws, AwsError
from .config import StackConfig
from .literal import labelled, plain

# EC2 On-Demand vCPU quotas by instance family letter.
EC2_QUOTAS = {"g": ("L-DB2E81BA", "Running On-Demand G and VT instances"), "p": ("L-417A185B", "Running On-Demand P instances")}


def run(cfg: StackConfig, aws: Optional[Aws] = None) -> list[str]:
    aws = aws or Aws(cfg.region)
    problems: list[str] = []
    for check in (check_models, check_instance_types, check_quotas, check_hyperpod):
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
        names = {k[len(prefix):] for k in keys}
        missing = [m for m, ok in (("config.json", "config.json" in names), ("*.safetensors", any(n.endswith(".safetensors") for n in names))) if not ok]
        if missing:
            out.append(f"{where}: [G14] no {' and no '.join(missing)} at the top of the model location. Fix: upload the model there or correct modelSource.path")
    return out


def _wanted(cfg: StackConfig) -> dict[str, int]:
    """EC2 instance type -> how many instances the stack may run (max sizes)."""
    cluster = with_default_groups(cfg.cluster, cfg.endpoints)
    wanted: dict[str, int] = {}
    for g in cluster.gpu_node_groups if cluster.mode == "eks" else []:
        wanted[g.instance_type] = wanted.get(g.instance_type, 0) + g.max_size
    for g in cluster.instance_groups if cluster.mode == "hyperpod" else []:
        key = instances.ec2_name(g.instance_type.lower())
        wanted[key] = wanted.get(key, 0) + g.instance_count
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
                out.append(f"cluster.gpuNodeGroups: quota '{label}' ({code}) in {cfg.region} = {have:g} vCPUs, the node groups' maxSize needs {need}. Fix: request an increase in Service Quotas or lower maxSize")
    elif cfg.cluster.mode == "hyperpod":
        quotas = {name.lower(): value for name, value in aws.quotas_named("sagemaker", "ml.* for cluster usage").items()}
        for t, n in sorted(wanted.items()):
            name = f"{hyperpod_instance_type(t)} for cluster usage"
            have = quotas.get(name.lower(), 0.0)
            if have < n:
                out.append(f"cluster.instanceGroups: quota '{name}' in {cfg.region} = {have:g}, the instance groups need {n}. Fix: request an increase in Service Quotas or lower instanceCount")
    return out


def unobtainable(wanted: dict[str, int], hyperpod: bool, region: str, aws: Aws) -> dict[str, str]:
    """Instance type -> why the account cannot get that many in `region`: not offered there, or over the
    quota checked above (HyperPod "<type> for cluster usage", else the EC2 On-Demand vCPU quota of the
    family). `stacks tune` drops these types from a grid before deploying anything."""
    out: dict[str, str] = {}
    named: Optional[dict[str, float]] = None
    for t, n in sorted(wanted.items()):
        ec2 = instances.ec2_name(t.strip().lower())
        if not aws.instance_type_offered(ec2):
            out[t] = f"not offered in {region}"
        elif hyperpod:
            named = named if named is not None else {k.lower(): v for k, v in aws.quotas_named("sagemaker", "ml.* for cluster usage").items()}
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
        return [f"cluster.hyperpodClusterArn = {arn}: HyperPod cluster is {status}, not InService. Fix: wait for it or repair it before deploying endpoints"]
    return []


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
    problems = run(cfg)
    for line in problems:
        console.print(labelled("preflight", "red", line), soft_wrap=True)
    if problems:
        return 1
    console.print(labelled("Preflight passed", "green bold", f"for stack {stack} ({cfg.region})."))
    return 0
