"""The driver against a double of the Automation API interface (StackRunner): failures, fail-fast
(G15), timeouts, crash and resume, Ctrl-C. Nothing here needs the pulumi CLI."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from components.rules.backends.state import classify
from stacks.tuning import grid as grid_mod
from stacks.tuning import report
from stacks.tuning.driver import Driver
from stacks.tuning.pulumi_target import PulumiDeployer, trial_config
from stacks.tuning.store import TrialStore
from tests.tuning.doubles import BlockingMeasurer, FakeStackRunner, SurfaceMeasurer

BASE = {
    "name": "tune-qwen",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-4b/"},
}


def make_grid(params=None, **extra) -> grid_mod.GridSpec:
    return grid_mod.GridSpec.model_validate(
        {
            "name": "g",
            "target": "pulumi",
            "base": BASE,
            "parameters": params or {"engineArgs.maxNumSeqs": [8, 16, 32, 64]},
            "slo": {"ttft_p90": 1.0},
            "pulumi": {"readyTimeout": 5},
            **extra,
        }
    )


def throughput_surface(params):
    seqs = params.get("engineArgs.maxNumSeqs", 8)
    return {"output_throughput": 100.0 * seqs, "ttft_p90": 0.1 * seqs / 8}


def make_driver(tmp_path: Path, grid, runner, measurer=None, stop=None):
    deployer = PulumiDeployer(grid.pulumi, runner, tmp_path / "logs", "g", poll_interval=0.01)
    spec_of = {}
    original_start = deployer.start

    def start(key, spec):
        handle = original_start(key, spec)
        spec_of[handle.stack] = spec
        return handle

    deployer.start = start
    measurer = measurer or SurfaceMeasurer(
        throughput_surface, lambda ep: {"engineArgs.maxNumSeqs": _seqs(spec_of, ep)}, grid.slo
    )
    return Driver(grid, TrialStore(tmp_path / "t.db"), deployer, measurer, stop=stop)


def _seqs(spec_of, endpoint):
    stack = endpoint.base_url.split("alb-")[1].split(".example")[0]
    return spec_of[stack].engine_args.max_num_seqs


def statuses(summary):
    return {r.params["engineArgs.maxNumSeqs"]: r.status for r in summary.records}


def test_every_trial_deployed_measured_and_destroyed(tmp_path):
    runner = FakeStackRunner()
    grid = make_grid(slo={"ttft_p90": 0.5})  # 64 sequences: TTFT p90 0.8 s, over the SLO
    summary = make_driver(tmp_path, grid, runner).run()
    assert statuses(summary) == {8: "succeeded", 16: "succeeded", 32: "succeeded", 64: "succeeded"}
    assert sorted(runner.destroys) == sorted(runner.ups) and runner.live == set()
    recorded = {
        r.params["engineArgs.maxNumSeqs"]: (r.value("output_throughput"), r.value("ttft_p90"), r.metrics["meets_slo"])
        for r in summary.records
    }
    assert recorded == {
        8: (800.0, 0.1, True),
        16: (1600.0, 0.2, True),
        32: (3200.0, 0.4, True),
        64: (6400.0, 0.8, False),
    }
    # The highest throughput misses the SLO: the best trial is 32 sequences, not 64.
    assert [r.params for r in report.ranked(summary.records, grid)] == [
        {"engineArgs.maxNumSeqs": n} for n in (32, 16, 8)
    ]


def test_a_failed_up_is_recorded_and_its_stack_destroyed(tmp_path):
    runner = FakeStackRunner(fail_up={"g-"})
    grid = make_grid({"engineArgs.maxNumSeqs": [8]})
    summary = make_driver(tmp_path, grid, runner).run()
    (record,) = summary.records
    assert record.status == "failed" and "admission webhook denied" in record.error
    assert runner.destroys == runner.ups and runner.live == set()


def test_g15_failed_endpoint_state_fails_fast_well_before_the_deadline(tmp_path):
    runner = FakeStackRunner(failed_state={"g-"})
    grid = make_grid({"engineArgs.maxNumSeqs": [8]}, pulumi={"readyTimeout": 600})
    started = time.monotonic()
    summary = make_driver(tmp_path, grid, runner).run()
    (record,) = summary.records
    assert record.status == "infeasible" and "DeploymentFailed" in record.error
    assert time.monotonic() - started < 10  # not the 600 s deadline
    assert runner.live == set()


def test_g15_endpoint_never_ready_stops_at_the_deadline(tmp_path):
    runner = FakeStackRunner(never_ready={"g-"})
    grid = make_grid({"engineArgs.maxNumSeqs": [8]}, pulumi={"readyTimeout": 0.3})
    (record,) = make_driver(tmp_path, grid, runner).run().records
    assert record.status == "failed" and "ReadyTimeout" in record.error
    assert runner.live == set()


def test_a_benchmark_that_times_out_is_a_failed_trial_and_the_run_goes_on(tmp_path):
    runner = FakeStackRunner()
    grid = make_grid({"engineArgs.maxNumSeqs": [8, 16]})
    measurer = SurfaceMeasurer(
        lambda p: None if p["engineArgs.maxNumSeqs"] == 8 else throughput_surface(p),
        lambda ep: {"engineArgs.maxNumSeqs": 8 if "alb-" in ep.base_url and measurer.calls == 1 else 16},
    )
    summary = make_driver(tmp_path, grid, runner, measurer).run()
    assert sorted(statuses(summary).values()) == ["failed", "succeeded"]
    failed = next(r for r in summary.records if r.status == "failed")
    assert "every request failed" in failed.error
    assert runner.live == set()


def test_crash_mid_run_then_resume_repeats_nothing_and_leaves_no_stack(tmp_path):
    """The results file is snapshotted while the third trial is benchmarking: exactly what a killed
    driver leaves behind (that trial 'running', its stack live). Resuming from the snapshot must tear
    the stack down, skip the two finished trials and run only the crashed and the untried points."""
    import shutil

    runner = FakeStackRunner()
    grid = make_grid()
    driver = make_driver(tmp_path, grid, runner)
    original = driver.measurer.measure
    crash = {}

    def snapshot_on_third(endpoint, stop):
        if driver.measurer.calls == 2 and not crash:
            shutil.copy(tmp_path / "t.db", tmp_path / "crashed.db")
            crash["live"] = set(runner.live)
        return original(endpoint, stop)

    driver.measurer.measure = snapshot_on_third
    driver.run()
    assert len(crash["live"]) == 1

    (tmp_path / "resume").mkdir()
    shutil.copy(tmp_path / "crashed.db", tmp_path / "resume" / "t.db")
    runner.live = set(crash["live"])
    ups_before = len(runner.ups)
    resumed = make_driver(tmp_path / "resume", grid, runner).run()
    assert runner.live == set()
    assert crash["live"] <= set(runner.destroys[-3:])  # the crashed trial's stack, destroyed by name
    assert (resumed.skipped, resumed.ran) == (2, 2)
    assert len(runner.ups) - ups_before == 2
    assert set(statuses(resumed).values()) == {"succeeded"}


def test_ctrl_c_during_a_trial_tears_it_down(tmp_path):
    runner = FakeStackRunner()
    stop = threading.Event()
    measurer = BlockingMeasurer()
    driver = make_driver(tmp_path, make_grid({"engineArgs.maxNumSeqs": [8, 16]}), runner, measurer, stop)
    threading.Thread(target=lambda: (measurer.entered.wait(10), stop.set())).start()
    summary = driver.run()
    assert summary.interrupted and summary.ran == 1
    (record,) = [r for r in summary.records if r.status != "running"]
    assert record.status == "interrupted"
    assert runner.live == set() and len(runner.ups) == 1  # no new trial after the stop


def test_keyboard_interrupt_in_the_main_thread_still_tears_down(tmp_path, monkeypatch):
    runner = FakeStackRunner()
    measurer = BlockingMeasurer()
    driver = make_driver(tmp_path, make_grid({"engineArgs.maxNumSeqs": [8]}), runner, measurer)
    import stacks.tuning.driver as driver_mod

    real_wait = driver_mod.wait

    def wait_then_ctrl_c(fs, timeout=None, return_when=None):
        if measurer.entered.is_set():
            raise KeyboardInterrupt
        return real_wait(fs, timeout=timeout, return_when=return_when)

    monkeypatch.setattr(driver_mod, "wait", wait_then_ctrl_c)
    summary = driver.run()
    assert summary.interrupted
    assert runner.live == set()


def test_pruned_points_are_listed_with_their_rule_and_never_deployed(tmp_path):
    runner = FakeStackRunner()
    grid = make_grid({"engineArgs.tensorParallelSize": [1, 8], "engine": ["vllm", "sglang"], "kvCache.l1": [True]})
    summary = make_driver(tmp_path, grid, runner).run()
    pruned = [r for r in summary.records if r.status == "pruned"]
    assert {(r.params["engine"], r.params["engineArgs.tensorParallelSize"]) for r in pruned} == {
        ("vllm", 8),
        ("sglang", 1),
        ("sglang", 8),
    }
    assert all("[G" in r.error for r in pruned)
    assert len(runner.ups) == 1


def test_trial_budget_is_respected(tmp_path):
    runner = FakeStackRunner()
    summary = make_driver(tmp_path, make_grid(budget={"trials": 2}), runner).run()
    assert summary.ran == 2 and len(runner.ups) == 2


def test_parallel_trials_each_get_their_own_stack(tmp_path):
    runner = FakeStackRunner()
    summary = make_driver(tmp_path, make_grid(parallel=3), runner).run()
    assert summary.ran == 4 and len(set(runner.ups)) == 4 and runner.live == set()


def test_trial_config_replaces_endpoints_and_keeps_the_base(make_endpoint):
    base = {
        "aws:region": "us-east-1",
        "llm-serving:cluster": {"mode": "existing", "name": "c"},
        "llm-serving:endpoints": [{"name": "x"}],
    }
    config = trial_config(base, make_endpoint(name="t1"), {"llm-serving:extra": 1}, "llm-serving")
    assert config["llm-serving:cluster"] == {"mode": "existing", "name": "c"}
    assert [e["name"] for e in config["llm-serving:endpoints"]] == ["t1"]
    assert config["llm-serving:extra"] == 1


@pytest.mark.parametrize(
    "state,expected",
    [
        ("DeploymentComplete", "ready"),
        ("DeploymentFailed", "failed"),
        ("DeploymentInProgress", "pending"),
        (None, "pending"),
    ],
)
def test_g15_states_of_the_inference_endpoint_config(state, expected):
    assert classify(state)[0] == expected


def _project_with_base_stack(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: llm-serving\nruntime: python\n")
    (project / "Pulumi.platform.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  llm-serving:cluster: {mode: eks, name: tune}\n"
        "  llm-serving:endpoints: [{name: leftover, model: a/b, engine: vllm, instanceType: ml.g5.xlarge, modelSource: {type: s3, bucket: b}}]\n"
    )
    return project


def test_base_stack_is_brought_up_once_and_every_trial_references_it(tmp_path):
    runner = FakeStackRunner()
    project = _project_with_base_stack(tmp_path)
    grid = make_grid(parallel=2, pulumi={"readyTimeout": 5, "baseStack": "platform", "projectDir": str(project)})
    summary = make_driver(tmp_path, grid, runner).run()
    assert summary.ran == 4
    assert runner.ups.count("platform") == 1 and runner.ups[0] == "platform"
    assert "llm-serving:endpoints" not in runner.configs["platform"]  # the base declares no endpoint
    trials = [s for s in runner.ups if s != "platform"]
    assert len(trials) == 4
    assert all(runner.configs[s]["llm-serving:platformStack"] == "platform" for s in trials)
    assert "platform" not in runner.destroys  # trials come and go; the platform stays


def test_trial_reads_its_api_key_from_the_apikeys_output(tmp_path):
    runner = FakeStackRunner()
    grid = make_grid(params={"engineArgs.maxNumSeqs": [8]}, base={**BASE, "apiKey": True, "intelligentRouting": True})
    seen = []
    driver = make_driver(tmp_path, grid, runner)
    measurer = driver.measurer
    original = measurer.measure

    def measure(endpoint, stop):
        seen.append(endpoint.api_key)
        return original(endpoint, stop)

    measurer.measure = measure
    driver.run()
    assert seen and seen[0].startswith("key-for-")
