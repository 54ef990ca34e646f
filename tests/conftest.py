"""Shared fixtures: typed endpoint specs and the CRD/Kubernetes schema validator."""

from __future__ import annotations

import os
from pathlib import Path
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


@pytest.fixture(autouse=True)
def fresh_secret_registry():
    """Each test starts, as each run of a command does, knowing no secret (benchmarks/secrets.py): one test's
    registered values must not scrub another's output."""
    from benchmarks.secrets import REGISTRY

    REGISTRY.clear()
    yield
    REGISTRY.clear()


SCHEMAS_MISSING = "needs upstream CRD schemas; {}"


@pytest.fixture
def kube_api():
    """The loopback Kubernetes API server (tests/k8s_server.py), closed after the test."""
    from tests.k8s_server import K8sServer

    server = K8sServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def crd_dir():
    """The upstream CRD folder; tests that need it skip, naming the fix, where there is none."""
    directory, origin = find_crd_dir()
    if directory is None:
        pytest.skip(SCHEMAS_MISSING.format(origin))
    return directory


@pytest.fixture(autouse=True, scope="session")
def parsed_crd_copies(tmp_path_factory):
    """The JSON copies of parsed CRD files (stacks/schemas.py PARSED_DIR) in a folder of the session, not
    the user's cache: a test run leaves nothing behind and starts from nothing."""
    from stacks import schemas

    previous = schemas.PARSED_DIR
    schemas.PARSED_DIR = tmp_path_factory.mktemp("crds-parsed")
    yield schemas.PARSED_DIR
    schemas.PARSED_DIR = previous


@pytest.fixture(scope="session")
def schema_validator(crd_dir) -> Validator:
    return Validator(crd_dir)


UPSTREAM_ENV = "LLM_SERVING_UPSTREAM_DIR"


@pytest.fixture(scope="session")
def upstream_dir():
    """Upstream reference files (charts, CloudFormation, IAM policies, AWS docs pages) that CI hands in;
    tests that compare the stack with them skip, naming the variable, where there are none."""
    directory = os.environ.get(UPSTREAM_ENV)
    if not directory or not Path(directory).is_dir():
        pytest.skip(f"needs the upstream reference files: set {UPSTREAM_ENV} to their folder")
    return Path(directory)


def pytest_collection_modifyitems(items):
    # CI runs the `schemas` tests a second time with no schemas or upstream files, to prove they skip.
    for item in items:
        if {"crd_dir", "upstream_dir"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.schemas)


@pytest.fixture(autouse=True, scope="session")
def fake_hyperpod_chart(tmp_path_factory):
    """A stand-in for the fetched HyperPod chart (`python -m stacks charts fetch`): plans under mocks
    never render it, so tests do not depend on this machine's cache. A test of the missing chart unsets it."""
    from stacks.charts import ENV_VAR

    directory = tmp_path_factory.mktemp("charts") / "HyperPodHelmChart"
    directory.mkdir()
    (directory / "Chart.yaml").write_text("apiVersion: v2\nname: hyperpod-helm-chart\nversion: 0.1.0\n")
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(directory)
    yield directory
    if previous is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = previous


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server in a temporary folder (tests/postgres.py), stopped after the session;
    skipped, naming what is missing, where initdb and postgres are not installed."""
    from tests.postgres import PostgresServer, binaries

    bindir = binaries()
    if bindir is None:
        pytest.skip(
            "needs the PostgreSQL server binaries (initdb, postgres) on PATH or in /usr/lib/postgresql/*/bin, e.g. apt-get install postgresql"
        )
    server = PostgresServer(bindir)
    yield server
    server.close()


@pytest.fixture
def postgres_url(postgres_server, monkeypatch):
    """A fresh database on the session's server: its URL (no password in it; PGPASSWORD is set)."""
    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    return postgres_server.url(postgres_server.create_database())
