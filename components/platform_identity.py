"""AWS identities for in-cluster controllers: one IAM role per service account, bound by EKS Pod
Identity (an association) or IRSA (an OIDC trust and a service-account annotation)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class Identity:
    cluster_name: str
    mode: str  # "pod-identity" | "irsa"
    oidc_provider_arn: pulumi.Input[str] | None = None
    oidc_provider_url: pulumi.Input[str] | None = None  # without https://


def trust_policy(
    identity: Identity, namespace: str, service_account: str, services: Sequence[str] = ()
) -> pulumi.Output[str]:
    """Trust for the service account, and for the AWS `services` that assume the role themselves."""
    extra = (
        [{"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}] if services else []
    )
    if identity.mode == "pod-identity":
        return pulumi.Output.from_input(
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        *extra,
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "pods.eks.amazonaws.com"},
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                        },
                    ],
                }
            )
        )
    if identity.oidc_provider_arn is None or identity.oidc_provider_url is None:
        raise pulumi.RunError(
            "platform.workloadIdentity = 'irsa': [CONFIG] the cluster has no OIDC provider. Fix: use pod-identity"
        )
    return pulumi.Output.all(identity.oidc_provider_arn, identity.oidc_provider_url).apply(
        lambda a: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    *extra,
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": a[0]},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringLike": {
                                f"{a[1].removeprefix('https://')}:sub": f"system:serviceaccount:{namespace}:{service_account}"
                            },
                            "StringEquals": {f"{a[1].removeprefix('https://')}:aud": "sts.amazonaws.com"},
                        },
                    },
                ],
            }
        )
    )


@dataclass
class ServiceAccountRole:
    role: aws.iam.Role
    # What must exist before a pod of the service account starts: its permissions and, with Pod
    # Identity, its association. EKS injects credentials only when a pod is created, so a controller
    # started before its association runs with none until it restarts.
    ready: list[pulumi.Resource]
    mode: str  # how pods get it: "pod-identity" | "irsa"

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.role.arn


def service_account_role(
    name: str,
    identity: Identity,
    namespace: str,
    service_account: str,
    parent: pulumi.Resource,
    managed_policies: Sequence[str] = (),
    inline_policy: pulumi.Input[str] | None = None,
    role_name: str | None = None,
    associate: bool = True,
    after: Sequence[pulumi.Resource] = (),
    tags: Mapping[str, str] | None = None,
    trust_services: Sequence[str] = (),
) -> ServiceAccountRole:
    """A role for `namespace/service_account`; with Pod Identity also its association."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        name=role_name,
        assume_role_policy=trust_policy(identity, namespace, service_account, trust_services),
        managed_policy_arns=list(managed_policies) or None,
        tags=dict(tags) if tags else None,
        opts=child,
    )
    ready: list[pulumi.Resource] = [role]
    if inline_policy is not None:
        ready.append(aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=inline_policy, opts=child))
    if identity.mode == "pod-identity" and associate:
        ready.append(
            aws.eks.PodIdentityAssociation(
                f"{name}-pod-identity",
                cluster_name=identity.cluster_name,
                namespace=namespace,
                service_account=service_account,
                role_arn=role.arn,
                tags=dict(tags) if tags else None,
                # The cluster name is a plain string: depend on the cluster explicitly, or the
                # association is attempted before the cluster exists.
                opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
            )
        )
    return ServiceAccountRole(role, ready, identity.mode)


def irsa_annotations(identity: Identity, role: ServiceAccountRole) -> dict:
    return {"eks.amazonaws.com/role-arn": role.arn} if identity.mode == "irsa" else {}
