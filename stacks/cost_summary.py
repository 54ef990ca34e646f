"""The offline plan's cost lines: what the stack's instances cost per hour and per month at the on-demand
prices of `stacks/prices/<region>.json`, each price's source kind, and the instance types it has no price
for. Counting and arithmetic are `components/rules/cost.py`; this module only reads the snapshot and words it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from components.rules import cost, hyperpod_fields

from .prices import snapshot

# What the total leaves out, so nobody reads it as the whole bill.
NOT_COUNTED = "not counted: the EKS control plane, NAT gateways, load balancers, volumes, ElastiCache"


def bill(
    cfg: Any, directory: Path | None = None, today: dt.date | None = None
) -> tuple[cost.StackBill, snapshot.Snapshot]:
    """The stack's bill at the snapshot's prices; SnapshotError when the region has no usable snapshot."""
    snap = snapshot.load(cfg.region, directory, today)
    running = cost.running_instances(cfg.cluster, cfg.endpoints, cfg.platform_stack)

    def price_of(service: str, instance_type: str) -> float | None:
        price = snap.price(service, instance_type)
        return price.usd_per_hour if price else None

    return cost.bill(running, price_of), snap


def money(value: float) -> str:
    return f"${value:,.2f}"


def unit_price(value: float) -> str:
    """An instance's price as the source gives it: $10.49264, $0.192 (no rounding to cents)."""
    return "$" + f"{value:.6f}".rstrip("0").rstrip(".")


def lines(cfg: Any, directory: Path | None = None, today: dt.date | None = None) -> list[str]:
    """Two to four lines for the plan (one when there is nothing to price or no snapshot)."""
    if cfg.platform_stack:
        return [
            f"Cost: this stack creates no instances; its endpoints run on the nodes of platform stack {cfg.platform_stack} (its plan shows their cost)"
        ]
    try:
        stack_bill, snap = bill(cfg, directory, today)
    except snapshot.SnapshotError as exc:
        return [f"Cost: not computed: {exc}"]
    if not stack_bill.lines:
        return ["Cost: this stack runs no instances"]
    where = snapshot.shown(snapshot.path_for(cfg.region, directory))
    items = []
    for line in stack_bill.priced:
        price = snap.price(line.service, line.instance_type)
        assert price is not None and line.usd_per_hour is not None  # a priced line's price is in the snapshot
        items.append(
            f"{line.count} x {line.instance_type} ({line.service}) at {unit_price(line.usd_per_hour)}/h [{price.source.kind}]"
        )
    out = [
        f"Cost at on-demand prices ({where}, {snap.date.isoformat()}): "
        + (" + ".join(items) if items else "no instance type of this stack has a price")
    ]
    scope = " for the priced instances" if stack_bill.unpriced else ""
    discounted = sorted({b for line in stack_bill.lines for b in line.billing if b != "on-demand"})
    extra = f"; {', '.join(discounted)} capacity shown at the on-demand price" if discounted else ""
    out.append(
        f"  = {money(stack_bill.per_hour)} per hour, {money(stack_bill.per_month)} per month ({cost.HOURS_PER_MONTH:g} h){scope}; {NOT_COUNTED}{extra}"
    )
    out += spread_lines(cfg, snap)
    if stack_bill.unpriced:
        missing = ", ".join(f"{line.count} x {line.instance_type} ({line.service})" for line in stack_bill.unpriced)
        out.append(
            f"  no price in {where} for {missing}: left out of the total (`python -m stacks prices show --region {cfg.region}` says why). Fix: `python -m stacks prices refresh --region {cfg.region}`"
        )
    return out


def spread_lines(cfg: Any, snap: Any) -> list[str]:
    """One line per endpoint with `instanceTypes`: the total prices its first type; the operator may fall back to
    another, so the line names the cheapest and dearest of the list (one instance, per hour)."""
    service = "sagemaker-hyperpod"
    out = []
    for i, ep in enumerate(cfg.endpoints):

        def price_of(t: str) -> float | None:
            price = snap.price(service, cost.priced_name(service, t))
            return price.usd_per_hour if price else None

        found = hyperpod_fields.spread(ep, price_of)
        if found is None:
            continue
        known = [(cost.priced_name(service, t), usd) for t, usd in found if usd is not None]
        unpriced = [cost.priced_name(service, t) for t, usd in found if usd is None]
        head = f"  endpoints[{i}] hyperpod.instanceTypes: priced at the first, {cost.priced_name(service, ep.instance_type)}"
        span = (
            f"; the list spans {unit_price(known[0][1])}/h ({known[0][0]}) to {unit_price(known[-1][1])}/h ({known[-1][0]}) per instance"
            if known
            else ""
        )
        none = f"; no price for {', '.join(unpriced)}" if unpriced else ""
        out.append(head + span + none)
    return out
