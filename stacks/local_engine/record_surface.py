"""Export a finished tuning run as a response surface file the strategy tests replay.

    python -m stacks tune stacks/grids/tiny-cpu-surface.yaml --db tuning-runs/surface.db
    python -m stacks.local_engine.record_surface --db tuning-runs/surface.db --out stacks/tuning/surfaces/vllm-cpu-tiny.json

Each point keeps its parameters and the mean of each metric over every measurement of it in the
named runs (several runs of one grid pool their repeats); a point whose trial crashed or failed in
any run is kept with `metrics: null` (infeasible), so the replay sees the same hidden constraints.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

from benchmarks.outputs import Kind, OutputError, json_bytes, json_object_with, write_file
from stacks.tuning.store import StoreError, TrialRecord, TrialStore

SURFACE_FILE = Kind("response surface", "surfaces/<name>.json", json_object_with("instanceType", "objective", "points"))

METRICS = ("output_throughput", "output_throughput_per_gpu", "ttft_p90", "tpot_p90")


def _pooled(records: list[TrialRecord]) -> tuple[dict[str, float] | None, str | None]:
    """Every measurement of one point across runs; a point that ever crashed stays infeasible."""
    failed = [r for r in records if r.status != "succeeded"]
    if failed:
        return None, (failed[0].error or failed[0].status).splitlines()[0][:200]
    metrics = {}
    for metric in METRICS:
        values = [v for r in records for v in ((r.metrics.get(metric) or {}).get("values") or [])]
        if values:
            metrics[metric] = round(sum(values) / len(values), 4)
    return metrics, None


def surface(store: TrialStore, runs: list[str] | None = None, source: str = "") -> dict[str, Any]:
    """One point per parameter set, pooling the measurements of every named run (default: all)."""
    stored = dict(store.runs())
    if not stored:
        raise ValueError(f"{store.url} holds no tuning run")
    names = runs or list(stored)
    missing = [n for n in names if n not in stored]
    if missing:
        raise ValueError(f"no run {missing[0]!r} in {store.url}; runs: {', '.join(stored)}")
    by_params: dict[str, list[TrialRecord]] = {}
    for name in names:
        for record in store.trials(name):
            if record.done:
                by_params.setdefault(json.dumps(record.params, sort_keys=True), []).append(record)
    if not by_params:
        raise ValueError(f"run(s) {', '.join(names)} have no finished trial")
    points = []
    for key in sorted(by_params):
        metrics, error = _pooled(by_params[key])
        measurements = sum(len((r.metrics.get("output_throughput") or {}).get("values") or []) for r in by_params[key])
        points.append(
            {
                "params": json.loads(key),
                "metrics": metrics,
                "measurements": measurements,
                **({"error": error} if error else {}),
            }
        )
    grid = stored[names[0]]
    return {
        "source": source or f"measured: `python -m stacks tune` run(s) {', '.join(names)} on {platform.machine()} CPU",
        "instanceType": grid.get("base", {}).get("instanceType", "local"),
        "objective": grid.get("objective", {}).get("metric", "output_throughput"),
        "slo": grid.get("slo", {}),
        "points": points,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument(
        "--run", action="append", help="run name, repeatable; their measurements are pooled (default: every run)"
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--source", default="", help="where the surface comes from (stored in the file)")
    args = parser.parse_args(argv)
    if not args.db.exists():
        print(f"no results database at {args.db}", file=sys.stderr)
        return 2
    try:
        doc = surface(TrialStore(args.db, create=False), args.run, args.source)
        write_file(args.out, json_bytes(doc), SURFACE_FILE, f"--out {args.out}")
    except (ValueError, StoreError, OutputError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    feasible = sum(1 for p in doc["points"] if p["metrics"])
    print(f"wrote {args.out}: {len(doc['points'])} point(s), {feasible} feasible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
