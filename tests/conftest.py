"""Shared fixtures: typed endpoint specs and the CRD/Kubernetes schema validator."""

from __future__ import annotations

from typing import Any

import pytest

from components.rules.spec import EndpointSpec
from stacks.schemas import Validator, find_crd_dir

BASE_ENDPOINT: dict[str, Any] = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
}


def endpoint(**overrides: Any) -> EndpointSpec:
    return EndpointSpec.model_validate({**BASE_ENDPOINT, **overrides})


@pytest.fixture
def make_endpoint():
    return endpoint


@pytest.fixture(scope="session")
def schema_validator() -> Validator:
    directory, origin = find_crd_dir()
    if directory is None:
        pytest.skip(f"no CRD schemas available: {origin}")
    return Validator(directory)
