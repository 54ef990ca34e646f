"""Capacity files: per configuration of a tuning run, the highest load that met every SLO, for review beside
the stacks that rely on it (rule C1, `capacity:` of an endpoint).

One JSON file per (model, engine, instance type, engine args, workload), keys in a fixed order, so a
re-export shows as a small diff. Written by `python -m stacks report --db FILE --export-capacity DIR`,
with INDEX.md beside them: which configuration each (hash-named) file measured.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmarks import inputs
from benchmarks.outputs import Kind, Output, json_bytes, json_object_with
from benchmarks.secrets import scrub_data
from components.rules import ConfigError
from components.rules.capacity import SCHEMA_VERSION, replica_shape
from components.rules.cost import cost_per_mtok
from components.rules.spec import EndpointSpec

from .cost import COST_METRICS, no_price, price_source
from .grid import GridSpec, apply, point_benchmark
from .store import TrialRecord, TrialStore

CAPACITY_FILE = Kind(
    "capacity file",
    "capacity/<model>.json",
    json_object_with("schemaVersion", "model", "engine", "instanceType", "capacity"),
)


def _spec(grid: GridSpec, record: TrialRecord) -> EndpointSpec | None:
    try:
        return EndpointSpec.model_validate(
            apply(grid.base, {k: v for k, v in record.params.items() if not k.startswith("benchmark.")})
        )
    except (ValidationError, ConfigError):  # a point the grid pruned or a base that no longer validates: no file
        return None


def document(grid: GridSpec, record: TrialRecord, db: Path) -> dict[str, Any] | None:
    """The capacity file of one succeeded trial, or None when it recorded no capacity."""
    cap = record.metrics.get("capacity")
    spec = _spec(grid, record)
    if record.status != "succeeded" or not isinstance(cap, dict) or spec is None or not cap.get("values"):
        return None
    bench = point_benchmark(grid, record.params)[0] or grid.benchmark
    rate = cap.get("request_rate") or None
    return {
        "schemaVersion": SCHEMA_VERSION,
        "model": spec.model,
        "engine": spec.engine,
        "instanceType": spec.instance_type,
        "engineArgs": dict(sorted(spec.engine_args.model_dump(by_alias=True, exclude_none=True).items())),
        **({"replicaShape": shape} if (shape := replica_shape(spec)) else {}),
        "workload": bench.scenario,
        # A cost bound filters trials; it is no serving SLO an endpoint declares (`slo:`), so matching ignores it.
        "slo": {_camel(k): v for k, v in sorted(grid.slo.items()) if k not in COST_METRICS},
        "capacity": {
            "unit": cap["unit"],
            "value": cap["value"],
            "lowerBound": cap["lower_bound"],
            "lowerBoundRule": cap["lower_bound_rule"],
            "values": cap["values"],
            "source": cap["source"],
        },
        "requestRate": {
            "value": _round(rate.get("value")),
            "lowerBound": _round(rate.get("lower_bound")),
            "values": [_round(v) for v in rate.get("values") or []],
        }
        if rate
        else None,
        "measured": datetime.datetime.fromtimestamp(record.finished or record.started or 0, datetime.UTC)
        .date()
        .isoformat(),
        "run": record.run,
        "trial": record.key,
        "source": {
            "database": db.name,
            "grid": grid.name,
            "target": grid.target,
            "params": dict(sorted(record.params.items())),
            "repeats": grid.repeats,
            **({"standIn": True} if grid.stand_in else {}),
        },  # C1 warns on such a file
        "cost": cost(grid, record, spec, cap),
    }


def cost(grid: GridSpec, record: TrialRecord, spec: EndpointSpec, cap: dict[str, Any]) -> dict[str, Any]:
    """$/h the trial recorded and $ per million output tokens at the capacity's lower-bound load (the output
    throughput measured there); null figures with the reason."""
    price = record.value("cost_per_hour")
    if price is None:
        return {
            "perHour": None,
            "perMtokOutputAtSlo": None,
            "priceSource": None,
            "reason": f"the trial had no price: {no_price(grid)}",
        }
    tokens = (cap.get("output_throughput") or {}).get("value")
    per_mtok = cost_per_mtok(price, tokens) if tokens else None
    out = {"perHour": _round(price), "perMtokOutputAtSlo": _round(per_mtok), "priceSource": price_source(grid, spec)}
    if per_mtok is None:
        out["reason"] = (
            "no output throughput recorded at the capacity's load: re-measure with this version of stacks tune"
        )
    return out


def _camel(metric: str) -> str:
    head, *rest = metric.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def file_name(doc: dict[str, Any]) -> str:
    """`<model>-<engine>-<instance type>-<hash of engine args and workload>.json`: stable across re-exports."""
    model = doc["model"].rsplit("/", 1)[-1]
    key = json.dumps(
        [doc["model"], doc["engine"], doc["instanceType"], doc["engineArgs"], doc["workload"]], sort_keys=True
    )
    slug = re.sub(r"[^a-z0-9.]+", "-", f"{model}-{doc['engine']}-{doc['instanceType']}".lower()).strip("-")
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}.json"


class Export:
    """The capacity files of one run: each checked and locked by `open()`, before anything is written (the
    report command opens them before it writes its report), each written atomically and only over a
    capacity file; other files in the folder are kept."""

    def __init__(self, grid: GridSpec, records: list[TrialRecord], db: Path, out_dir: Path):
        chosen: dict[str, dict[str, Any]] = {}
        for record in records:  # where two trials share a configuration, the higher lower bound is kept
            doc = document(grid, record, db)
            if doc is None:
                continue
            name = file_name(doc)
            if name not in chosen or doc["capacity"]["lowerBound"] > chosen[name]["capacity"]["lowerBound"]:
                chosen[name] = doc
        self.out_dir = out_dir
        self.files = [
            (Output(out_dir / name, CAPACITY_FILE, f"--export-capacity {out_dir / name}", parents=True), doc)
            for name, doc in sorted(chosen.items())
        ]

    @classmethod
    def of_run(cls, store: TrialStore, out_dir: Path, run: str | None = None) -> Export:
        """The run a report of `run` shows (the latest without one); none when there is no such run."""
        runs = dict(store.runs())
        name = run or next(reversed(runs), None)
        if name not in runs:
            return _empty()
        return cls(GridSpec.model_validate(runs[name]), store.trials(name), store.path, out_dir)

    def open(self) -> Export:
        try:
            for target, _ in self.files:
                target.open()
        except BaseException:
            self.close()
            raise
        return self

    def write(self) -> list[Path]:
        written = [target.write(json_bytes(scrub_data(doc), indent=2)) for target, doc in self.files]
        if written:  # a file name carries only a hash: INDEX.md says which configuration each one measured
            write_index(self.out_dir)
        return written

    def close(self) -> None:
        for target, _ in self.files:
            target.close()

    def __enter__(self) -> Export:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _empty() -> Export:
    nothing = Export.__new__(Export)
    nothing.files = []
    return nothing


def export(grid: GridSpec, records: list[TrialRecord], db: Path, out_dir: Path) -> list[Path]:
    """One file per configuration (see Export); OutputError (one line) names a file that is in the way."""
    with Export(grid, records, db, out_dir) as files:
        return files.write()


INDEX = "INDEX.md"
CAPACITY_INDEX = Kind("capacity index", "capacity/INDEX.md", lambda data: data.startswith(b"# Capacity files\n"))


def write_index(out_dir: Path) -> Path:
    """INDEX.md: one row per capacity file in `out_dir` (earlier exports too) with the configuration it
    measured, since a file name carries only a hash of the engine args and workload."""
    rows = []
    for path in sorted(out_dir.glob("*.json")):
        try:
            doc = inputs.loads_json(
                inputs.read_text(path, max_bytes=1 << 20, what="capacity file", fix="remove it"), str(path), "remove it"
            )
            cap = doc["capacity"]
            args = ", ".join(f"{k}={v}" for k, v in doc["engineArgs"].items()) or "-"
            cells = [
                f"`{path.name}`",
                doc["model"],
                doc["engine"],
                doc["instanceType"],
                args,
                doc["workload"],
                f"{cap['lowerBound']:g} {cap['unit']}",
                doc["measured"],
                f"{doc['source']['grid']} {doc['trial']}",
            ]
        except (OSError, ValueError, KeyError, TypeError):  # not a capacity file: not indexed
            continue
        rows.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    text = (
        "# Capacity files\n\nWritten by `python -m stacks report --export-capacity`; set an endpoint's `capacity:` to a file (rule C1).\n\n"
        "| file | model | engine | instance type | engine args | workload | capacity (lower bound) | measured | grid, trial |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "".join(row + "\n" for row in rows)
    )
    with Output(out_dir / INDEX, CAPACITY_INDEX, f"capacity index {out_dir / INDEX}") as target:
        return target.write(text.encode())
