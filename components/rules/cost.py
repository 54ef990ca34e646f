"""Cost arithmetic: pure functions shared by tuning reports, capacity files and the capacity rule.

Prices are on-demand dollars per instance-hour (see `stacks/prices/` for where they come from).
"""

from __future__ import annotations

import math
from typing import Optional

# AWS pricing pages quote monthly figures at 730 hours (365 × 24 / 12).
HOURS_PER_MONTH = 730.0
SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MILLION = 1_000_000.0


def cost_per_hour(price_per_instance_hour: float, instances: int) -> float:
    """`instances` × the hourly price: 2 × $7.09 = $14.18 per hour."""
    if price_per_instance_hour < 0 or instances < 0:
        raise ValueError(f"price {price_per_instance_hour} and instance count {instances} must not be negative")
    return price_per_instance_hour * instances


def cost_per_mtok(dollars_per_hour: float, output_tokens_per_second: float) -> Optional[float]:
    """Dollars per million output tokens at a measured throughput: $/h ÷ (Mtok per hour).
    $14.18/h at 1,000 tok/s = 14.18 / 3.6 = $3.9389 per million. None when nothing was produced."""
    if output_tokens_per_second <= 0 or math.isnan(output_tokens_per_second):
        return None
    return dollars_per_hour / (output_tokens_per_second * SECONDS_PER_HOUR / TOKENS_PER_MILLION)


def replicas_for_peak(peak_requests_per_second: float, capacity_per_replica: float, headroom: float = 0.0) -> int:
    """Replicas whose measured capacity covers the peak with headroom: ceil(peak × (1 + headroom) / capacity)."""
    if capacity_per_replica <= 0:
        raise ValueError(f"capacity per replica must be above 0, got {capacity_per_replica}")
    if peak_requests_per_second < 0 or headroom < 0:
        raise ValueError(f"peak {peak_requests_per_second} and headroom {headroom} must not be negative")
    # 1e-9: 20 / 4 must stay 5 when floating point makes it 5.000000000000001
    return max(1, math.ceil(peak_requests_per_second * (1 + headroom) / capacity_per_replica - 1e-9))


def cost_per_month_at_peak(
    dollars_per_replica_hour: float, capacity_per_replica: float, peak_requests_per_second: float, headroom: float = 0.0, hours: float = HOURS_PER_MONTH
) -> float:
    """What serving the declared peak around the clock costs a month: replicas needed × $/h × 730 h."""
    return replicas_for_peak(peak_requests_per_second, capacity_per_replica, headroom) * dollars_per_replica_hour * hours
