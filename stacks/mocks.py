"""Pulumi mocks for running the real program offline: record every resource, apply the registered
stack transforms as the engine would, and answer the outputs the program reads."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import MockCallArgs, MockResourceArgs
from pulumi.runtime.mocks import MockMonitor

from components.rules.backends import BACKENDS

SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker for secret values
_SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"  # the envelope's value for "this is a secret"
SECRET_MARK = "<<secret>>"  # mock secret values carry this so writers can redact them
_RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"  # the envelope's value for "a resource reference"


def unwrap(value: Any) -> tuple[Any, bool]:
    """Strip Pulumi's secret envelopes (reporting whether any was found) and restore integers."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == _SECRET_VALUE_SIG:
            inner, _ = unwrap(value.get("value"))
            return inner, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], secret = unwrap(v)
            found |= secret
        return out, found
    if isinstance(value, list):
        items = [unwrap(v) for v in value]
        return [i for i, _ in items], any(s for _, s in items)
    if isinstance(value, float) and value.is_integer():
        return int(value), False  # the wire format has only doubles; Kubernetes wants integers
    return value, False


@dataclass
class Registration:
    type_: str
    name: str
    inputs: dict[str, Any]
    provider: str
    custom: bool
    secret: bool = False
    changes: list[str] = field(default_factory=list)  # what the stack transforms changed
    # Where Pulumi marked an input secret, as key paths into `inputs` (`("spec", "worker", "env", 0, "value")`).
    secret_paths: list[tuple[Any, ...]] = field(default_factory=list)
    urn: str = ""
    graph: Graph = field(default_factory=lambda: Graph())


@dataclass
class Graph:
    """What the engine would store beside the inputs: the resource's place in the dependency graph."""

    parent: str = ""
    dependencies: list[str] = field(default_factory=list)  # every URN this waits for (explicit and through inputs)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # per input: the URNs it came from
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # replaceOnChanges, deleteBeforeReplace, protect

    @classmethod
    def of(cls, request: Any) -> Graph:
        timeouts = {
            k: getattr(request.customTimeouts, k)
            for k in ("create", "update", "delete")
            if getattr(request.customTimeouts, k, "")
        }
        options: dict[str, Any] = {}
        if list(request.replaceOnChanges):
            options["replaceOnChanges"] = list(request.replaceOnChanges)
        if request.deleteBeforeReplace:
            options["deleteBeforeReplace"] = True
        if request.protect:
            options["protect"] = True
        return cls(
            parent=request.parent,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items() if list(v.urns)},
            custom_timeouts=timeouts,
            options=options,
        )


KeyPath = tuple[Any, ...]


def secret_paths(value: Any, path: KeyPath = ()) -> list[KeyPath]:
    """Key paths of the values Pulumi sent as secrets, read from the wire form of the inputs.

    The SDK's mock monitor deserialises before the mocks see the inputs and pushes secretness up to
    the top-level property (a secret env value makes the whole `spec` secret), so the exact places
    are only in the wire form."""
    if isinstance(value, struct_pb2.Value):
        kind = value.WhichOneof("kind")
        if kind == "struct_value":
            return secret_paths(value.struct_value, path)
        if kind == "list_value":
            return secret_paths(value.list_value, path)
        return []
    if isinstance(value, struct_pb2.Struct):
        fields = value.fields
        if SECRET_SIG in fields and fields[SECRET_SIG].string_value == _SECRET_VALUE_SIG:
            return [path]
        return [p for key in fields for p in secret_paths(fields[key], (*path, key))]
    if isinstance(value, struct_pb2.ListValue):
        return [p for i, item in enumerate(value.values) for p in secret_paths(item, (*path, i))]
    return []


def references_as_urns(value: Any) -> None:
    """Replace every resource reference in a wire struct by its URN, in place.

    The SDK's mock monitor deserialises the inputs it is sent, and a reference (a node group's
    `cluster`) becomes a resource read back from the engine: a `get` RPC whose task lands on the
    event loop of whichever executor thread did the reading, which a later wait of the program may
    then meet on another loop. A plan needs only to know what is referenced: its URN."""
    if isinstance(value, struct_pb2.Value):
        kind = value.WhichOneof("kind")
        if kind == "struct_value":
            fields = value.struct_value.fields
            if SECRET_SIG in fields and fields[SECRET_SIG].string_value == _RESOURCE_REF_SIG:
                value.string_value = fields["urn"].string_value
                return
            references_as_urns(value.struct_value)
        elif kind == "list_value":
            for item in value.list_value.values:
                references_as_urns(item)
    elif isinstance(value, struct_pb2.Struct):
        for key in value.fields:
            references_as_urns(value.fields[key])


OutputFactory = Callable[[MockResourceArgs], dict[str, Any]]


def _mock_secret(name: str) -> str:
    return f"{SECRET_MARK}{hashlib.sha256(name.encode()).hexdigest()[:12]}"


MOCK_ACCOUNT = "123456789012"
MOCK_REGION = "us-east-1"


def _kubeconfig(name: str) -> str:
    import json

    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": f"https://{name}.mock.eks.amazonaws.com",
                        "certificate-authority-data": "bW9jaw==",
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [{"name": name, "user": {"token": _mock_secret(name)}}],
        }
    )


def _ingress_status(args: MockResourceArgs) -> dict[str, Any]:
    """What the ALB controller writes once the ALB exists: internal ALBs get an `internal-` name."""
    meta = dict(args.inputs.get("metadata") or {})
    scheme = (meta.get("annotations") or {}).get("alb.ingress.kubernetes.io/scheme", "internal")
    name = str(meta.get("name") or args.name)[:20]
    digest = hashlib.sha256(args.name.encode()).hexdigest()[:10]
    prefix = "internal-" if scheme == "internal" else ""
    return {
        "status": {
            "loadBalancer": {"ingress": [{"hostname": f"{prefix}k8s-{name}-{digest}.{MOCK_REGION}.elb.amazonaws.com"}]}
        }
    }


def _eks_cluster(args: MockResourceArgs) -> dict[str, Any]:
    name = str(args.inputs.get("name") or args.name)
    issuer = f"oidc.eks.{MOCK_REGION}.amazonaws.com/id/{hashlib.sha256(name.encode()).hexdigest()[:32].upper()}"
    return {
        "kubeconfigJson": _kubeconfig(name),
        "kubeconfig": _kubeconfig(name),
        "oidcIssuer": issuer,
        "oidcProviderUrl": issuer,
        "oidcProviderArn": f"arn:aws:iam::{MOCK_ACCOUNT}:oidc-provider/{issuer}",
        "clusterSecurityGroupId": f"sg-{hashlib.sha256((name + 'c').encode()).hexdigest()[:17]}",
        "nodeSecurityGroupId": f"sg-{hashlib.sha256((name + 'n').encode()).hexdigest()[:17]}",
    }


def _arn(service: str, kind: str) -> OutputFactory:
    return lambda a: {"arn": f"arn:aws:{service}::{MOCK_ACCOUNT}:{kind}/{a.inputs.get('name') or a.name}"}


def _no_status_yet(args: MockResourceArgs) -> dict[str, Any]:
    """Objects whose status feeds the `state` output: known but empty, as just after creation
    (an unknown value would make the whole `endpoints` output unknown under the mocks)."""
    return {"status": {}}


def _acm_certificate(args: MockResourceArgs) -> dict[str, Any]:
    """ACM answers a DNS-validated certificate with one CNAME per domain name to create."""
    domain = str(args.inputs.get("domainName") or "")
    token = hashlib.sha256(domain.encode()).hexdigest()
    return {
        "arn": f"arn:aws:acm:{MOCK_REGION}:{MOCK_ACCOUNT}:certificate/{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:32]}",
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{token[:32]}.{domain.removeprefix('*.')}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{token[32:]}.acm-validations.aws.",
            }
        ],
    }


# Outputs the program reads from resources that the mocks do not compute by themselves.
DEFAULT_OUTPUTS: dict[str, OutputFactory] = {
    # Each registered backend's own object has no status until its operator or controller writes one.
    **{backend.live.type_token: _no_status_yet for backend in BACKENDS.values()},
    "kubernetes:core/v1:Service": _no_status_yet,
    "random:index/randomPassword:RandomPassword": lambda a: {"result": _mock_secret(a.name)},
    "eks:index:Cluster": _eks_cluster,
    "aws:iam/role:Role": _arn("iam", "role"),
    "aws:s3/bucket:Bucket": lambda a: {
        "bucket": f"{a.inputs.get('bucketPrefix', '')}{hashlib.sha256(a.name.encode()).hexdigest()[:12]}"
    },
    "aws-native:sagemaker:Cluster": lambda a: {
        "clusterArn": f"arn:aws:sagemaker:{MOCK_REGION}:{MOCK_ACCOUNT}:cluster/{hashlib.sha256(a.name.encode()).hexdigest()[:12]}",
        "clusterStatus": "InService",
    },
    "kubernetes:networking.k8s.io/v1:Ingress": _ingress_status,
    "aws:acm/certificate:Certificate": _acm_certificate,
    "aws:acm/certificateValidation:CertificateValidation": lambda a: {"certificateArn": a.inputs.get("certificateArn")},
    "aws:route53/record:Record": lambda a: {"fqdn": str(a.inputs.get("name") or "").rstrip(".")},
    "pulumi:pulumi:StackReference": lambda a: {
        "outputs": {
            "kubeconfig": _kubeconfig(str(a.inputs.get("name") or a.name)),
            "cluster": {"name": str(a.inputs.get("name") or a.name)},
        },
        "secretOutputNames": ["kubeconfig"],
    },
}


def _get_cluster(args: MockCallArgs) -> dict[str, Any]:
    name = str(args.args.get("name") or "cluster")
    return {
        "name": name,
        "arn": f"arn:aws:eks:{MOCK_REGION}:{MOCK_ACCOUNT}:cluster/{name}",
        "endpoint": f"https://{name}.mock.eks.amazonaws.com",
        "certificateAuthorities": [{"data": "bW9jaw=="}],
        "vpcConfig": {"vpcId": "vpc-0123456789abcdef0"},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{MOCK_REGION}.amazonaws.com/id/MOCK"}]}],
    }


# Data sources the program calls.
DEFAULT_CALLS: dict[str, Callable[[MockCallArgs], dict]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
        "accountId": MOCK_ACCOUNT,
        "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/mock",
        "userId": "MOCK",
        "id": MOCK_ACCOUNT,
    },
    "aws:index/getPartition:getPartition": lambda a: {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a: {
        "names": [f"{MOCK_REGION}{z}" for z in "abcd"],
        "zoneIds": [f"use1-az{i}" for i in range(1, 5)],
        "id": MOCK_REGION,
    },
    "aws:eks/getCluster:getCluster": _get_cluster,
    "aws:secretsmanager/getSecretVersion:getSecretVersion": lambda a: {
        "secretString": _mock_secret(str(a.args.get("secretId"))),
        "arn": a.args.get("secretId"),
        "id": "v",
    },
}


class PlanMonitor(MockMonitor):
    """The SDK's mock monitor, plus what a plan needs from the wire: the URN of each registration
    (a URN registered twice is an error in a real deployment, and silently overwritten here) and
    which inputs were secret. Registrations run on executor threads: per-call state is thread-local."""

    def __init__(self, mocks: PlanMocks):
        super().__init__(mocks)
        self.plan_mocks = mocks

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        local = self.plan_mocks.pending
        local.urn, local.secret_paths, local.graph = urn, secret_paths(request.object), Graph.of(request)
        references_as_urns(request.object)
        try:
            return super().RegisterResource(request)
        finally:
            local.urn, local.secret_paths, local.graph = "", [], None


class PlanMocks(pulumi.runtime.Mocks):
    def __init__(
        self,
        outputs: dict[str, OutputFactory] | None = None,
        calls: dict[str, Callable[[MockCallArgs], dict]] | None = None,
    ):
        self.registrations: list[Registration] = []
        self.pending = threading.local()  # set by PlanMonitor around each new_resource call
        self.declared: list[tuple[str, str]] = []  # (type, name) in constructor order: see plan.declaration_order
        self.transforms: list[Any] = []
        self.outputs = {**DEFAULT_OUTPUTS, **(outputs or {})}
        self.calls = {**DEFAULT_CALLS, **(calls or {})}

    def register_transform(self, transform: Any) -> None:
        self.transforms.append(transform)

    def _apply_transforms(self, args: MockResourceArgs, inputs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        changes: list[str] = []
        for transform in self.transforms:
            result = transform(
                pulumi.ResourceTransformArgs(
                    custom=bool(args.custom),
                    type_=args.typ,
                    name=args.name,
                    props=inputs,
                    opts=pulumi.ResourceOptions(),
                )
            )
            if result is not None:
                if result.props != inputs:
                    changes.append(
                        f"transform changed {sorted(k for k in result.props if result.props.get(k) != inputs.get(k))}"
                    )
                inputs = dict(result.props)
        return inputs, changes

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        inputs, secret = unwrap(dict(args.inputs))
        if "__provider" in inputs:  # a dynamic resource's pickled provider: bytes of this run, not a declared input
            inputs["__provider"] = "<pulumi.dynamic provider>"
        inputs, changes = self._apply_transforms(args, inputs)
        paths = list(getattr(self.pending, "secret_paths", None) or [])
        urn = getattr(self.pending, "urn", "") or ""
        graph = getattr(self.pending, "graph", None) or Graph()
        self.registrations.append(
            Registration(
                args.typ, args.name, inputs, args.provider or "", bool(args.custom), secret, changes, paths, urn, graph
            )
        )
        outputs = dict(inputs)
        factory = self.outputs.get(args.typ)
        if factory:
            outputs.update(factory(args))
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> dict:  # type: ignore[override]  # the SDK types a tuple, which its monitor mishandles
        # A plain dict: the SDK's mock monitor iterates the failures of a tuple, and None breaks it.
        handler = self.calls.get(args.token)
        return handler(args) if handler else {}
