"""Check and fix any rendered object by kind: the single entry point for transforms, policies,
the offline plan and `stacks check`."""

from __future__ import annotations

from typing import Any, Callable

from . import hyperpod, naming, workloads
from .backends import kserve, ome
from .problems import Change, Problem

Checker = Callable[[dict[str, Any]], list[Problem]]
Fixer = Callable[[dict[str, Any]], tuple[dict[str, Any], list[Change]]]


def _check_metadata(obj: dict[str, Any]) -> list[Problem]:
    meta = obj.get("metadata") or {}
    problems = naming.check_name(meta.get("name"), "metadata.name", allow_dots=True) if "name" in meta else []
    for field in ("labels", "annotations"):
        for key, value in (meta.get(field) or {}).items():
            if not isinstance(value, str):
                problems.append(Problem(f"metadata.{field}.{key}", value, "G2", f"{field[:-1]} values must be strings", f"quote it: {str(value)!r}"))
    return problems


def _deployment_check(obj: dict[str, Any]) -> list[Problem]:
    return _check_metadata(obj) + workloads.check_deployment(obj)


def _with_metadata(fn: Checker) -> Checker:
    return lambda obj: _check_metadata(obj) + fn(obj)


CHECKERS: dict[tuple[str, str], Checker] = {
    ("inference.sagemaker.aws.amazon.com", "InferenceEndpointConfig"): hyperpod.check,
    ("apps", "Deployment"): _deployment_check,
    # Label values of every backend object are strings (G2; autotuner bug 1).
    ("ome.io", "InferenceService"): _with_metadata(ome.check_inference_service),
    ("ome.io", "ClusterServingRuntime"): _with_metadata(ome.check_serving_runtime),
    ("ome.io", "BenchmarkJob"): _with_metadata(ome.check_benchmark_job),
    ("serving.kserve.io", "InferenceService"): _with_metadata(kserve.check_inference_service),
    ("", "Service"): _with_metadata(kserve.check_service),
}
FIXERS: dict[tuple[str, str], Fixer] = {
    ("inference.sagemaker.aws.amazon.com", "InferenceEndpointConfig"): hyperpod.fix,
    ("apps", "Deployment"): workloads.fix_deployment,
}


def group_kind(obj: dict[str, Any]) -> tuple[str, str]:
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.split("/")[0] if "/" in api_version else ""
    return group, str(obj.get("kind", ""))


def has_rules(obj: dict[str, Any]) -> bool:
    return group_kind(obj) in CHECKERS


def check(obj: dict[str, Any]) -> list[Problem]:
    checker = CHECKERS.get(group_kind(obj), _check_metadata)
    return checker(obj)


def fix(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    fixer = FIXERS.get(group_kind(obj))
    return fixer(obj) if fixer else (obj, [])
