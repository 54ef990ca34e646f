"""Export a finished tuning run as a response surface file the strategy tests replay.

    python -m stacks tune stacks/grids/tiny-cpu-surface.yaml --db tuning-runs/surface.db
    python -m stacks.local_engine.record_surface --db tuning-runs/surface.db --out tests/tuning/data/vllm-cpu-tiny.json

Each point keeps its parameters and the mean of each metric; crashed or failed trials are kept
with `metrics: null` (infeasible), so the replay sees the same hidden constraints as the run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any, Optional

from stacks.tuning.store import TrialStore

METRICS = ("output_throughput", "output_throughput_per_gpu", "ttft_p90", "tpot_p90")


def surface(store: TrialStore, run: Optional[str] = None, source: str = "") -> dict[str, Any]:
    runs = dict(store.runs())
    if not runs:
        raise ValueError(f"{store.url} holds no tuning run")
    name = run or next(iter(runs))
    if name not in runs:
        raise ValueError(f"no run {name!r} in {store.url}; runs: {', '.join(runs)}")
    grid = runs[name]
    points = []
    for record in sorted(store.trials(name), key=lambda r: r.key):
        if not record.done:
            continue
        metrics = None
        if record.status == "succeeded":
            metrics = {m: round(v, 4) for m in METRICS if (v := record.value(m)) is not None}
        points.append({"params": record.params, "metrics": metrics, **({"error": record.error.splitlines()[0][:200]} if record.error and metrics is None else {})})
    if not points:
        raise ValueError(f"run {name!r} has no finished trial")
    return {
        "source": source or f"measured: `python -m stacks tune` run {name!r} on {platform.machine()} CPU ({platform.node() or 'unknown host'})",
        "instanceType": grid.get("base", {}).get("instanceType", "local"),
        "objective": grid.get("objective", {}).get("metric", "output_throughput"),
        "slo": grid.get("slo", {}),
        "points": points,
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--run", help="run name (default: the first run in the database)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--source", default="", help="where the surface comes from (stored in the file)")
    args = parser.parse_args(argv)
    if not args.db.exists():
        print(f"no results database at {args.db}", file=sys.stderr)
        return 2
    try:
        doc = surface(TrialStore(args.db), args.run, args.source)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    feasible = sum(1 for p in doc["points"] if p["metrics"])
    print(f"wrote {args.out}: {len(doc['points'])} point(s), {feasible} feasible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
