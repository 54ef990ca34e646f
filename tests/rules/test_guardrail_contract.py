"""The contract every backend passes, like optuna's tests that every sampler must pass.

For each backend: the objects it renders for a standard set of endpoints pass its own `check`, and
its `fix` changes nothing. Then, for each engine-container guardrail (G3-G6, G10-G13), one breaking
change at a time is made to the engine container (found through the backend's `engine_views` and
the view's paths), and the backend's `check` must report exactly that rule, once. The operator
features (G7-G9) are rendered where they work and refused, with the rule, everywhere else. A new
backend joins BACKENDS and passes the same tests; a new guardrail gets its test here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.rules import engines, manifests
from components.rules.backends import BACKENDS as REGISTERED
from components.rules.backends import reader, validate_backends
from components.rules.backends import render as render_backend
from components.rules.backends.engine_checks import EngineContainerView
from components.rules.backends.testing import ENDPOINTS  # both engines, S3 and Hugging Face, an A10G, an L40S, a T4
from components.rules.catalog import G3, G4, G5, G6, G7, G8, G9, G10, G11, G12, G13, G21, G22
from components.rules.endpoint import GPU
from components.rules.spec import ClusterSpec, EndpointSpec, IngressSpec, PlatformSpec
from components.rules.validate import validate_endpoint


def _render(s: EndpointSpec) -> list[dict[str, Any]]:
    return render_backend(s, region="us-east-1", ingress=IngressSpec(), api_key="<api-key>" if s.api_key else None)


BACKENDS: dict[str, tuple[Any, Callable[[EndpointSpec], list[dict[str, Any]]]]] = {
    name: (backend, _render) for name, backend in REGISTERED.items()
}


def rendered(backend: str) -> list[dict[str, Any]]:
    _, render = BACKENDS[backend]
    out = []
    for raw in ENDPOINTS.values():
        extra = {"loadBalancer": "none"} if backend == "ome" else {}
        out += render(EndpointSpec.model_validate({**raw, **extra, "backend": backend}))
    return out


# ---------------------------------------------------------------- breaking changes, through the view's paths
# Each returns True when it applied (the view has the field), False when the object has no such field.

Mutation = Callable[[dict[str, Any], EngineContainerView], bool]


def _drop_flag(obj: dict[str, Any], view: EngineContainerView, flag: str) -> bool:
    args = reader.at(obj, f"{view.path}.args")
    if not isinstance(args, list) or flag not in args:
        return False
    i = args.index(flag)
    takes_value = i + 1 < len(args) and not str(args[i + 1]).startswith("--")
    del args[i : i + (2 if takes_value else 1)]
    return True


def engine_port_differs(obj, view):
    args = reader.at(obj, f"{view.path}.args")
    if view.port is None or not isinstance(args, list) or "--port" not in args:
        return False
    args[args.index("--port") + 1] = str(view.port + 1)
    return True


def readiness_probe_on_another_port(obj, view):
    probes = reader.at(obj, view.probes_path) if view.probes is not None else None
    if view.port is None or not isinstance(probes, dict) or "readinessProbe" not in probes:
        return False
    probes["readinessProbe"]["httpGet"]["port"] = view.port + 1
    return True


def readiness_timeout_one_second(obj, view):
    probes = reader.at(obj, view.probes_path) if view.probes is not None else None
    if not isinstance(probes, dict) or "readinessProbe" not in probes:
        return False
    probes["readinessProbe"]["timeoutSeconds"] = 1
    return True


def no_full_command(obj, view):
    container = reader.at(obj, view.path)
    if not view.require_command or not container.get("command"):
        return False
    del container["command"]
    return True


def no_served_model_name(obj, view):
    return view.is_engine and _drop_flag(obj, view, "--served-model-name")


def sglang_without_metrics(obj, view):
    return view.engine == "sglang" and _drop_flag(obj, view, "--enable-metrics")


def no_context_length(obj, view):
    return view.engine is not None and _drop_flag(
        obj, view, engines.PARAMS_BY_KEY["max_model_len"].flag(view.engine).on
    )


def gpu_limit_differs_from_tp(obj, view):
    limits = reader.at(obj, f"{view.path}.resources.limits")
    if not view.is_engine or not isinstance(limits, dict) or GPU not in limits:
        return False
    limits[GPU] = str(view.tp + 1)
    return True


def gpus_by_env(obj, view):
    env = reader.at(obj, view.env_path)
    if not isinstance(env, list):
        return False
    env.append({"name": "CUDA_VISIBLE_DEVICES", "value": "0"})
    return True


def t4_workaround_env_missing(obj, view):
    env = reader.at(obj, view.env_path)
    wanted = engines.instance_env(view.engine, view.instance) if view.engine else {}
    if not wanted or not isinstance(env, list):
        return False
    key = sorted(wanted)[0]
    env[:] = [e for e in env if e.get("name") != key]
    return True


def no_ephemeral_storage(obj, view):
    requests = reader.at(obj, f"{view.path}.resources.requests")
    if not isinstance(requests, dict) or "ephemeral-storage" not in requests:
        return False
    del requests["ephemeral-storage"]
    return True


def no_dev_shm(obj, view):
    mounts = reader.at(obj, f"{view.path}.volumeMounts") if view.mounts is not None else None
    if not isinstance(mounts, list) or not any(m.get("mountPath") == "/dev/shm" for m in mounts):
        return False
    mounts[:] = [m for m in mounts if m.get("mountPath") != "/dev/shm"]
    return True


def assert_each_break_reports_only(rule: str, backend: str, mutations: list[Mutation]) -> None:
    module, _ = BACKENDS[backend]
    applied = {m.__name__: 0 for m in mutations}
    for obj in rendered(backend):
        for i in range(len(module.engine_views(obj))):
            for mutation in mutations:
                broken = copy.deepcopy(obj)
                view = module.engine_views(broken)[i]
                if not mutation(broken, view):
                    continue
                applied[mutation.__name__] += 1
                problems = module.check(broken)
                assert [p.rule for p in problems] == [rule], (
                    f"{backend} {obj['kind']} {view.path} {mutation.__name__}: {problems}"
                )
                assert problems[0].path.startswith(view.path), problems[0]
    assert any(applied.values()), (
        f"no {rule} break applies to any {backend} object: the backend would not be held to {rule}"
    )


# ---------------------------------------------------------------- the contract

ALL = list(BACKENDS)


@pytest.mark.parametrize("backend", ALL)
def test_rendered_objects_pass_their_backend_check_and_fix_changes_nothing(backend):
    module, _ = BACKENDS[backend]
    objects = rendered(backend)
    assert any(module.engine_views(o) for o in objects), f"{backend} renders no engine container"
    for obj in objects:
        assert module.check(obj) == [], obj["kind"]
        assert manifests.check(obj) == [], obj["kind"]
        fixed, changes = module.fix(obj)
        assert (fixed, changes) == (obj, []), obj["kind"]


@pytest.mark.parametrize("backend", ALL)
def test_g3_engine_port_and_probe_port_break_reported_once(backend):
    mutations = [engine_port_differs, readiness_probe_on_another_port]
    assert_each_break_reports_only(G3, backend, mutations)


@pytest.mark.parametrize("backend", ALL)
def test_g4_one_second_readiness_timeout_reported_once(backend):
    assert_each_break_reports_only(G4, backend, [readiness_timeout_one_second])


@pytest.mark.parametrize("backend", ALL)
def test_g5_missing_command_or_served_name_reported_once(backend):
    assert_each_break_reports_only(G5, backend, [no_full_command, no_served_model_name])


@pytest.mark.parametrize("backend", ALL)
def test_g6_sglang_without_metrics_reported_once(backend):
    assert_each_break_reports_only(G6, backend, [sglang_without_metrics])


@pytest.mark.parametrize("backend", ALL)
def test_g10_missing_context_length_reported_once(backend):
    assert_each_break_reports_only(G10, backend, [no_context_length])


@pytest.mark.parametrize("backend", ALL)
def test_g11_gpu_limit_off_tp_or_gpus_by_env_reported_once(backend):
    assert_each_break_reports_only(G11, backend, [gpu_limit_differs_from_tp, gpus_by_env])


@pytest.mark.parametrize("backend", ALL)
def test_g12_t4_without_its_env_workaround_reported_once(backend):
    assert_each_break_reports_only(G12, backend, [t4_workaround_env_missing])


@pytest.mark.parametrize("backend", ALL)
def test_g13_no_ephemeral_storage_or_dev_shm_reported_once(backend):
    assert_each_break_reports_only(G13, backend, [no_ephemeral_storage, no_dev_shm])


# ---------------------------------------------------------------- G7-G9, G21, G22: operator features, over every backend
# KV-cache offload (G7, G21, G22), a public ALB that needs the router (G8) and the router's copy of the key (G9) are
# HyperPod operator features. Over every backend the contract is the same: the option is either rendered
# so that the backend's own check passes, or refused before anything is declared, naming a rule.

CLUSTERS = {
    "hyperpod": ClusterSpec(mode="hyperpod", name="c"),
    "kubernetes": ClusterSpec(mode="eks", name="c"),
    "ome": ClusterSpec(mode="eks", name="c"),
    "kserve": ClusterSpec(mode="eks", name="c"),
    "llmisvc": ClusterSpec(mode="eks", name="c"),
}


def config_problems(backend: str, **overrides: Any) -> list[Any]:
    raw = {
        **ENDPOINTS["vllm-a10g-s3-keyed"],
        "backend": backend,
        "apiKey": False,
        **({"loadBalancer": "none"} if backend == "ome" else {}),
        **overrides,
    }
    spec = EndpointSpec.model_validate(raw)
    return [
        p
        for p in validate_endpoint(spec, "endpoints[0]") + validate_backends([spec], CLUSTERS[backend], PlatformSpec())
        if p.severity == "error"
    ]


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_g21_g22_kv_cache_is_rendered_where_it_works_and_refused_elsewhere(backend):
    sglang = config_problems(backend, engine="sglang", kvCache={"l1": True})
    assert sglang, "KV cache on SGLang never reaches a backend"
    if backend == "hyperpod":
        assert [p.rule for p in sglang] == [G21]
        assert config_problems(backend, kvCache={"l1": True}) == []
        assert [p.rule for p in config_problems(backend, kvCache={"l1": True}, image="vllm/vllm-openai:v0.11.0")] == [
            G22
        ]
        module, render = BACKENDS[backend]
        (obj,) = render(
            EndpointSpec.model_validate(
                {**ENDPOINTS["vllm-a10g-s3-keyed"], "backend": backend, "kvCache": {"l1": True}}
            )
        )
        assert obj["spec"]["kvCacheSpec"] == {"enableL1Cache": True, "enableL2Cache": False}
        assert not [p for p in module.check(obj) if p.rule in (G7, G21, G22)]
    else:
        assert {p.path for p in config_problems(backend, kvCache={"l1": True})} == {"endpoints[0].hyperpod.kvCache"}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_g21_routing_with_sglang_is_refused_on_every_backend(backend):
    refused = config_problems(backend, engine="sglang", intelligentRouting=True)
    # A backend that runs vLLM only (llmisvc: KServe's presets) also refuses the engine, on its own path.
    assert {p.path for p in refused} - {"endpoints[0].engine"} == {"endpoints[0].hyperpod.intelligentRouting"}
    if backend == "hyperpod":
        assert [p.rule for p in refused] == [G21]
        assert config_problems(backend, intelligentRouting=True) == []


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_g8_a_public_load_balancer_is_refused_where_nothing_would_make_it_public(backend):
    # HyperPod: the operator makes the Ingress only with routing. Elsewhere: only a load balancer the
    # stack declares can be public, so loadBalancer none (OME's only choice) cannot be.
    refused = config_problems(backend, publicAlb=True, **({} if backend == "hyperpod" else {"loadBalancer": "none"}))
    assert [p.rule for p in refused] == [G8]
    accepted = {"intelligentRouting": True} if backend == "hyperpod" else {"loadBalancer": "alb"}
    if REGISTERED[backend].default_load_balancer != "none":  # OME and llmisvc: the operator makes the Service
        assert config_problems(backend, publicAlb=True, **accepted) == []


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_g9_the_key_reaches_whoever_checks_it(backend):
    """HyperPod with routing: a plain value the operator copies to the router. Elsewhere no router
    exists: the engine reads the key from its Secret."""
    module, render = BACKENDS[backend]
    spec = {
        **ENDPOINTS["vllm-a10g-s3-keyed"],
        "backend": backend,
        **({"intelligentRouting": True} if backend == "hyperpod" else {}),
    }
    objs = render(EndpointSpec.model_validate({**spec, **({"loadBalancer": "none"} if backend == "ome" else {})}))
    assert not [p for o in objs for p in module.check(o) if p.rule == G9]
    env = [
        e for o in objs for view in module.engine_views(o) for e in view.env.values() if e.get("name") == "VLLM_API_KEY"
    ]
    assert env, "the engine gets the key"
    if backend == "hyperpod":
        assert env[0]["value"] == "<api-key>"
    else:
        assert env[0]["valueFrom"]["secretKeyRef"]["key"] == "api-key"
