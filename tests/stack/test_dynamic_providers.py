"""Dynamic providers survive a destroy: what a stack state holds for each dynamic resource loads again
in Pulumi's own provider host.

Pulumi's Python SDK (3.272.0, `pulumi.dynamic.dynamic.serialize_provider`) pickles the provider with
`dill.dumps(provider, recurse=True)` when the resource registers and stores it base64-encoded in the
`__provider` property. dill pickles a class of an importable module by reference (`recurse` only
changes which globals of a function pickled by value go with it), so the state holds `module` and
class name. The provider host is `python -u -m pulumi.dynamic` (pulumi/pulumi@1b5949891b
`sdk/python/dist/pulumi-resource-pulumi-python`), started in the program directory (same commit,
`pkg/engine/project.go` getPwdMain, `sdk/go/common/resource/plugin/plugin.go` `cmd.Dir = pwd`), and
`pulumi.dynamic.__main__.get_provider` unpickles with `dill.loads(base64.b64decode(...))`, importing
that module from its working directory.

So: each resource registers under the mocks (the SDK's own serialiser runs); the real provider host
in a fresh process loads that `__provider` and answers a Diff over gRPC from the project root, and
cannot from elsewhere; every name a state holds (components/dynamic_providers.py) still imports as the
provider of its resource, so a move or rename must leave an alias.
"""

from __future__ import annotations

import ast
import base64
import importlib
import io
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dill
import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic import ResourceProvider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components import ingress_drain
from components.dynamic_providers import STORED_PROVIDERS
from components.endpoints.router_check import RouterServiceCheck
from components.ingress_drain import IngressDrainGuard
from components.rules.spec import IngressSpec
from tests.stack.pulumi_harness import run_recording

ROOT = Path(__file__).resolve().parents[2]
ROUTER = "components.endpoints.router_check:RouterServiceCheck"
DRAIN = "components.ingress_drain:IngressDrainGuard"
# Every dynamic resource of the project, declared the way the components declare it.
RESOURCES: dict[str, Callable[[], Any]] = {
    ROUTER: lambda: RouterServiceCheck(
        ROUTER,
        kubeconfig="{}",
        endpoint_name="llama",
        endpoint_namespace="inference",
        ingress=IngressSpec(),
        max_deploy_seconds=3600,
    ),
    DRAIN: lambda: IngressDrainGuard(
        DRAIN, kubeconfig="{}", cluster_name="demo", namespaces=["hyperpod-inference-system"]
    ),
}


@pytest.fixture(scope="module")
def stored() -> dict[str, str]:
    """The `__provider` each resource sends at registration: what `up` writes into the state."""

    def program() -> None:
        for declare in RESOURCES.values():
            declare()

    _, requests = run_recording(program)
    out = {}
    for (typ, name), request in requests.items():
        if typ == "pulumi-python:dynamic:Resource":
            out[name] = rpc.unwrap_rpc_secret(rpc.deserialize_properties(request.object)["__provider"])
    assert sorted(out) == sorted(RESOURCES)
    return out


def pickled_globals(provider: str) -> set[tuple[str, str]]:
    """Every (module, name) loading the pickle imports: for a class pickled by value, dill's own helpers too."""
    seen: set[tuple[str, str]] = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            seen.add((module, name))
            return super().find_class(module, name)

    Recording(io.BytesIO(base64.b64decode(provider))).load()
    return seen


def not_loadable(stored_names: dict[tuple[str, str], str]) -> list[str]:
    """Stored names that no longer import as the provider class of their resource."""
    out = []
    for (module, name), resource in sorted(stored_names.items()):
        try:
            found = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            out.append(f"{module}.{name} ({resource}): {type(exc).__name__}: {exc}")
            continue
        if not (isinstance(found, type) and issubclass(found, ResourceProvider)):
            out.append(f"{module}.{name} ({resource}): {found!r} is not a dynamic ResourceProvider")
    return out


@contextmanager
def provider_host(cwd: Path) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """Pulumi's dynamic provider host, as the engine starts it: same interpreter, `-m pulumi.dynamic`, in `cwd`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    host = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = host.stdout.readline().decode().strip()  # type: ignore[union-attr]
        assert port.isdigit(), f"provider host printed {port!r}, not its port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        host.kill()
        host.wait()


def diff(
    host: provider_pb2_grpc.ResourceProviderStub, provider: str, olds: dict[str, Any], news: dict[str, Any]
) -> provider_pb2.DiffResponse:
    def struct(props: dict[str, Any]) -> struct_pb2.Struct:
        out = struct_pb2.Struct()
        out.update({**props, "__provider": provider})
        return out

    urn = "urn:pulumi:test::llm-serving::pulumi-python:dynamic:Resource::check"
    return host.Diff(provider_pb2.DiffRequest(id="check", urn=urn, olds=struct(olds), news=struct(news)), timeout=60)


ROUTER_OLDS = {
    "endpointName": "llama",
    "endpointNamespace": "inference",
    "routerService": "llama-router",
    "routerPort": 8080,
}
DRAIN_OLDS = {
    "namespaces": ["hyperpod-inference-system"],
    "timeoutSeconds": 900,
    "clusterName": "demo",
    "kubeconfig": "{}",
}


def test_each_dynamic_resource_stores_only_the_name_of_a_registered_provider_class(stored):
    for resource, provider in stored.items():
        names = pickled_globals(provider)
        assert len(names) == 1, f"{resource}: the state would carry more than a class name: {sorted(names)}"
        assert STORED_PROVIDERS.get(names.pop()) == resource
    assert len(stored[ROUTER]) < 200 and len(stored[DRAIN]) < 200  # a name, not the code


def test_the_provider_host_in_the_project_root_loads_each_stored_provider_and_answers_a_diff(stored):
    with provider_host(ROOT) as host:
        router = diff(host, stored[ROUTER], ROUTER_OLDS, {**ROUTER_OLDS, "routerPort": 8000})
        assert router.changes == provider_pb2.DiffResponse.DIFF_SOME and list(router.replaces) == ["routerPort"]
        same = diff(host, stored[ROUTER], ROUTER_OLDS, dict(ROUTER_OLDS))
        assert same.changes == provider_pb2.DiffResponse.DIFF_NONE and list(same.replaces) == []
        drain = diff(host, stored[DRAIN], DRAIN_OLDS, {**DRAIN_OLDS, "timeoutSeconds": 1200})
        assert (
            drain.changes == provider_pb2.DiffResponse.DIFF_SOME
            and list(drain.replaces) == []
            and not drain.deleteBeforeReplace
        )


def test_the_provider_host_in_another_directory_cannot_find_the_stored_providers(stored, tmp_path):
    # The state holds a module name, not code: the host finds it only from the program directory.
    with provider_host(tmp_path) as host:
        for resource, olds in ((ROUTER, ROUTER_OLDS), (DRAIN, DRAIN_OLDS)):
            with pytest.raises(grpc.RpcError) as err:
                diff(host, stored[resource], olds, olds)
            assert "ModuleNotFoundError: No module named 'components'" in err.value.details()


def test_every_stored_provider_name_still_imports_as_the_provider_its_resource_registers_today(stored):
    assert not_loadable(STORED_PROVIDERS) == []
    for (module, name), resource in STORED_PROVIDERS.items():
        today = type(dill.loads(base64.b64decode(stored[resource])))
        assert getattr(importlib.import_module(module), name) is today, f"{module}.{name} is not {resource}'s provider"


def _classes_with_base(suffix: str) -> set[tuple[str, str]]:
    out = set()
    for path in (ROOT / "components").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith(suffix) for b in node.bases):
                out.add((module, node.name))
    return out


def test_every_dynamic_resource_and_provider_class_in_components_is_registered():
    resources = {f"{m}:{c}" for m, c in _classes_with_base("dynamic.Resource")}
    assert resources == set(RESOURCES) == set(STORED_PROVIDERS.values())
    assert _classes_with_base("dynamic.ResourceProvider") <= set(STORED_PROVIDERS)


def test_a_provider_renamed_without_an_alias_is_named_with_its_resource(monkeypatch):
    monkeypatch.delattr(ingress_drain, "_Provider")
    assert not_loadable(STORED_PROVIDERS) == [
        f"components.ingress_drain._Provider ({DRAIN}): AttributeError: module 'components.ingress_drain' has no attribute '_Provider'"
    ]
    monkeypatch.setattr(ingress_drain, "_Provider", IngressDrainGuard, raising=False)
    assert not_loadable(
        {("components.ingress_drain", "_Provider"): DRAIN, ("components.moved_away", "_Provider"): DRAIN}
    ) == [
        f"components.ingress_drain._Provider ({DRAIN}): {IngressDrainGuard!r} is not a dynamic ResourceProvider",
        f"components.moved_away._Provider ({DRAIN}): ModuleNotFoundError: No module named 'components.moved_away'",
    ]


def test_pythonsafepath_is_refused_before_anything_is_declared():
    # With -P semantics the host's `-m pulumi.dynamic` no longer puts the project on the path.
    from components.dynamic_providers import provider_host_problem

    assert provider_host_problem({"PATH": "/usr/bin"}) is None
    assert provider_host_problem({"PYTHONSAFEPATH": ""}) is None
    message = provider_host_problem({"PYTHONSAFEPATH": "1"})
    assert message.startswith("PYTHONSAFEPATH='1' is set") and "Fix: unset PYTHONSAFEPATH" in message
