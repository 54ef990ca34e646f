"""`fix` of a HyperPod `InferenceEndpointConfig`: repairs what is unambiguous and leaves the rest to `check`
(G2, G3, G7, G10, G11, G17); `components/rules/backends/hyperpod.py` re-exports it."""

from __future__ import annotations

from typing import Any

import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.reader as reader

from .. import engines, naming
from ..catalog import G2, G3, G7, G10, G11, G17
from ..endpoint import GPU
from ..problems import Change
from ..tree import copy_tree
from .hyperpod_spec import CRD_HEALTH_CHECK_DEFAULT, CRD_INVOCATION_DEFAULT, CRD_METRICS_PORT_DEFAULT, _l2

# ---------------------------------------------------------------- fix


def fix(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """Repair what is unambiguous; leave the rest to `check`. Never mutates the input."""
    obj = copy_tree(obj)
    changes: list[Change] = []
    meta = obj.setdefault("metadata", {})
    spec = obj.setdefault("spec", {})
    meta["name"], c = naming.fix_name(meta.get("name"), "metadata.name", naming.HYPERPOD_DERIVED)
    changes += c
    if spec.get("endpointName"):
        spec["endpointName"], c = naming.fix_name(spec["endpointName"], "spec.endpointName")
        changes += c
    for field in ("labels", "annotations"):
        for key, value in list((meta.get(field) or {}).items()):
            if not isinstance(value, str):
                meta[field][key] = _label_str(value)
                changes.append(Change(f"metadata.{field}.{key}", value, meta[field][key], G2, "values must be strings"))
    worker = spec.get("worker")
    if not isinstance(worker, dict):
        return obj, changes
    engine = reader.detect_engine(worker)
    port = (worker.get("modelInvocationPort") or {}).get("containerPort")
    args = list(reader.list_at(worker, "args"))
    if engine is not None:
        args, c = _fix_args(args, engine, port, spec)
        changes += c
        changes += engine_checks.fix_command(worker, "spec.worker", engine)
        worker["args"] = args
    if isinstance(port, int):
        changes += _fix_ports(spec, port, engine)
        if not isinstance(worker.get("probes"), dict):
            worker["probes"] = {}
        changes += engine_checks.fix_probes(
            worker["probes"], "spec.worker.probes", engine, port, spec.get("maxDeployTimeInSeconds", 3600)
        )
    changes += _fix_kv_cache(spec)
    changes += _fix_resources(spec, worker, engine)
    changes += _fix_routes(spec, engine)
    return obj, changes


def _label_str(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _fix_args(args: list, engine: str, port: Any, spec: dict) -> tuple[list, list[Change]]:
    hf_id = ((spec.get("modelSourceConfig") or {}).get("huggingFaceModel") or {}).get("modelId")
    source = hf_id or spec.get("modelName")
    args, changes = engine_checks.fix_args(
        args, engine, port, source if isinstance(source, str) and source else None, "spec.worker.args"
    )
    parsed = engines.parse_args(args)
    source = spec.get("modelSourceConfig") or {}
    if source.get("modelSourceType") == "huggingface" and not source.get("prefetchEnabled"):
        flag = engines.canonical_flag(engine, engines.engine(engine).model_flag)
        own = engines.parse_args(args, engine)
        if flag in own:
            args = _drop_flag(args, flag, engine)
            changes.append(
                Change(
                    f"spec.worker.args[{flag}]",
                    own[flag],
                    None,
                    G10,
                    "the operator injects the model flag for a Hugging Face model",
                )
            )
    if _l2(spec) and "--enable-prefix-caching" in parsed:
        args = [a for a in args if a != "--enable-prefix-caching"]
        changes.append(
            Change(
                "spec.worker.args[--enable-prefix-caching]",
                True,
                None,
                G7,
                "the operator manages prefix caching with L2 cache",
            )
        )
    return args, changes


def _drop_flag(args: list, flag: str, engine: str) -> list:
    """`args` without every spelling of `flag` (canonical) and its value."""
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if engines.is_flag(arg, engine) and engines.canonical_flag(engine, arg) == flag:
            has_value = "=" not in str(arg) and i + 1 < len(args) and not engines.is_flag(args[i + 1], engine)
            i += 2 if has_value else 1
            continue
        out.append(arg)
        i += 1
    return out


def _fix_ports(spec: dict, port: int, engine: str | None) -> list[Change]:
    metrics = spec.setdefault("metrics", {})
    if not metrics.get("enabled", True):
        return []
    model_metrics = metrics.setdefault("modelMetrics", {})
    old = model_metrics.get("port", CRD_METRICS_PORT_DEFAULT)
    if old == port:
        return []
    model_metrics["port"] = port
    return [Change("spec.metrics.modelMetrics.port", old, port, G3, "the engine serves /metrics on its own port")]


def _fix_kv_cache(spec: dict) -> list[Change]:
    source = spec.get("modelSourceConfig")
    if _l2(spec) and isinstance(source, dict) and source.get("prefetchEnabled"):
        source["prefetchEnabled"] = False
        return [
            Change("spec.modelSourceConfig.prefetchEnabled", True, False, G7, "prefetch with L2 cache breaks the pod")
        ]
    return []


def _fix_resources(spec: dict, worker: dict, engine: str | None) -> list[Change]:
    changes = []
    tp = reader.tensor_parallel(reader.parse(reader.str_args(worker.get("args")), engine))
    resources = worker.setdefault("resources", {})
    limits = resources.setdefault("limits", {})
    if limits.get(GPU) is None:
        limits[GPU] = str(tp)
        changes.append(
            Change(
                f"spec.worker.resources.limits.{GPU}",
                None,
                str(tp),
                G11,
                "GPUs are scheduled by limit = tensor-parallel size",
            )
        )
    changes += engine_checks.fix_ephemeral_storage(worker, "spec.worker")
    if engine is not None:
        changes += engine_checks.fix_instance_env(
            worker, "environmentVariables", "spec.worker", engine, reader.first_instance_type(spec)
        )
    return changes


def _fix_routes(spec: dict, engine: str | None) -> list[Change]:
    changes = []
    wanted = reader.health_path(engine)
    lb = spec.setdefault("loadBalancer", {})
    old = lb.get("healthCheckPath", CRD_HEALTH_CHECK_DEFAULT)
    if old != wanted:
        lb["healthCheckPath"] = wanted
        changes.append(Change("spec.loadBalancer.healthCheckPath", old, wanted, G17, "a route the engine serves"))
    invocation = spec.get("invocationEndpoint", CRD_INVOCATION_DEFAULT)
    if invocation not in ("v1/chat/completions", "v1/completions"):
        kvaware = (spec.get("intelligentRoutingSpec") or {}).get("routingStrategy") == "kvaware"
        spec["invocationEndpoint"] = "v1/completions" if kvaware else "v1/chat/completions"
        changes.append(
            Change(
                "spec.invocationEndpoint",
                invocation,
                spec["invocationEndpoint"],
                G17,
                "the OpenAI API the clients call",
            )
        )
    return changes
