"""AWS tags (S6): the tags the stack sets on every taggable resource and on each endpoint's ALB,
and the AWS rules a user's `cluster.tags` must follow."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .problems import Problem

# Tags on every taggable AWS resource the stack declares. S6 requires REQUIRED_TAGS by default
# (security.DEFAULT_REQUIRED_TAGS is this tuple), so what the program sets and what the policy checks
# cannot drift apart.
STACK_TAG = "llm-serving/stack"
CLUSTER_TAG = "llm-serving/cluster"
ENDPOINT_TAG = "llm-serving/endpoint"  # ALBs of one endpoint (the Ingress's tags annotation)
REQUIRED_TAGS = (STACK_TAG, CLUSTER_TAG)
RESERVED_TAG_PREFIX = "llm-serving/"
MAX_USER_TAGS = 40  # AWS allows 50 per resource; the stack adds up to 5 (Name, subnet roles) and pulumi-eks its own
_TAG_KEY = re.compile(
    r"[\w .:/+\-@]{1,128}"
)  # AWS tag charset without '=': the ALB controller's --default-tags is k=v,...
_TAG_VALUE = re.compile(r"[\w .:/=+\-@]{0,256}")


def stack_tags(stack: str, cluster_name: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's `cluster.tags` plus the required tags, which always win.

    Set explicitly on each resource rather than through the aws provider's `defaultTags`: the
    offline plan and the tests run under mocks, which never apply provider default tags (so S6 could
    not be checked before `pulumi up`), and defaultTags reach neither aws-native (the HyperPod
    cluster) nor the ALBs the load balancer controller creates.
    """
    return {**(extra or {}), STACK_TAG: stack, CLUSTER_TAG: cluster_name}


def validate_tags(tags: Mapping[str, str], path: str = "cluster.tags") -> list[Problem]:
    """AWS tag rules, checked before anything is declared (AWS would reject them mid-`up`)."""
    problems: list[Problem] = []
    if len(tags) > MAX_USER_TAGS:
        problems.append(
            Problem(
                path,
                f"{len(tags)} tags",
                "CONFIG",
                f"at most {MAX_USER_TAGS} user tags fit (AWS allows 50 per resource and the stack sets its own)",
                "drop some tags",
            )
        )
    for key, value in tags.items():
        where = f"{path}.{key}"
        if key.startswith(RESERVED_TAG_PREFIX):
            problems.append(
                Problem(
                    where,
                    value,
                    "CONFIG",
                    f"tag keys under {RESERVED_TAG_PREFIX} are set by the stack ({', '.join(REQUIRED_TAGS)}, {ENDPOINT_TAG}) and S6 relies on them",
                    "rename the key, e.g. without the llm-serving/ prefix",
                )
            )
        elif key.lower().startswith("aws:"):
            problems.append(Problem(where, value, "CONFIG", "the aws: prefix is reserved for AWS", "rename the key"))
        elif not _TAG_KEY.fullmatch(key):
            problems.append(
                Problem(
                    where,
                    value,
                    "CONFIG",
                    "not a valid tag key: 1-128 characters of letters, digits, spaces and _ . : / + - @ (no '=', which the ALB controller's default tags use as separator)",
                    "rename the key",
                )
            )
        if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
            problems.append(
                Problem(
                    where,
                    value,
                    "CONFIG",
                    "not a valid tag value: a string of at most 256 letters, digits, spaces and _ . : / = + - @",
                    "quote it as a string and drop other characters (e.g. commas)",
                )
            )
    return problems


def alb_tags(stack: str, endpoint: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tags for an endpoint's ALB (set through the Ingress annotation: the ALB is the controller's,
    not Pulumi's). The controller's defaultTags add the cluster tag; the endpoint tag tells one
    endpoint's ALB from another's."""
    return {**(extra or {}), STACK_TAG: stack, ENDPOINT_TAG: endpoint}
