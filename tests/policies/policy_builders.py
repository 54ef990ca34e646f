"""Builders for the policy tests (imported by path: tests run with --import-mode=importlib): correct objects from the rule library's own renderer, hand-built
CrossGuard arguments (as pulumi-policy's own tests build them), and a runner for one policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.rules.backends import hyperpod
from components.rules.resources import Resource, from_manifest
from components.rules.spec import EndpointSpec
from policies import pack

DATA = Path(__file__).parent / "data"
SEEDS = DATA / "seed-mistakes.yaml"
API_KEY = "sk-7dc063a19f009218890bedc37c3e335587f3e839f709a0137320f34ae8ee0dde"  # a key as the operator's router env once printed it
BASE = {
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
}


def render(name: str = "qwen3-4b", **overrides: Any) -> dict[str, Any]:
    """A correct InferenceEndpointConfig (the components' own output)."""
    spec = EndpointSpec.model_validate({**BASE, "name": name, "engine": "vllm", **overrides})
    return hyperpod.endpoint_config(spec, "us-east-1", api_key=API_KEY if spec.api_key else None)


def opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], None, [], None)


def resource_args(resource: Resource, config: dict | None = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource.type,
        dict(resource.props),
        resource.urn or f"urn:pulumi:test::p::{resource.type}::{resource.name}",
        resource.name,
        opts(),
        None,
        config,
    )


def stack_args(resources: list[Resource], config: dict | None = None) -> StackValidationArgs:
    """As the engine hands them over: each resource's `dependencies` are the PolicyResources it waits for."""
    policy_resources = [
        PolicyResource(
            r.type,
            dict(r.props),
            r.urn or f"urn:pulumi:test::p::{r.type}::{r.name}",
            r.name,
            opts(),
            None,
            None,
            [],
            {},
        )
        for r in resources
    ]
    by_urn = {p.urn: p for p in policy_resources}
    for resource, policy_resource in zip(resources, policy_resources):
        policy_resource.dependencies = [by_urn[u] for u in resource.dependencies if u in by_urn]
    return StackValidationArgs(policy_resources, config)


def run_policy(name: str, resources: list[Resource], config: dict | None = None) -> list[tuple[str, str | None]]:
    """Every (message, urn) the pack's policy `name` reports, exactly as CrossGuard would call it."""
    (policy,) = [p for p in pack.policies() if p.name == name]
    reported: list[tuple[str, str | None]] = []
    report = lambda message, urn=None: reported.append((message, urn))  # noqa: E731
    if isinstance(policy, StackValidationPolicy):
        policy.validate(stack_args(resources, config), report)
    else:
        for r in resources:
            policy.validate(resource_args(r, config), report)
    return reported


def k8s(manifest: dict[str, Any]) -> Resource:
    return from_manifest(manifest)


def seed_documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(SEEDS.read_text()) if d]
