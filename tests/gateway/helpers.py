"""A tenant gateway config (tiers, tenants, keys), as literal values, and the endpoints it fronts."""

from __future__ import annotations

from typing import Any

from components.rules.spec import EndpointSpec, GatewaySpec

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"

GATEWAY: dict[str, Any] = {
    "enabled": True,
    "public": True,
    "certificateArn": CERT,
    "tiers": [
        {"name": "free", "tokensPerMinute": 200, "requestsPerMinute": 20},
        {"name": "premium", "tokensPerMinute": 1000},
        {"name": "enterprise", "tokensPerMinute": 5000},
    ],
    "tenants": [
        {"name": "team-a", "tier": "free", "models": ["qwen3-4b-vllm"]},
        {"name": "team-b", "tier": "enterprise"},
    ],
}


def gateway(**overrides: Any) -> GatewaySpec:
    return GatewaySpec.model_validate({**GATEWAY, **overrides})


def endpoints() -> list[EndpointSpec]:
    base = {
        "engine": "vllm",
        "instanceType": "g5.2xlarge",
        "namespace": "inference",
        "modelSource": {"type": "huggingface", "modelId": "Qwen/Qwen3-0.6B"},
    }
    return [
        EndpointSpec.model_validate(
            {
                **base,
                "name": "qwen3-4b-vllm",
                "model": "Qwen/Qwen3-4B-Instruct-2507",
                "backend": "kubernetes",
                "apiKey": True,
            }
        ),
        EndpointSpec.model_validate(
            {
                **base,
                "name": "qwen3-0-6b-vllm-kserve",
                "model": "Qwen/Qwen3-0.6B",
                "backend": "kserve",
                "loadBalancer": "none",
            }
        ),
    ]
