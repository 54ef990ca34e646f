"""`python -m stacks prices show [--region R]`: what a price snapshot holds, price by price with its source
and dates, then the instance types it has no price for and why. Without --region: every snapshot in
stacks/prices/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .snapshot import PRICES_DIR, Snapshot, SnapshotError, load, path_for, shown


def source_date(price: Any) -> str:
    """When the source's number was produced (generated, last changed, effective), else `-`."""
    src = price.source
    return (src.published or src.effective_date or "-")[:10]


def render(snap: Snapshot, path: Path) -> list[str]:
    sources: list[Any] = []
    for price in snap.prices:
        if price.source not in sources:
            sources.append(price.source)
    out = [
        f"{shown(path)}: written {snap.date.isoformat()}, on-demand {snap.currency} per instance-hour, {len(snap.prices)} price(s), {len(snap.gaps)} gap(s)"
    ]
    out.append(f"  {'service':<19} {'type':<17} {'$/h':>10}  source  {'source date':<11}  taken")
    for price in snap.prices:
        rate = f"{price.usd_per_hour:.6f}".rstrip("0").rstrip(".")
        out.append(
            f"  {price.service:<19} {price.instance_type:<17} {rate:>10}  [{sources.index(price.source) + 1}]     {source_date(price):<11}  {price.taken.isoformat()}"
        )
    if sources:
        out.append("  sources:")
        out += [
            f"  [{i}] {src.kind} {src.where()}" + (f": {src.note}" if src.note else "")
            for i, src in enumerate(sources, 1)
        ]
    if snap.gaps:
        out.append("  gaps (no price):")
        out += [f"  {gap.service} {gap.instance_type}: {gap.reason}" for gap in snap.gaps]
    return out


def main(region: str | None, console: Any, directory: Path | None = None, today: dt.date | None = None) -> int:
    from ..literal import labelled, plain

    folder = directory or PRICES_DIR
    regions = [region] if region else sorted(p.stem for p in folder.glob("*.json"))
    if not regions:
        console.print(
            labelled(
                "error",
                "red",
                f"no price snapshot in {folder}. Fix: run `python -m stacks prices refresh --region us-east-1`",
            ),
            soft_wrap=True,
        )
        return 1
    code = 0
    for name in regions:
        try:
            snap = load(name, directory, today)
        except SnapshotError as exc:
            console.print(labelled("error", "red", exc), soft_wrap=True)
            code = 1
            continue
        for line in render(snap, path_for(name, directory)):
            console.print(plain(line), soft_wrap=True)
    return code
