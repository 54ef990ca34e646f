"""Security and reliability basics beyond the incident log (S1-S6), on declared resources.

S1 GPU workloads declare GPU limits and probes; S3 no plaintext secret in a ConfigMap or env var
(with the documented router exception); S4 EKS API endpoint not open to the internet outside dev;
S5 GPU node groups on an NVIDIA AMI type; S6 required tags on taggable AWS resources. S2 (a public
ALB needs TLS) is cross-resource and lives in `stack_checks` and, for config, in `tls`. Anchors (AWSGuard,
Kyverno best practices, CIS EKS) are listed in `policy_catalog` and docs/policies.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from benchmarks import secrets

from . import instances
from .backends import BACKENDS, hyperpod, reader
from .backends.engine_checks import EngineContainerView
from .catalog import S1, S3, S4, S5, S6
from .dev_stacks import DEFAULT_DEV_STACKS, is_dev_stack
from .endpoint import API_KEY_ENV, GPU
from .problems import Problem
from .resources import Resource, get
from .tags import REQUIRED_TAGS

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
RUN_TO_COMPLETION = {"Job", "CronJob"}  # no traffic, so no readiness probe to ask for


def pod_spec(manifest: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    path = POD_SPEC_PATHS.get(str(manifest.get("kind")))
    if path is None:
        return None
    spec = get(manifest, *path)
    return (".".join(path), spec) if isinstance(spec, dict) else None


def engine_views(manifest: Mapping[str, Any]) -> list[EngineContainerView]:
    """The engine containers of any object, as the registered backends see them (`Backend.engine_views`): the one
    answer to "which containers run the model?" for S1 and S3 as for G3-G13."""
    obj = dict(manifest)
    return [view for backend in BACKENDS.values() for view in backend.engine_views(obj)]


def _containers(spec: dict[str, Any]) -> Iterable[tuple[str, int, dict[str, Any]]]:
    for field in ("initContainers", "containers"):
        items = spec.get(field)
        for i, c in enumerate(items if isinstance(items, list) else []):
            if isinstance(c, dict):
                yield field, i, c


# ---------------------------------------------------------------- S1 GPU workloads


def check_gpu_workload(manifest: Mapping[str, Any]) -> list[Problem]:
    """S1: every container that asks for a GPU (or runs an engine) has a GPU limit and probes.

    A backend's engine containers (its `engine_views`, e.g. a Deployment's model containers) are already held to
    G11 and the probe rules by that backend's checks; they are skipped here so one mistake is reported once.
    """
    found = pod_spec(manifest)
    if found is None:
        return []
    base, spec = found
    kind = str(manifest.get("kind"))
    covered = {view.path for view in engine_views(manifest)}
    problems: list[Problem] = []
    for field, i, c in _containers(spec):
        if f"{base}.{field}[{i}]" in covered:
            continue
        resources = c.get("resources") if isinstance(c.get("resources"), dict) else {}
        limit = get(resources, "limits", GPU)
        request = get(resources, "requests", GPU)
        if not (reader.gpu_count(limit) or reader.gpu_count(request) or reader.detect_engine(c)):
            continue
        where = f"{base}.{field}[{i}]"
        if reader.gpu_count(limit) == 0:
            problems.append(
                Problem(
                    f"{where}.resources.limits.{GPU}",
                    limit,
                    S1,
                    "GPU container without a GPU limit: GPUs are scheduled by limit, so it lands where no GPU is free or shares one",
                    f"set resources.limits.{GPU} to the GPUs it uses (requests may be omitted; they default to the limit)",
                )
            )
        if field == "initContainers" or kind in RUN_TO_COMPLETION:
            continue
        if not isinstance(c.get("readinessProbe"), dict):
            problems.append(
                Problem(
                    f"{where}.readinessProbe",
                    None,
                    S1,
                    "GPU container without a readiness probe: traffic reaches it while the model is still loading",
                    "add an httpGet readinessProbe on the engine's health route with timeoutSeconds >= 5",
                )
            )
        if not isinstance(c.get("livenessProbe"), dict) and not isinstance(c.get("startupProbe"), dict):
            problems.append(
                Problem(
                    f"{where}.livenessProbe",
                    None,
                    S1,
                    "GPU container without a liveness or startup probe: a hung engine holds its GPU forever",
                    "add a startupProbe sized for the model load and a livenessProbe on the health route",
                )
            )
    return problems


# ---------------------------------------------------------------- S3 plaintext secrets


def _secret_like(name: Any, value: Any) -> bool:
    if not isinstance(value, str) or not value or secrets.ENV_REFERENCE.match(value):
        return False
    by_name = isinstance(name, str) and bool(secrets.SECRET_WORD.search(name)) and not secrets.NOT_A_SECRET.search(name)
    return by_name or bool(secrets.SECRET_VALUE.search(value))


# One definition of a secret name, shared with the scrubber (benchmarks/secrets.py): VLLM_API_KEY, HF_TOKEN,
# *_TOKEN, *_KEY, *PASSWORD*, *SECRET*, *CREDENTIAL*; references to a secret (`*_SECRET_NAME`, `*_KEY_ID`,
# `*_TOKEN_FILE`, ...) are not secrets themselves.
is_secret_name = secrets.is_secret_name


def check_endpoint_env(env: Mapping[str, Any], path: str) -> list[Problem]:
    """S3 at config time: a secret in an endpoint's `env` lands as a plain value in the object (and, for a
    HyperPod endpoint, beside the stack's own VLLM_API_KEY). The value is never echoed."""
    return [
        Problem(
            f"{path}.{name}",
            redacted(value),
            S3,
            f"env var {name} holds a secret as a plain value, readable by anyone who can read the object and written into plans"
            + (
                " (a Pulumi secret too: the engine's env is plain text in the object)"
                if value == secrets.REDACTED
                else ""
            ),
            "remove it: for the endpoint's API key set apiKey: true (a generated key, or apiKeySecretArn), for a Hugging Face "
            "token set modelSource.tokenSecret {name, key}; otherwise reference a Secret (valueFrom.secretKeyRef)",
        )
        for name, value in env.items()
        if is_secret_name(name)
    ]


# ---------------------------------------------------------------- credentials in URLs and engine flags

_KEEP_IN_A_SECRET = (
    "keep it in a Kubernetes Secret that the config names instead: for the endpoint's API key set apiKey: true (a "
    "generated key, or apiKeySecretArn), for a Hugging Face token set modelSource.tokenSecret {name, key}"
)


def check_url_credentials(values: Any, path: str) -> list[Problem]:
    """A URL with user info (`redis://user:password@host`, `https://token@host`) anywhere in a config
    (`hyperpod.kvCache.l2LocalUrl`, `autoscaling.prometheus.serverAddress`, an env value, an engine flag): the credential
    would land in plain text in the object, in plans and in logs. The problem shows the URL without it."""
    problems = []
    for where, text in _strings(values, path):
        if secrets.url_credentials(text):
            problems.append(
                Problem(
                    where,
                    secrets.without_credentials(text),
                    "CONFIG",
                    "a URL with a credential in it (user info before '@'): it would be written in plain text into the object, plan files and logs",
                    f"remove the user info from the URL; {_KEEP_IN_A_SECRET}",
                )
            )
    return problems


def check_credential_args(args: Iterable[Any], path: str, skip: Iterable[str] = ()) -> list[Problem]:
    """A flag that carries a credential in engine arguments (`--hf-token X`, `--api-key=X`, `--password X`, any
    spelling): the value would be a plain argument in the object, in plans and in `ps`. `skip`: flags another
    rule reports (G10's managed `--api-key`)."""
    skipped = {s.replace("_", "-").lower() for s in skip}
    problems = []
    for i, flag, value in secrets.credential_args(args):
        if value is None or flag.replace("_", "-").lower() in skipped:
            continue
        hf = flag.lower().replace("_", "-") in ("--hf-token", "--token")
        fix = (
            "remove it: set modelSource.tokenSecret {name, key}, a Kubernetes Secret that holds the Hugging Face token"
            if hf
            else f"remove it: {_KEEP_IN_A_SECRET}"
        )
        problems.append(
            Problem(
                f"{path}[{i}]",
                f"{flag} {secrets.REDACTED}",
                "CONFIG",
                f"{flag} passes a credential as a plain engine argument, readable in the object, plan files and process lists",
                fix,
            )
        )
    return problems


def _strings(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def redacted(value: Any) -> str:
    """Never print a secret: messages reach CI logs."""
    if value == secrets.REDACTED:
        return "<redacted, a Pulumi secret>"
    return f"<redacted, {len(value) if isinstance(value, str) else '?'} characters>"


def _router_workaround(manifest: Mapping[str, Any], env_name: Any) -> bool:
    """The documented exception: VLLM_API_KEY as a plain value in an endpoint with
    intelligent routing, because the operator copies only plain values to the router."""
    return (
        hyperpod.is_endpoint_config(dict(manifest))
        and env_name == API_KEY_ENV
        and bool(get(manifest, "spec", "intelligentRoutingSpec", "enabled"))
    )


def _plain_env(manifest: Mapping[str, Any]) -> Iterable[tuple[str, Any, Any]]:
    """(path, name, value) of every env var given as a plain value: in every engine container a backend sees
    (`engine_views`: a HyperPod worker, an OME runner, a KServe predictor, a Deployment's model container), then in
    the other containers of a workload's pod spec."""
    views = engine_views(manifest)
    for view in views:
        for name, e in view.env.items():
            if "value" in e:
                yield f"{view.env_path}[{name}]", name, e.get("value")
    found = pod_spec(manifest)
    if found is None:
        return
    base, spec = found
    covered = {view.path for view in views}
    for field, i, c in _containers(spec):
        if f"{base}.{field}[{i}]" in covered:
            continue
        env = c.get("env")
        for e in env if isinstance(env, list) else []:
            if isinstance(e, dict) and "value" in e:
                yield f"{base}.{field}[{i}].env[{e.get('name')}]", e.get("name"), e.get("value")


def check_plaintext_secrets(manifest: Mapping[str, Any]) -> list[Problem]:
    """S3: secrets belong in a Secret (env valueFrom.secretKeyRef), never in plain config."""
    problems: list[Problem] = []
    if manifest.get("kind") == "ConfigMap" and manifest.get("apiVersion") == "v1":
        for field in ("data", "binaryData"):
            data = manifest.get(field)
            for key, value in data.items() if isinstance(data, dict) else []:
                if _secret_like(key, value):
                    problems.append(
                        Problem(
                            f"{field}.{key}",
                            redacted(value),
                            S3,
                            "a secret in a ConfigMap is readable by anyone who can read ConfigMaps and is stored unencrypted",
                            "move it to a Secret and mount or reference that instead",
                        )
                    )
        return problems
    for path, name, value in _plain_env(manifest):
        if _secret_like(name, value) and not _router_workaround(manifest, name):
            problems.append(
                Problem(
                    path,
                    redacted(value),
                    S3,
                    f"env var {name} holds a secret as a plain value, visible to anyone who can read the object",
                    "use valueFrom.secretKeyRef to a Secret",
                )
            )
    return problems


def check_router_key_workaround(manifest: Mapping[str, Any]) -> list[Problem]:
    """S3 (advisory): the one accepted plaintext key, reported so it stays a conscious choice."""
    return [
        Problem(
            path,
            redacted(value),
            S3,
            "the API key is a plain value in the InferenceEndpointConfig (readable with `kubectl get`) because the HyperPod "
            "operator copies only plain `value` env vars to the router; with a secretKeyRef the router's VLLM_API_KEY stays "
            "empty and every backend answers 401",
            "accepted workaround: keep read access to inferenceendpointconfigs as narrow as to Secrets, keep the key a Pulumi "
            "secret, and switch to secretKeyRef once the operator propagates it",
        )
        for path, name, value in _plain_env(manifest)
        if _router_workaround(manifest, name) and isinstance(value, str) and value
    ]


# ---------------------------------------------------------------- S4 EKS API endpoint

OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def check_eks_endpoint(
    resource: Resource, stack: str | None, dev_stacks: Iterable[str] = DEFAULT_DEV_STACKS
) -> list[Problem]:
    props = resource.props
    if resource.type == "aws:eks/cluster:Cluster":
        base, public, cidrs = (
            "vpcConfig.",
            get(props, "vpcConfig", "endpointPublicAccess"),
            get(props, "vpcConfig", "publicAccessCidrs"),
        )
    elif resource.type == "eks:index:Cluster":
        base, public, cidrs = "", props.get("endpointPublicAccess"), props.get("publicAccessCidrs")
    else:
        return []
    if is_dev_stack(stack, dev_stacks):
        return []
    public = True if public is None else public  # both providers default to a public endpoint
    cidrs = list(OPEN_CIDRS[:1]) if cidrs is None else cidrs  # ... open to 0.0.0.0/0
    if public is not True or not isinstance(cidrs, list) or not any(c in OPEN_CIDRS for c in cidrs):
        return []
    return [
        Problem(
            f"{base}publicAccessCidrs",
            cidrs,
            S4,
            f"the EKS API endpoint of stack {stack or '(unknown)'!r} accepts connections from the whole internet",
            f"set {base}endpointPublicAccess: false (private endpoint only), or {base}publicAccessCidrs to your CI and VPN ranges",
        )
    ]


# ---------------------------------------------------------------- S5 GPU node groups

NODE_GROUP_TYPES = ("aws:eks/nodeGroup:NodeGroup", "eks:index:ManagedNodeGroup")
_NVIDIA_FAMILY = re.compile(r"^(p\d+[a-z]*|g\d+(dn|e|f|g)?|gr\d+)\.")  # g4ad is AMD: not matched


def is_nvidia_instance(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    name = instances.ec2_name(name.strip().lower())
    return instances.is_gpu_instance(name) or bool(_NVIDIA_FAMILY.match(name))


def check_gpu_node_group(resource: Resource) -> list[Problem]:
    if resource.type not in NODE_GROUP_TYPES:
        return []
    types = resource.props.get("instanceTypes")
    gpu_types = [t for t in (types if isinstance(types, list) else []) if is_nvidia_instance(t)]
    if not gpu_types:
        return []
    ami = resource.props.get("amiType")
    if ami is None and resource.props.get("launchTemplate"):
        return []  # a custom AMI from a launch template: its driver cannot be judged from here
    if isinstance(ami, str) and "NVIDIA" in ami.upper():
        return []
    why = (
        "the AL2 GPU AMI is end of life; AL2023 and Bottlerocket NVIDIA AMIs carry the driver and container toolkit"
        if ami == "AL2_x86_64_GPU"
        else "without an NVIDIA AMI the nodes have no GPU driver and the device plugin advertises no GPU"
    )
    return [
        Problem(
            "amiType",
            ami,
            S5,
            f"GPU instance type(s) {', '.join(map(str, gpu_types))}: {why}",
            "set amiType: AL2023_x86_64_NVIDIA (or BOTTLEROCKET_x86_64_NVIDIA)",
        )
    ]


# ---------------------------------------------------------------- S6 required tags

DEFAULT_REQUIRED_TAGS = REQUIRED_TAGS  # exactly the tags the components set (tags.stack_tags)
TAGGABLE_TYPES = frozenset(
    {
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/addon:Addon",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:eks/accessEntry:AccessEntry",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:alb/loadBalancer:LoadBalancer",
        "aws:secretsmanager/secret:Secret",
        "aws:kms/key:Key",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:ecr/repository:Repository",
        "aws:acm/certificate:Certificate",
        "aws:fsx/lustreFileSystem:LustreFileSystem",
        # ElastiCache tags replication groups and subnet groups (ElastiCache user guide, "Tagging your ElastiCache resources").
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "eks:index:Cluster",
        "eks:index:ManagedNodeGroup",
        "aws-native:sagemaker:Cluster",
    }
)


def _tag_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value}
    if isinstance(value, list):  # aws-native: [{key, value}]
        return {str(t.get("key")) for t in value if isinstance(t, dict) and "key" in t}
    return set()


def check_required_tags(resource: Resource, required: Iterable[str] = DEFAULT_REQUIRED_TAGS) -> list[Problem]:
    if resource.type not in TAGGABLE_TYPES:
        return []
    # tagsAll: what the AWS provider's defaultTags add; they count as present.
    present = _tag_keys(resource.props.get("tags")) | _tag_keys(resource.props.get("tagsAll"))
    missing = [t for t in required if t not in present]
    if not missing:
        return []
    return [
        Problem(
            "tags",
            sorted(present),
            S6,
            f"missing required tag(s) {', '.join(missing)}: cost and ownership cannot be traced",
            "add them to tags (or once for every resource with the AWS provider's defaultTags)",
        )
    ]
