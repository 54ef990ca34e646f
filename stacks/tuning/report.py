"""Reports of a tuning run: trial table, Pareto front, the best trial under the SLOs (declared only
when its margin beats the noise), a PNG plot, a markdown report, and the winner as a ready-to-paste
`Pulumi.<env>.yaml` endpoint entry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks import secrets
from benchmarks.outputs import Kind, Output
from benchmarks.secrets import scrub, scrub_data

from . import cost_report, plotting
from .grid import STAND_IN_NOTE, GridSpec, apply, endpoint_params
from .store import TrialRecord, TrialStore

PROJECT = "llm-serving"
# Folders written before the marker existed held only these files; they are recognised as reports too.
REPORT_FOLDER = Kind(
    "tuning report folder",
    "<db>-report",
    marker=".llm-serving-report",
    legacy=("report.md", "pareto.png", "best-config.yaml", "cost.png"),
)


@dataclass
class Verdict:
    best: TrialRecord | None
    runner_up: TrialRecord | None
    decisive: bool  # margin over the runner-up exceeds both spreads
    reason: str


def latency_metric(grid: GridSpec) -> str:
    return next(iter(grid.slo), "ttft_p90")


def spread(record: TrialRecord, metric: str) -> float:
    entry = record.metrics.get(metric) or {}
    return float(entry.get("max", 0) - entry.get("min", 0)) / 2 if entry else 0.0


def _measurements(record: TrialRecord, metric: str) -> int:
    entry = record.metrics.get(metric) or {}
    return len(entry.get("values") or []) if isinstance(entry, dict) else 0


def ranked(records: list[TrialRecord], grid: GridSpec) -> list[TrialRecord]:
    """Succeeded trials meeting the SLOs and the error-rate limit, best first (older files may hold
    trials recorded as succeeded with most requests failed)."""
    metric, sense = grid.objective.metric, grid.objective.sense
    limit = grid.benchmark.max_error_rate
    ok = [
        r
        for r in records
        if r.status == "succeeded"
        and r.metrics.get("meets_slo")
        and r.value(metric) is not None
        and (r.value("error_rate") or 0) <= limit
    ]
    return sorted(ok, key=lambda r: r.measured(metric), reverse=sense == "maximize")


def verdict(records: list[TrialRecord], grid: GridSpec, complete: bool = True) -> Verdict:
    """`complete` is False for a run that was interrupted or killed: being the only trial that met
    the SLOs then proves nothing, so only the margin rule over finished trials can name a winner."""
    order = ranked(records, grid)
    metric = grid.objective.metric
    if not order:
        return Verdict(None, None, False, "no trial met every SLO")
    best = order[0]
    if len(order) == 1:
        if not complete:
            finished = sum(1 for r in records if r.done and r.status != "pruned")
            return Verdict(
                best,
                None,
                False,
                f"the only one of {finished} finished trial(s) that met every SLO, in a run that did not finish (run it again to resume)",
            )
        return Verdict(best, None, True, "the only trial that met every SLO")
    second = order[1]
    margin = abs(best.measured(metric) - second.measured(metric))
    if min(_measurements(best, metric), _measurements(second, metric)) < 2:
        # One measurement has no spread: a zero spread would make any margin look decisive.
        return Verdict(
            best,
            second,
            False,
            f"margin {margin:.4g} over the runner-up, but one measurement per point has no spread to compare it with (set repeats: 2 or more)",
        )
    noise = spread(best, metric) + spread(second, metric)
    if margin > noise:
        return Verdict(
            best, second, True, f"margin {margin:.4g} over the runner-up exceeds the combined spread {noise:.4g}"
        )
    return Verdict(
        best,
        second,
        False,
        f"margin {margin:.4g} is within the combined spread {noise:.4g}: a tie within noise (add repeats)",
    )


def pareto(records: list[TrialRecord], grid: GridSpec) -> list[TrialRecord]:
    """Trials no other trial beats on both throughput (higher) and latency (lower)."""
    lat = latency_metric(grid)
    pts = [
        r
        for r in records
        if r.status == "succeeded" and r.value("output_throughput") is not None and r.value(lat) is not None
    ]
    front = [
        r
        for r in pts
        if not any(
            o.measured("output_throughput") >= r.measured("output_throughput")
            and o.measured(lat) <= r.measured(lat)
            and (o.measured("output_throughput") > r.measured("output_throughput") or o.measured(lat) < r.measured(lat))
            for o in pts
        )
    ]
    return sorted(front, key=lambda r: r.measured(lat))


def config_snippet(grid: GridSpec, record: TrialRecord) -> str:
    """The winner as a stack endpoint entry; `benchmark.*` values were the load it was measured under, not config."""
    entry = scrub_data(apply(grid.base, endpoint_params(record.params)))  # a token in base.env stays out of it
    return yaml.safe_dump({"config": {f"{PROJECT}:endpoints": [entry]}}, sort_keys=False)


def _fmt(record: TrialRecord, metric: str) -> str:
    entry = record.metrics.get(metric)
    if not isinstance(entry, dict):
        return "-"
    text = f"{entry['mean']:.4g}"
    if entry.get("stdev"):
        text += f" ± {entry['stdev']:.2g}"
    return text


def _percent(record: TrialRecord, metric: str) -> str:
    entry = record.metrics.get(metric)
    return f"{100 * entry['mean']:.1f}" if isinstance(entry, dict) else "-"


# Engine-side columns (the server's /metrics, benchmarks/engine_metrics.py): "-" without /metrics.
ENGINE_COLUMNS = (
    ("prefix hit %", "prefix_hit_rate", _percent),
    ("KV use max %", "kv_cache_usage_max", _percent),
    ("preemptions", "preemptions", _fmt),
)


def invalid_levels(record: TrialRecord) -> list[dict[str, Any]]:
    """The trial's INVALID levels (benchmarks/validity.py), one entry per load and guard over its repeats:
    {load, guard, reason, saturated_at, skipped}. Records written before the guards have none."""
    out: dict[tuple[Any, str], dict[str, Any]] = {}
    for sample in record.levels:
        if not isinstance(sample, dict):
            continue
        for verdict in sample.get("invalid") or ():
            key = (sample.get("load"), verdict.get("guard", "?"))
            if key not in out:
                out[key] = {
                    "load": sample.get("load"),
                    "guard": key[1],
                    "reason": verdict.get("reason", ""),
                    "saturated_at": sample.get("saturated_at"),
                    "skipped": bool(sample.get("skipped")),
                }
    return sorted(
        out.values(),
        key=lambda v: (
            not isinstance(v["load"], (int, float)),
            v["load"] if isinstance(v["load"], (int, float)) else 0,
        ),
    )


def _invalid_cell(record: TrialRecord) -> str:
    """Short: `16 saturated at 11.2 req/s; 32 skipped; 8 error-rate` (the report lists the reasons)."""
    by_load: dict[Any, list[str]] = {}
    for v in invalid_levels(record):
        text = (
            "skipped"
            if v["skipped"]
            else (f"saturated at {v['saturated_at']:.3g} req/s" if v["saturated_at"] else v["guard"])
        )
        by_load.setdefault(v["load"], []).append(text)
    return "; ".join(
        f"{load:g} {', '.join(texts)}" if isinstance(load, (int, float)) else ", ".join(texts)
        for load, texts in by_load.items()
    )


def invalid_lines(records: list[TrialRecord]) -> list[str]:
    """Every INVALID level of the run with its reason: kept out of the objective, the Pareto front, the
    best configuration and the capacity (docs/tuning.md, "Invalid levels")."""
    out = [
        f"- {r.params}: load {v['load']:g}: {v['guard']}: {v['reason']}"
        if isinstance(v["load"], (int, float))
        else f"- {r.params}: {v['guard']}: {v['reason']}"
        for r in records
        for v in invalid_levels(r)
    ]
    if not out:
        return []
    return [
        "",
        "## Invalid levels",
        "",
        "Kept out of the objective, the Pareto front, the best configuration and the capacity "
        '(docs/tuning.md, "Invalid levels"):',
        "",
        *out,
    ]


def rows(records: list[TrialRecord], grid: GridSpec) -> tuple[list[str], list[list[str]]]:
    params = sorted({k for r in records for k in r.params})
    lat = latency_metric(grid)
    header = [
        *params,
        "status",
        grid.objective.metric,
        lat,
        *(c[0] for c in ENGINE_COLUMNS),
        "meets SLO",
        "invalid levels",
        "note",
    ]
    order = {"succeeded": 0, "infeasible": 1, "failed": 2, "interrupted": 3, "pruned": 4, "running": 5}
    out = []
    sign = -1 if grid.objective.sense == "maximize" else 1  # best first, also for a minimised objective (cost)
    in_order = sorted(records, key=lambda r: (order.get(r.status, 9), sign * (r.value(grid.objective.metric) or 0)))
    for r in in_order:
        note = r.note[:120]
        out.append(
            [
                *(str(r.params.get(p, "")) for p in params),
                r.status,
                _fmt(r, grid.objective.metric),
                _fmt(r, lat),
                *(show(r, key) for _, key, show in ENGINE_COLUMNS),
                "yes" if r.metrics.get("meets_slo") else "no",
                _invalid_cell(r),
                note,
            ]
        )
    cost_report.extend_rows(records, grid, header, out, in_order)
    return header, out


def capacity_lines(records: list[TrialRecord]) -> list[str]:
    """Each succeeded trial's capacity at the SLO (`stacks report --export-capacity` writes them as files)."""
    out = []
    for r in records:
        cap = r.metrics.get("capacity") if r.status == "succeeded" else None
        if isinstance(cap, dict) and cap.get("values"):
            rate = (cap.get("request_rate") or {}).get("lower_bound")
            per_second = f", {rate:.4g} requests/s at the lower bound" if rate else ""
            out.append(
                f"- {r.params}: {cap['value']:g} {cap['unit']} (lower bound {cap['lower_bound']:g}, {cap['lower_bound_rule']} of {cap['values']}; {cap['source']}){per_second}"
            )
    return ["", "## Capacity at the SLO", "", *out] if out else []


def plot(records: list[TrialRecord], grid: GridSpec, path: Path, best: TrialRecord | None) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lat = latency_metric(grid)
    pts = [
        r
        for r in records
        if r.status == "succeeded" and r.value(lat) is not None and r.value("output_throughput") is not None
    ]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for r in pts:
        x, y = r.measured(lat), r.measured("output_throughput")
        xerr = spread(r, lat) or None
        yerr = spread(r, "output_throughput") or None
        ax.errorbar(
            x,
            y,
            xerr=xerr,
            yerr=yerr,
            fmt="o",
            color="tab:blue" if r.metrics.get("meets_slo") else "tab:gray",
            alpha=0.8,
            capsize=3,
        )
        plotting.label(ax, r, x, y)
    front = pareto(records, grid)
    ax.plot(
        [r.measured(lat) for r in front],
        [r.measured("output_throughput") for r in front],
        "--",
        color="tab:orange",
        label="Pareto front",
    )
    if best is not None:
        ax.plot(
            [best.value(lat)],  # type: ignore[arg-type]  # a None (the metric not recorded) plots nothing
            [best.value("output_throughput")],  # type: ignore[arg-type]
            "*",
            markersize=16,
            color="tab:red",
            label="best under SLO",
        )
    return plotting.finish(fig, ax, grid, lat, "output tokens/s", "throughput vs latency", path)


def write(store: TrialStore, out_dir: Path, run: str | None = None, label: str = "") -> dict[str, Any]:
    """Write report.md, pareto.png and best-config.yaml for a run, swapped in as one folder; return what was
    written. OutputError (one line) when `out_dir` is not a report folder or cannot be written."""
    runs = store.runs()
    if not runs:
        raise ValueError(f"{store.path} holds no tuning run")
    names = [name for name, _ in runs]
    if run is not None and run not in names:
        raise ValueError(f"no run {run!r} in {store.path}; runs: {', '.join(names)}")
    name, grid_doc = next((n, g) for n, g in runs if n == (run or names[-1]))
    secrets.collect(grid_doc)  # a database written before grids were scrubbed: its tokens stay out of the report
    grid = GridSpec.model_validate(grid_doc)
    records = store.trials(name)
    with (
        Output(out_dir, REPORT_FOLDER, label or f"report folder {out_dir}", parents=True) as out,
        out.folder({"run": name}) as folder,
    ):
        return _write(folder, store, name, grid, records)


def _write(folder: Any, store: TrialStore, name: str, grid: GridSpec, records: list[TrialRecord]) -> dict[str, Any]:
    complete = store.run_state(name) == "complete" and not any(r.status in ("running", "interrupted") for r in records)
    decision = verdict(records, grid, complete)
    png = plot(records, grid, folder.path("pareto.png"), decision.best)
    header, table = rows(records, grid)
    lines = [f"# Tuning report: {name}", ""]
    if grid.stand_in:
        lines += [f"> **Stand-in engine**: {STAND_IN_NOTE}.", ""]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines += [
        f"Objective: {grid.objective.sense} `{grid.objective.metric}`; SLOs: "
        + (", ".join(f"`{k}` ≤ {v}" for k, v in grid.slo.items()) or "none"),
        "",
    ]
    lines += ["Trials: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in table]
    lines += ["", "## Pareto front (throughput vs " + latency_metric(grid) + ")", ""]
    lines += [
        f"- {r.params}: {_fmt(r, 'output_throughput')} tok/s, {latency_metric(grid)} {_fmt(r, latency_metric(grid))} s"
        for r in pareto(records, grid)
    ]
    lines += capacity_lines(records)
    lines += invalid_lines(records)
    lines += ["", "## Best configuration under the SLOs", ""]
    snippet_path = None
    if decision.best is not None:
        status = "Winner" if decision.decisive else "Best, but not decisive"
        lines += [
            f"{status}: {decision.best.params} ({decision.reason}).",
            "",
            "Paste into `Pulumi.<env>.yaml`:",
            "",
            "```yaml",
            config_snippet(grid, decision.best).rstrip(),
            "```",
        ]
        snippet_path = folder.write(
            "best-config.yaml",
            ((f"# {STAND_IN_NOTE}\n" if grid.stand_in else "") + scrub(config_snippet(grid, decision.best))).encode(),
        )
    else:
        lines.append(decision.reason + ".")
    lines += cost_report.section(records, grid)
    cost_png = cost_report.plot(records, grid, folder.path("cost.png"), latency_metric(grid))
    if png:
        lines += ["", f"![throughput vs latency]({png.name})"]
    if cost_png:
        lines += ["", f"![cost vs latency]({cost_png.name})"]
    report = folder.write("report.md", (scrub("\n".join(lines)) + "\n").encode())
    return {
        "run": name,
        "report": report,
        "plot": png and folder.final(png.name),
        "cost_plot": cost_png and folder.final(cost_png.name),
        "snippet": snippet_path,
        "verdict": decision,
        "header": header,
        "rows": table,
        "counts": counts,
        "complete": complete,
        "stand_in": grid.stand_in,
    }
