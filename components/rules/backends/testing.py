"""The contract every registered backend passes, as library code (after optuna's `optuna/testing/pytest_samplers.py`):
test classes a test file subclasses once and runs over every backend in `BACKENDS`, so a new backend is held to the
same rules the day it is registered. Imported by tests only (it imports pytest).

- each G3-G13 break made to an engine container (found through the backend's `engine_views` and the view's paths)
  is reported by the backend's check exactly once, with that rule;
- each such break is repaired by the backend's fix, or the backend declares it unrepaired (`Backend.refusals`);
- S1 and S3 reach every engine view (a plaintext `OPENAI_API_KEY=sk-...` in any engine container is reported).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

import components.rules.backends.reader as reader

from .. import engines, manifests, security
from ..catalog import G3, G4, G5, G6, G10, G11, G12, G13, S3
from ..endpoint import GPU, resolve
from ..spec import EndpointSpec
from .base import Backend, RenderContext
from .engine_checks import EngineContainerView

Mutation = Callable[[dict[str, Any], EngineContainerView], bool]
"""A breaking change to one engine container through its view's paths: True when it applied."""


def _drop_flag(obj: dict[str, Any], view: EngineContainerView, flag: str) -> bool:
    args = reader.at(obj, f"{view.path}.args")
    if not isinstance(args, list) or flag not in args:
        return False
    i = args.index(flag)
    takes_value = i + 1 < len(args) and not str(args[i + 1]).startswith("--")
    del args[i : i + (2 if takes_value else 1)]
    return True


def engine_port_differs(obj: dict[str, Any], view: EngineContainerView) -> bool:
    args = reader.at(obj, f"{view.path}.args")
    if view.port is None or not isinstance(args, list) or "--port" not in args:
        return False
    args[args.index("--port") + 1] = str(view.port + 1)
    return True


def readiness_probe_on_another_port(obj: dict[str, Any], view: EngineContainerView) -> bool:
    probes = reader.at(obj, view.probes_path) if view.probes is not None else None
    if view.port is None or not isinstance(probes, dict) or "readinessProbe" not in probes:
        return False
    probes["readinessProbe"]["httpGet"]["port"] = view.port + 1
    return True


def readiness_timeout_one_second(obj: dict[str, Any], view: EngineContainerView) -> bool:
    probes = reader.at(obj, view.probes_path) if view.probes is not None else None
    if not isinstance(probes, dict) or "readinessProbe" not in probes:
        return False
    probes["readinessProbe"]["timeoutSeconds"] = 1
    return True


def no_full_command(obj: dict[str, Any], view: EngineContainerView) -> bool:
    container = reader.at(obj, view.path)
    if not view.require_command or not container.get("command"):
        return False
    del container["command"]
    return True


def no_served_model_name(obj: dict[str, Any], view: EngineContainerView) -> bool:
    return view.is_engine and _drop_flag(obj, view, "--served-model-name")


def sglang_without_metrics(obj: dict[str, Any], view: EngineContainerView) -> bool:
    return view.engine == "sglang" and _drop_flag(obj, view, "--enable-metrics")


def no_context_length(obj: dict[str, Any], view: EngineContainerView) -> bool:
    return view.engine is not None and _drop_flag(obj, view, engines.value_flag("max_model_len", view.engine))


def gpu_limit_differs_from_tp(obj: dict[str, Any], view: EngineContainerView) -> bool:
    limits = reader.at(obj, f"{view.path}.resources.limits")
    if not view.is_engine or not isinstance(limits, dict) or GPU not in limits:
        return False
    limits[GPU] = str(view.tp + 1)
    return True


def gpus_by_env(obj: dict[str, Any], view: EngineContainerView) -> bool:
    env = reader.at(obj, view.env_path)
    if not isinstance(env, list):
        return False
    env.append({"name": "CUDA_VISIBLE_DEVICES", "value": "0"})
    return True


def t4_workaround_env_missing(obj: dict[str, Any], view: EngineContainerView) -> bool:
    env = reader.at(obj, view.env_path)
    wanted = engines.instance_env(view.engine, view.instance) if view.engine else {}
    if not wanted or not isinstance(env, list):
        return False
    key = sorted(wanted)[0]
    env[:] = [e for e in env if e.get("name") != key]
    return True


def no_ephemeral_storage(obj: dict[str, Any], view: EngineContainerView) -> bool:
    requests = reader.at(obj, f"{view.path}.resources.requests")
    if not isinstance(requests, dict) or "ephemeral-storage" not in requests:
        return False
    del requests["ephemeral-storage"]
    return True


def no_dev_shm(obj: dict[str, Any], view: EngineContainerView) -> bool:
    mounts = reader.at(obj, f"{view.path}.volumeMounts") if view.mounts is not None else None
    if not isinstance(mounts, list) or not any(m.get("mountPath") == "/dev/shm" for m in mounts):
        return False
    mounts[:] = [m for m in mounts if m.get("mountPath") != "/dev/shm"]
    return True


# Each engine-container guardrail and the breaks that violate it (and nothing else).
BREAKS: dict[str, tuple[Mutation, ...]] = {
    G3: (engine_port_differs, readiness_probe_on_another_port),
    G4: (readiness_timeout_one_second,),
    G5: (no_full_command, no_served_model_name),
    G6: (sglang_without_metrics,),
    G10: (no_context_length,),
    G11: (gpu_limit_differs_from_tp, gpus_by_env),
    G12: (t4_workaround_env_missing,),
    G13: (no_ephemeral_storage, no_dev_shm),
}
BREAK_RULES = sorted(BREAKS, key=lambda r: int(r[1:]))  # in rule-number order: G3 before G10

# A standard set of endpoints: both engines, S3 and Hugging Face sources, an A10G, an L40S and a T4 (G12).
ENDPOINTS: dict[str, dict[str, Any]] = {
    "vllm-a10g-s3-keyed": {
        "name": "qwen",
        "model": "Qwen/Qwen3-4B-Instruct-2507",
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "namespace": "team-a",
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-4b/"},
        "apiKey": True,
    },
    "sglang-l40s-hf": {
        "name": "llama",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "engine": "sglang",
        "instanceType": "g6e.2xlarge",
        "modelSource": {"type": "huggingface", "tokenSecret": {"name": "hf-token", "key": "token"}},
    },
    "vllm-t4-s3": {
        "name": "small",
        "model": "Qwen/Qwen3-0.6B",
        "engine": "vllm",
        "instanceType": "g4dn.xlarge",
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "q/"},
    },
}


def rendered(backend: Backend, endpoints: Iterable[Mapping[str, Any]] = ENDPOINTS.values()) -> list[dict[str, Any]]:
    """Every object `backend` renders for `endpoints`, through the registry's one render signature."""
    out: list[dict[str, Any]] = []
    for raw in endpoints:
        spec = EndpointSpec.model_validate({**raw, "backend": backend.name})
        context = RenderContext(region="us-east-1", api_key="<api-key>" if spec.api_key else None)
        out += backend.render(resolve(spec), context)
    return out


def breaks(backend: Backend, rule: str) -> Iterable[tuple[dict[str, Any], dict[str, Any], EngineContainerView, str]]:
    """(original, broken, view, mutation name) for every break of `rule` that applies to an engine container."""
    for obj in rendered(backend):
        for i in range(len(backend.engine_views(obj))):
            for mutation in BREAKS[rule]:
                broken = copy.deepcopy(obj)
                view = backend.engine_views(broken)[i]
                if mutation(broken, view):
                    yield obj, broken, view, mutation.__name__


class BackendContract:
    """Subclass in a test module and parametrise the `backend` fixture over `BACKENDS.values()`."""

    @pytest.fixture
    def backend(self) -> Backend:  # pragma: no cover - overridden by the subclass
        raise NotImplementedError

    def test_rendered_objects_pass_their_check_and_fix_changes_nothing(self, backend: Backend) -> None:
        objects = rendered(backend)
        assert any(backend.engine_views(o) for o in objects), f"{backend.name} renders no engine container"
        for obj in objects:
            assert backend.check(obj) == [], obj["kind"]
            assert manifests.check(obj) == [], obj["kind"]
            assert backend.fix(obj) == (obj, []), obj["kind"]

    @pytest.mark.parametrize("rule", BREAK_RULES)
    def test_each_engine_break_is_reported_exactly_once(self, backend: Backend, rule: str) -> None:
        applied = 0
        for obj, broken, view, name in breaks(backend, rule):
            applied += 1
            problems = backend.check(broken)
            assert [p.rule for p in problems] == [rule], f"{backend.name} {obj['kind']} {view.path} {name}: {problems}"
            assert problems[0].path.startswith(view.path), problems[0]
        assert applied, f"no {rule} break applies to any {backend.name} object: the backend would not be held to {rule}"

    @pytest.mark.parametrize("rule", BREAK_RULES)
    def test_each_engine_break_is_repaired_or_declared_unrepaired(self, backend: Backend, rule: str) -> None:
        outcomes = []
        for obj, broken, view, name in breaks(backend, rule):
            fixed, changes = backend.fix(broken)
            repaired = not [p for p in backend.check(fixed) if p.rule == rule] and rule in {c.rule for c in changes}
            outcomes.append((f"{backend.name} {obj['kind']} {view.path} {name}", repaired))
        missed = [where for where, repaired in outcomes if not repaired]
        if rule in backend.refusals:
            assert missed, f"{backend.name} repairs every {rule} break: drop {rule} from its refusals"
        else:
            assert not missed, f"not repaired: {missed}; repair them or declare {rule} in {backend.name}'s refusals"

    def test_s1_and_s3_reach_every_engine_view(self, backend: Backend) -> None:
        key = "sk-" + "a1B2c3D4e5" * 4
        seen = 0
        for obj in rendered(backend):
            for view in backend.engine_views(obj):
                broken = copy.deepcopy(obj)
                env = reader.at(broken, view.env_path)
                if not isinstance(env, list):
                    container = reader.at(broken, view.path)
                    env = container.setdefault(view.env_path.rsplit(".", 1)[-1], [])
                env.append({"name": "OPENAI_API_KEY", "value": key})
                found = [p for p in security.check_plaintext_secrets(broken) if p.rule == S3]
                assert [p.path for p in found] == [f"{view.env_path}[OPENAI_API_KEY]"], (
                    f"{backend.name} {obj['kind']} {view.path}: {found}"
                )
                assert not [p for p in security.check_gpu_workload(broken) if p.path.startswith(view.path)], (
                    "S1 reports what the backend's checks hold"
                )
                seen += 1
        assert seen, f"{backend.name} has no engine view"
