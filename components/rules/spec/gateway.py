"""The tenant gateway: tiers and tenants."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..bounds import ONE_LINE, Int32
from .base import _Model
from .cluster import _ARN

_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class GatewayTier(_Model):
    """A tier of tenant keys and its budget per key and per minute."""

    name: Annotated[str, Field(max_length=40), ONE_LINE] = Field(min_length=1, pattern=_LABEL)
    """Tier name, a lowercase DNS label; tenants name it in `tier` and their key Secret carries it as label
    `llm-serving/tier`. Example: `free`
    """
    tokens_per_minute: Int32 | None = Field(default=None, gt=0)
    """Tokens each key of this tier may use per minute, counted from the responses' `usage.total_tokens`
    (streams at their end). Required: a tier without it has no token limit (rule T1). Example: `200`
    """
    requests_per_minute: Int32 | None = Field(default=None, gt=0)
    """Requests each key of this tier may send per minute, besides the token budget. Unset: no request limit.
    Example: `20`
    """


class GatewayTenant(_Model):
    """One tenant: one API key, in one tier, for some or all endpoints."""

    name: Annotated[str, Field(max_length=40), ONE_LINE] = Field(min_length=1, pattern=_LABEL)
    """Tenant name, a lowercase DNS label: the client ID of its key and the bucket its usage is counted in.
    Removing a tenant revokes its key. Example: `team-a`
    """
    tier: Annotated[str, Field(max_length=40), ONE_LINE] = Field(min_length=1)
    """The tier (one of `tiers[].name`, rule T2). Example: `free`"""
    models: list[Annotated[str, Field(max_length=253), ONE_LINE]] | None = None
    """Endpoint names (`endpoints[].name`) this tenant may call (rule T2). Unset: every endpoint. Example:
    `[qwen3-4b-vllm]`
    """
    rotation: Annotated[str, Field(max_length=64), ONE_LINE] = ""
    """Keeper of the tenant's generated key: change it (e.g. to a date) and `pulumi up` issues a new key and
    the old one stops working. Example: `2026-11`
    """


class GatewaySpec(_Model):
    """The tenant gateway in front of every endpoint (Envoy AI Gateway on Envoy Gateway, docs/gateway.md):
    per-tenant API keys in tiers with token limits per minute counted from response usage. Rules T1-T3.
    """

    enabled: bool = False
    """Declare the gateway, its controllers and its counter store. Example: `true`"""
    public: bool = False
    """Put the gateway behind an internet-facing ALB; it carries tenant keys, so it needs `certificateArn`
    (rule T3). `false`: an internal ALB. Example: `true`
    """
    certificate_arn: Annotated[str, Field(max_length=2048), ONE_LINE] | None = Field(
        default=None, pattern=_ARN + "acm:"
    )
    """ACM certificate of the gateway's ALB (HTTPS on 443, HTTP redirected). Example:
    `arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef`
    """
    inbound_cidrs: list[Annotated[str, Field(max_length=43), ONE_LINE]] = Field(default_factory=list)
    """Networks allowed to reach a public gateway. Empty: anywhere. Example: `[203.0.113.0/24]`"""
    namespace: Annotated[str, Field(max_length=63), ONE_LINE] = Field(default="llm-gateway", pattern=_LABEL)
    """Namespace of the gateway's routes, policies and tenant key Secrets. Example: `llm-gateway`"""
    counter_store: Literal["in-cluster", "elasticache"] | None = None
    """Where the rate-limit counters live: an in-cluster Redis, or ElastiCache for Redis with TLS and an auth
    token. Unset: in-cluster on dev stacks (`dev`, `dev-*`, `*-dev`), ElastiCache otherwise. Example:
    `elasticache`
    """
    cache_node_type: Annotated[str, Field(max_length=64), ONE_LINE] = "cache.t4g.small"
    """ElastiCache node type (`counterStore: elasticache`). Example: `cache.m7g.large`"""
    tiers: list[GatewayTier] = Field(default_factory=list)
    """The tiers. Example: `[{name: free, tokensPerMinute: 200, requestsPerMinute: 20}, {name: premium,
    tokensPerMinute: 1000}]`
    """
    tenants: list[GatewayTenant] = Field(default_factory=list)
    """The tenants, one key each. Example: `[{name: team-a, tier: free, models: [qwen3-4b-vllm]}]`"""
