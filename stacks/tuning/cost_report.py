"""The cost part of a tuning report: `$/h`, `$/Mtok` and `$/month at peak` columns, the ranking by
$ per million output tokens at the SLO, and a cost-vs-latency plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.rules.cost import TooManyReplicas, cost_per_month_at_peak

from . import plotting
from .cost import no_price
from .grid import GridSpec, apply
from .store import TrialRecord


def has_cost(records: list[TrialRecord]) -> bool:
    return any(r.value("cost_per_hour") is not None for r in records)


def replicas(grid: GridSpec, record: TrialRecord) -> int:
    if grid.target == "local":
        return 1  # one engine process
    return max(int(apply(grid.base, record.params).get("replicas", 1) or 1), 1)


def monthly_at_peak(grid: GridSpec, record: TrialRecord) -> float | None:
    """$ a month to serve the grid's declared peak with replicas of this configuration, from the request
    rate it sustained within the SLOs; None without a declared peak or an SLO-meeting measurement."""
    peak, per_hour, rps = (
        grid.cost.peak_requests_per_second,
        record.value("cost_per_hour"),
        record.value("request_throughput"),
    )
    if peak is None or per_hour is None or not rps or not record.metrics.get("meets_slo"):
        return None
    n = replicas(grid, record)
    try:
        return cost_per_month_at_peak(per_hour / n, rps / n, peak, grid.cost.headroom)
    except TooManyReplicas:  # a trickle of a measurement against the peak: no monthly figure to show
        return None


def header(grid: GridSpec) -> list[str]:
    return ["$/h", "$/Mtok"] + (["$/month at peak"] if grid.cost.peak_requests_per_second else [])


def cells(grid: GridSpec, record: TrialRecord) -> list[str]:
    def money(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    out = [money(record.value("cost_per_hour"), 2), money(record.value("cost_per_mtok"), 4)]
    if grid.cost.peak_requests_per_second:
        out.append(money(monthly_at_peak(grid, record), 0))
    return out


def ranked(records: list[TrialRecord], grid: GridSpec) -> list[TrialRecord]:
    """Succeeded trials within every SLO and the error limit, cheapest per million output tokens first."""
    limit = grid.benchmark.max_error_rate
    ok = [
        r
        for r in records
        if r.status == "succeeded"
        and r.metrics.get("meets_slo")
        and r.value("cost_per_mtok") is not None
        and (r.value("error_rate") or 0) <= limit
    ]
    return sorted(ok, key=lambda r: r.measured("cost_per_mtok"))


def section(records: list[TrialRecord], grid: GridSpec) -> list[str]:
    if not has_cost(records):
        if not any(r.status == "succeeded" for r in records):
            return []
        return ["", f"No cost columns: {no_price(grid)}."]
    lines = ["", "## Ranked by $ per million output tokens at the SLO", ""]
    order = ranked(records, grid)
    if not order:
        return lines + ["No trial with a price met every SLO."]
    peak = grid.cost.peak_requests_per_second
    for i, r in enumerate(order, 1):
        text = f"{i}. {r.params}: ${r.value('cost_per_mtok'):,.4f} per million output tokens (${r.value('cost_per_hour'):,.2f}/h at {r.value('output_throughput'):.4g} tok/s)"
        month = monthly_at_peak(grid, r)
        if month is not None:
            text += f"; ${month:,.0f} a month at the declared peak of {peak:g} req/s"
        lines.append(text)
    return lines


def plot(records: list[TrialRecord], grid: GridSpec, path: Path, latency: str) -> Path | None:
    """$ per million output tokens against latency, one point per succeeded trial with a price."""
    pts = [
        r
        for r in records
        if r.status == "succeeded" and r.value("cost_per_mtok") is not None and r.value(latency) is not None
    ]
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for r in pts:
        x, y = r.measured(latency), r.measured("cost_per_mtok")
        ax.plot([x], [y], "o", color="tab:green" if r.metrics.get("meets_slo") else "tab:gray", alpha=0.8)
        plotting.label(ax, r, x, y)
    return plotting.finish(fig, ax, grid, latency, "$ per million output tokens", "cost vs latency", path)


def extend_rows(
    records: list[TrialRecord], grid: GridSpec, head: list[str], table: list[list[str]], order: list[Any]
) -> None:
    """Add the cost columns (before status) to the report's table, rows given in `order`."""
    if not has_cost(records):
        return
    at = head.index("status")
    head[at:at] = header(grid)
    for row, record in zip(table, order):
        row[at:at] = cells(grid, record)
