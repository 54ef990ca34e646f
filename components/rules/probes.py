"""Probe settings that survive a slow health route and a minutes-long model load (G4).

The HyperPod operator's default readiness probe has timeoutSeconds 1; SGLang's /health takes about
1.007 s, so the pod never turns Ready. Patching the Deployment afterwards deadlocked the
rollout on a single GPU, so probes are declared in the CR (`worker.probes`) and, for
plain Deployments, the rollout never surges a second GPU pod.
"""

from __future__ import annotations

import math
from typing import Any

from .catalog import G3, G4
from .problems import Change, Problem

MIN_TIMEOUT_SECONDS = 5
PERIOD_SECONDS = 10
DEFAULT_LOAD_SECONDS = 1800  # large models from S3 take tens of minutes on first pull


def readiness(path: str, port: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": PERIOD_SECONDS,
        "timeoutSeconds": MIN_TIMEOUT_SECONDS,
        "failureThreshold": 3,
        "successThreshold": 1,
    }


def liveness(path: str, port: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": 30,
        "timeoutSeconds": 10,
        "failureThreshold": 3,
    }


def startup(path: str, port: int, load_seconds: int = DEFAULT_LOAD_SECONDS) -> dict[str, Any]:
    """Liveness is held off until this passes, so a model load of `load_seconds` is never killed."""
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": PERIOD_SECONDS,
        "timeoutSeconds": MIN_TIMEOUT_SECONDS,
        "failureThreshold": math.ceil(load_seconds / PERIOD_SECONDS),
    }


def probe_set(path: str, port: int, load_seconds: int = DEFAULT_LOAD_SECONDS) -> dict[str, dict[str, Any]]:
    return {
        "readinessProbe": readiness(path, port),
        "livenessProbe": liveness(path, port),
        "startupProbe": startup(path, port, load_seconds),
    }


def check_probes(probes: Any, base: str, port: int | None, load_seconds: int = DEFAULT_LOAD_SECONDS) -> list[Problem]:
    """Probes of one model container (`probes` maps readinessProbe/livenessProbe/startupProbe)."""
    probes = probes if isinstance(probes, dict) else {}
    problems: list[Problem] = []
    ready = probes.get("readinessProbe")
    if not isinstance(ready, dict):
        problems.append(
            Problem(
                f"{base}.readinessProbe",
                None,
                G4,
                "model container has no readiness probe; the operator's default times out after 1 s",
                f"declare readinessProbe with httpGet on the engine health route and timeoutSeconds >= {MIN_TIMEOUT_SECONDS}",
            )
        )
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = probes.get(kind)
        if not isinstance(probe, dict):
            continue
        timeout = probe.get("timeoutSeconds", 1)
        if isinstance(timeout, int) and timeout < MIN_TIMEOUT_SECONDS:
            problems.append(
                Problem(
                    f"{base}.{kind}.timeoutSeconds",
                    timeout,
                    G4,
                    f"probe timeout under {MIN_TIMEOUT_SECONDS} s fails on a busy engine (SGLang /health takes ~1.007 s)",
                    f"set timeoutSeconds: {MIN_TIMEOUT_SECONDS}",
                )
            )
        probe_port = (probe.get("httpGet") or {}).get("port")
        if port is not None and isinstance(probe_port, int) and probe_port != port:
            problems.append(
                Problem(
                    f"{base}.{kind}.httpGet.port",
                    probe_port,
                    G3,
                    f"probe port differs from the engine port {port}",
                    f"set httpGet.port: {port}",
                )
            )
    live, start = probes.get("livenessProbe"), probes.get("startupProbe")
    if isinstance(live, dict) and not isinstance(start, dict):
        budget = live.get("initialDelaySeconds", 0) + live.get("periodSeconds", 10) * live.get("failureThreshold", 3)
        if isinstance(budget, int) and budget < load_seconds:
            problems.append(
                Problem(
                    f"{base}.startupProbe",
                    None,
                    G4,
                    f"liveness would kill the pod after {budget} s, before a {load_seconds} s model load ends",
                    "add a startupProbe with failureThreshold * periodSeconds >= the model load time",
                )
            )
    return problems


def fix_probes(
    probes: Any, base: str, path: str, port: int, load_seconds: int = DEFAULT_LOAD_SECONDS
) -> tuple[dict[str, Any], list[Change]]:
    fixed = dict(probes) if isinstance(probes, dict) else {}
    changes: list[Change] = []
    wanted = probe_set(path, port, load_seconds)
    for kind, default in wanted.items():
        probe = fixed.get(kind)
        if not isinstance(probe, dict):
            if kind == "livenessProbe":
                continue  # optional; a missing liveness probe is not an incident
            fixed[kind] = default
            changes.append(
                Change(f"{base}.{kind}", None, default, G4, "declared so model load and slow health checks survive")
            )
            continue
        probe = dict(probe)
        timeout = probe.get("timeoutSeconds", 1)
        if isinstance(timeout, int) and timeout < MIN_TIMEOUT_SECONDS:
            probe["timeoutSeconds"] = MIN_TIMEOUT_SECONDS
            changes.append(
                Change(
                    f"{base}.{kind}.timeoutSeconds", timeout, MIN_TIMEOUT_SECONDS, G4, "SGLang /health takes ~1.007 s"
                )
            )
        http = probe.get("httpGet")
        if isinstance(http, dict) and isinstance(http.get("port"), int) and http["port"] != port:
            probe["httpGet"] = {**http, "port": port}
            changes.append(
                Change(f"{base}.{kind}.httpGet.port", http["port"], port, G3, "one port for the engine everywhere")
            )
        fixed[kind] = probe
    return fixed, changes
