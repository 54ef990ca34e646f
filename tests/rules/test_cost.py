"""Cost arithmetic (components/rules/cost.py), numbers worked by hand."""

from __future__ import annotations

import pytest

from components.rules import cost


def test_cost_per_hour_is_instances_times_price():
    assert cost.cost_per_hour(7.09, 2) == pytest.approx(14.18)  # 2 × ml.g5.12xlarge


def test_cost_per_mtok_at_1000_output_tokens_per_second():
    # 1,000 tok/s = 3.6 M tok/h; $14.18/h / 3.6 = $3.9389 per million
    assert cost.cost_per_mtok(14.18, 1000) == pytest.approx(3.938889, abs=1e-6)


def test_cost_per_mtok_is_none_when_nothing_was_produced():
    assert cost.cost_per_mtok(14.18, 0) is None


def test_replicas_for_peak_rounds_up_and_adds_headroom():
    assert cost.replicas_for_peak(20, 4) == 5  # exactly 5, not 6 from float noise
    assert cost.replicas_for_peak(20, 4, headroom=0.2) == 6  # 24 / 4
    assert cost.replicas_for_peak(21, 4) == 6


def test_cost_per_month_at_peak_is_replicas_times_price_times_730_hours():
    # 20 req/s peak, 4 req/s per replica -> 5 replicas × $7.09 × 730 h = $25,878.50
    assert cost.cost_per_month_at_peak(7.09, 4, 20) == pytest.approx(25878.5)


def test_replicas_for_peak_refuses_a_zero_capacity():
    with pytest.raises(ValueError, match="capacity per replica must be above 0, got 0"):
        cost.replicas_for_peak(20, 0)
