"""Backend test helpers: endpoint specs per backend and the schema + rule verdict of rendered objects."""

from __future__ import annotations

from typing import Any

from components.rules import manifests
from components.rules.spec import EndpointSpec

# The dev stack's vLLM endpoint (Pulumi.dev.yaml), on an EKS instance type and without the
# HyperPod-only features (intelligent routing, KV cache, KEDA triggers).
DEV_STYLE: dict[str, Any] = {
    "name": "llama-3-1-8b-vllm",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "engine": "vllm",
    "instanceType": "g5.12xlarge",
    "namespace": "inference",
    "replicas": 1,
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "llama31_8b/"},
    "apiKey": True,
    "engineArgs": {"maxModelLen": 8192, "tensorParallelSize": 2, "maxNumSeqs": 128, "enablePrefixCaching": True},
}


def spec(backend: str, **overrides: Any) -> EndpointSpec:
    return EndpointSpec.model_validate({**DEV_STYLE, "backend": backend, **overrides})


def rules_of(obj: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p.rule, p.path) for p in manifests.check(obj) if p.severity == "error"}


def assert_clean(objects: list[dict[str, Any]], validator) -> None:
    for obj in objects:
        result = validator.validate(obj)
        assert result.status == "passed", (obj["kind"], result)
        assert manifests.check(obj) == [], (obj["kind"], [str(p) for p in manifests.check(obj)])
