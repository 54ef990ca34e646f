"""No module of stacks/ or benchmarks/ grows past 24 KB: past that a file holds more than one concern (the tuning
grid was 29 KB of schema, checks and expansion; it is now stacks/tuning/grid_spec.py, grid_checks.py, grid_points.py
and grid.py). Split by concern, not by line count."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 24 * 1024


def test_no_module_of_stacks_or_benchmarks_is_over_24_kb():
    big = {str(p.relative_to(ROOT)): p.stat().st_size for folder in ("stacks", "benchmarks") for p in (ROOT / folder).rglob("*.py")
           if p.stat().st_size > MAX_BYTES}
    assert big == {}, f"split these by concern: {big}"
