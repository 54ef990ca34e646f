"""The Gaussian-process model behind `--strategy gp`, and the strategy's use of it."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning import strategies
from stacks.tuning.replay import load_surface, replay
from stacks.tuning.store import TrialRecord
from stacks.tuning.surrogate import Features, Observation, space_filling, suggest

LINE = np.linspace(0, 1, 21)[:, None]  # 21 candidates on one axis


def peak(x: float) -> float:
    return 100 - 400 * (x - 0.7) ** 2


def observe(xs, slo_from=None):
    """Measured points of `peak`; from `slo_from` on the SLOs are missed, by more the further out."""
    return [
        Observation(np.array([x]), peak(x), (x - slo_from + 0.1) if slo_from is not None and x >= slo_from else -0.5)
        for x in xs
    ]


def test_features_rank_numbers_one_hot_the_rest_and_drop_constants():
    points = [
        {"seqs": s, "engine": e, "tp": 1, "frac": f}
        for s in (64, 8, 16)
        for e in ("vllm", "sglang")
        for f in (0.9, 0.8)
    ]
    features = Features(points)
    assert [c[0] for c in features.columns] == ["engine", "frac", "seqs"]  # tp is the same everywhere
    # engine one-hot (vllm, sglang); frac has two values: categorical; seqs by rank of 8 < 16 < 64.
    assert features.encode({"seqs": 16, "engine": "sglang", "tp": 1, "frac": 0.8}).tolist() == [0.0, 1.0, 0.0, 1.0, 0.5]
    assert features.encode({"seqs": 64, "engine": "vllm", "tp": 1, "frac": 0.9}).tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_space_filling_starts_anywhere_then_goes_to_the_far_side():
    grid = np.array([[x, y] for x in (0, 0.5, 1) for y in (0, 0.5, 1)])
    rng = random.Random(1)
    first = space_filling(grid, np.empty((0, 2)), rng)
    second = space_filling(grid, grid[[first]], rng)
    assert np.abs(grid[first] - grid[second]).sum() == pytest.approx(max(np.abs(grid - grid[first]).sum(axis=1)))
    assert space_filling(grid, grid[[0, 8]], random.Random(0)) in (2, 4, 6)  # (0,1), (1,0) or the centre: 1 from both


def test_suggests_the_peak_the_observations_point_to():
    pick = suggest(observe([0.0, 0.25, 0.5, 1.0]), LINE, np.empty((0, 1)), maximize=True, seed=0)
    assert 0.6 <= LINE[pick, 0] <= 0.85


def test_minimising_looks_for_the_trough():
    observations = [Observation(o.x, -o.objective, o.constraint) for o in observe([0.0, 0.25, 0.5, 1.0])]
    pick = suggest(observations, LINE, np.empty((0, 1)), maximize=False, seed=0)
    assert 0.6 <= LINE[pick, 0] <= 0.85


def test_slo_misses_keep_the_search_out_of_their_region():
    # The objective keeps rising to 0.7, but from 0.6 on the SLOs are missed, more the further out.
    pick = suggest(observe([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], slo_from=0.6), LINE, np.empty((0, 1)), maximize=True, seed=0)
    assert LINE[pick, 0] < 0.6


def test_a_pending_trial_pushes_the_next_proposal_elsewhere():
    observations = observe([0.0, 0.25, 0.5, 1.0])
    alone = suggest(observations, LINE, np.empty((0, 1)), maximize=True, seed=0)
    beside = suggest(observations, LINE, LINE[[alone]], maximize=True, seed=0)
    assert beside != alone


def test_every_trial_crashing_sends_the_next_ones_far_from_the_crashes(tmp_path):
    surface = oom_surface(tmp_path)
    grid = surface.grid.model_copy(update={"strategy": "gp"})
    points = grid_mod.expand(grid)
    strategy = strategies.make("gp", grid, points, {}, strategies.make_study(grid, "c", None))
    crashed = [p for p in points if surface.metrics[p.key] is None][:5]  # past the start, all crashed
    for point in crashed:
        strategy.tell(point, TrialRecord("c", point.key, point.params, "infeasible", error="engine exited with code 1"))
    (after,) = strategy.propose(1, set())
    assert after.params["engineArgs.maxNumSeqs"] <= 16  # the far side of the grid from the big-memory corner
    with pytest.raises(ValueError, match="two measured trials"):
        suggest([Observation(np.array([0.0]), None, 1.0)], LINE, np.empty((0, 1)), maximize=True, seed=0)


def oom_surface(tmp_path):
    """Throughput grows with both knobs, but the KV cache runs out (a crash) once their product is large."""
    points = []
    for seqs in (8, 16, 32, 64, 128, 256):
        for tokens in (512, 1024, 2048, 4096, 8192, 16384):
            crashed = seqs * tokens > 256 * 2048
            metrics = (
                None if crashed else {"output_throughput": 50 * np.log2(seqs) + 10 * np.log2(tokens), "ttft_p90": 0.2}
            )
            points.append(
                {
                    "params": {"engineArgs.maxNumSeqs": seqs, "engineArgs.maxNumBatchedTokens": tokens},
                    "metrics": metrics,
                }
            )
    path = tmp_path / "oom.json"
    path.write_text(
        json.dumps(
            {"instanceType": "g5.xlarge", "objective": "output_throughput", "slo": {"ttft_p90": 1.0}, "points": points}
        )
    )
    return load_surface(path)


def test_a_crash_lowers_the_score_of_its_neighbourhood():
    rising = [Observation(np.array([x]), 100 * x, -0.5) for x in (0.0, 0.25, 0.5)]
    untouched = suggest(rising, LINE, np.empty((0, 1)), maximize=True, seed=0)
    crashed = suggest(rising + [Observation(np.array([1.0]), None, 1.0)], LINE, np.empty((0, 1)), maximize=True, seed=0)
    assert LINE[untouched, 0] > 0.9  # nothing known beyond 0.5: extrapolate the climb
    assert LINE[crashed, 0] < 0.9  # the crash at 1.0 makes its neighbours a poor bet


def test_crashed_trials_are_never_retried_and_the_optimum_beside_them_is_found(tmp_path):
    surface = oom_surface(tmp_path)
    for seed in range(4):
        result = replay(surface, "gp", trials=12, seed=seed)
        crashes = [k for k in result.deployed if surface.metrics[k] is None]
        assert len(set(result.deployed)) == len(result.deployed)
        assert len(crashes) <= len(result.deployed) // 3, (
            f"seed {seed}: {len(crashes)} crashes in {len(result.deployed)} trials"
        )
        assert result.best == surface.optimum()


def test_parallel_proposals_are_distinct_and_skip_what_is_running(tmp_path):
    surface = oom_surface(tmp_path)
    grid = surface.grid.model_copy(update={"strategy": "gp"})
    points = grid_mod.expand(grid)
    strategy = strategies.make("gp", grid, points, {}, strategies.make_study(grid, "p", None))
    for point in strategy.propose(6, set()):  # the space-filling start, then a measured model
        metrics = surface.metrics[point.key]
        agg = {k: {"mean": v, "values": [v]} for k, v in (metrics or {}).items()}
        strategy.tell(
            point, TrialRecord("p", point.key, point.params, "succeeded" if metrics else "infeasible", metrics=agg)
        )
    running = {p.key for p in points[:3]}
    batch = strategy.propose(4, running)
    keys = [p.key for p in batch]
    assert len(batch) == 4 and len(set(keys)) == 4
    assert not set(keys) & (running | set(strategy.known))


def test_gp_models_an_explicit_points_list_too():
    listed = [
        {"engineArgs.maxNumSeqs": s, "engineArgs.maxNumBatchedTokens": t}
        for s, t in ((8, 512), (16, 512), (16, 2048), (64, 1024), (128, 4096), (256, 8192))
    ]
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "listed",
            "base": {
                "name": "ep",
                "model": "org/m",
                "engine": "vllm",
                "instanceType": "ml.g5.12xlarge",
                "modelSource": {"type": "s3", "bucket": "models"},
            },
            "points": listed,
            "strategy": "gp",
        }
    )
    points = grid_mod.expand(grid)
    strategy = strategies.make("gp", grid, points, {}, strategies.make_study(grid, "listed", None))
    seen = []
    while batch := strategy.propose(1, set()):
        (point,) = batch
        seen.append(point.params)
        value = point.params["engineArgs.maxNumSeqs"] * 1.0
        strategy.tell(
            point,
            TrialRecord(
                "listed",
                point.key,
                point.params,
                "succeeded",
                metrics={"output_throughput": {"mean": value, "values": [value]}},
            ),
        )
    order = lambda p: (p["engineArgs.maxNumSeqs"], p["engineArgs.maxNumBatchedTokens"])  # noqa: E731
    assert sorted(seen, key=order) == sorted(listed, key=order)  # every listed point once, nothing else


@pytest.mark.parametrize(
    ("status", "ttft", "slo", "margin", "optuna_constraint"),
    [
        ("succeeded", 0.5, {"ttft_p90": 1.0}, -0.5, 0.0),  # half the bound: well inside
        ("succeeded", 3.0, {"ttft_p90": 1.0}, 1.0, 2.0),  # 200 % over: the model's scale stops at 1
        ("succeeded", 0.5, {}, -1.0, 0.0),  # no SLOs: every measured trial is inside
        ("infeasible", None, {"ttft_p90": 1.0}, 1.0, 1.0),  # crashed: as far outside as it gets
        ("succeeded", None, {"ttft_p90": 1.0}, 1.0, 1.0),  # the SLO's metric was never measured
    ],
)
def test_slo_margin_and_optuna_constraint_read_the_same_excess(status, ttft, slo, margin, optuna_constraint):
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "m",
            "base": {
                "name": "ep",
                "model": "org/m",
                "engine": "vllm",
                "instanceType": "ml.g5.12xlarge",
                "modelSource": {"type": "s3", "bucket": "b"},
            },
            "parameters": {"engineArgs.maxNumSeqs": [8, 16]},
            "slo": slo,
        }
    )
    metrics = {"output_throughput": {"mean": 100.0, "values": [100.0]}} | (
        {"ttft_p90": {"mean": ttft, "values": [ttft]}} if ttft is not None else {}
    )
    record = TrialRecord("m", "k", {"engineArgs.maxNumSeqs": 8}, status, metrics=metrics)
    assert strategies.slo_margin(record, grid) == pytest.approx(margin)
    assert strategies.constraint(record, grid) == pytest.approx(optuna_constraint)


def test_a_grid_with_nothing_varying_is_proposed_as_is():
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "one",
            "base": {
                "name": "ep",
                "model": "org/m",
                "engine": "vllm",
                "instanceType": "g5.xlarge",
                "modelSource": {"type": "s3", "bucket": "models"},
            },
            "parameters": {"engineArgs.maxNumSeqs": [8]},
            "strategy": "gp",
        }
    )
    points = grid_mod.expand(grid)
    strategy = strategies.make("gp", grid, points, {}, strategies.make_study(grid, "one", None))
    assert [p.params for p in strategy.propose(2, set())] == [{"engineArgs.maxNumSeqs": 8}]
    assert strategy.propose(2, {points[0].key}) == []
