"""`--target local` end to end: an engine process (the stand-in engine, `local.engine: stand-in`) per trial,
the real load generator, SQLite, the report. The best point is known by construction (stand_in.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import yaml

from stacks.tuning import grid as grid_mod
from stacks.tuning import report
from stacks.tuning.driver import Driver
from stacks.tuning.local import LocalEngineDeployer
from stacks.tuning.store import TrialStore

HERE = Path(__file__).resolve().parent
GRID = HERE.parents[1] / "stacks" / "grids" / "fake-engine-test.yaml"


def fake_grid(tmp_path: Path, **updates):
    grid = grid_mod.load(GRID)
    # The model dir is this test's tmp_path: it marks this test's engines among all processes.
    local = grid.local.model_copy(update={"model_dir": str(tmp_path)})
    return grid.model_copy(update={"local": local, **updates})


def engines_alive(marker: Path) -> list[str]:
    """This test's stand-in engines still running (script path and tmp_path in their command line)."""
    alive = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"stand_in.py" in cmdline and str(marker).encode() in cmdline:
                alive.append(pid + ": " + cmdline.replace(bytes(1), b" ").decode(errors="replace"))
    return alive


def test_local_target_ranks_the_known_best_point_first_and_leaves_no_process(tmp_path):
    grid = fake_grid(tmp_path)
    store = TrialStore(tmp_path / "runs.db")
    summary = Driver(grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs")).run()
    by_seqs = {r.params["engineArgs.maxNumSeqs"]: r for r in summary.records}
    assert by_seqs[128].status == "infeasible"  # the stand-in "runs out of memory" above 64
    assert "out of memory" in by_seqs[128].error.splitlines()[0]  # the engine's last words, in the one-line summary
    assert [by_seqs[n].status for n in (1, 2, 8)] == ["succeeded"] * 3
    throughput = {n: by_seqs[n].value("output_throughput") for n in (1, 2, 8)}
    assert throughput[8] > throughput[2] > throughput[1]
    assert all(len(by_seqs[n].metrics["output_throughput"]["values"]) == 2 for n in (1, 2, 8))  # repeats
    # The stand-in's /metrics, scraped under load: its one slot is always taken at concurrency 8.
    assert by_seqs[1].value("kv_cache_usage_max") == 1.0
    written = report.write(store, tmp_path / "report")
    assert written["verdict"].best.params == {"engineArgs.maxNumSeqs": 8}
    assert written["verdict"].decisive
    assert "maxNumSeqs: 8" in written["snippet"].read_text()
    assert written["plot"].exists() and written["report"].exists()
    assert Path(by_seqs[8].log_path).read_text().startswith("$ ")
    assert engines_alive(tmp_path) == []


def test_rerun_resumes_without_repeating_finished_trials(tmp_path):
    grid = fake_grid(tmp_path, parameters={"engineArgs.maxNumSeqs": [1, 2]}, repeats=1)
    store = TrialStore(tmp_path / "runs.db")
    first = Driver(grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs")).run()
    assert first.ran == 2
    second = Driver(grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs")).run()
    assert (second.ran, second.skipped) == (0, 2)


def test_stop_during_a_trial_tears_the_engine_down(tmp_path):
    grid = fake_grid(tmp_path, parameters={"engineArgs.maxNumSeqs": [1]}, repeats=1)
    grid = grid.model_copy(
        update={
            "benchmark": grid.benchmark.model_copy(
                update={"maxRequests": 10_000, "max_requests": 10_000, "max_seconds": 60}
            )
        }
    )
    stop = threading.Event()
    deployer = LocalEngineDeployer(grid.local, tmp_path / "logs")

    class StopInBenchmark:
        def phase(self, point, phase):
            if phase == "benchmark":
                threading.Timer(1.0, stop.set).start()

        def planned(self, *a):
            pass

        def finished(self, *a):
            pass

    summary = Driver(grid, TrialStore(tmp_path / "runs.db"), deployer, reporter=StopInBenchmark(), stop=stop).run()
    assert summary.interrupted
    (record,) = summary.records
    assert record.status == "interrupted" and record.stack is None
    assert engines_alive(tmp_path) == []


@pytest.mark.parametrize("strategy", ["grid", "gp"])
def test_cli_tune_and_report(tmp_path, strategy):
    from stacks.__main__ import main

    grid_file = tmp_path / "grid.yaml"
    text = GRID.read_text().replace("[1, 2, 8, 128]", "[2, 128]").replace("repeats: 2", "repeats: 1")
    grid_file.write_text(text)
    code = main(["tune", str(grid_file), "--target", "local", "--strategy", strategy, "--db", str(tmp_path / "t.db")])
    assert code == 0
    assert (tmp_path / "t-report" / "report.md").exists()
    assert main(["report", "--db", str(tmp_path / "t.db"), "--out", str(tmp_path / "r2")]) == 0
    assert main(["report", "--db", str(tmp_path / "missing.db")]) == 2


def test_dry_run_lists_pruned_points_with_rule_ids_and_plans_the_rest(capsys):
    from stacks.__main__ import main

    seed_grid = GRID.parent / "seed-incidents.yaml"
    assert main(["tune", str(seed_grid), "--dry-run"]) == 0
    out = capsys.readouterr().out
    # S2 prunes the 5 keyed public-ALB points that passed the other rules (trial stacks are not dev
    # stacks), and G21 the SGLang point behind the router.
    assert "grid: 64 point(s), 55 pruned by the rule library, 9 to try" in out
    for rule in ("[G8]", "[G10]", "[G11]", "[G21]", "[S2]"):  # KV cache with SGLang moved from G7 to G21
        assert rule in out
    # One line per cause, with how many points it prunes: 32 points have tensorParallelSize 4 on a 1-GPU instance.
    assert (
        "\n  32 point(s): base.engineArgs.tensorParallelSize = 4: [G11] g5.8xlarge has 1 GPU(s); tensor-parallel size cannot exceed it. Fix: "
        in out
    )
    assert out.count("[G11]") == 1 and "pruned engine=" not in out and ": passed (" not in out
    assert "plans: 9 passed, 0 failed (--verbose lists each)" in out and "dry run: nothing was deployed" in out
    assert len(out.splitlines()) == 10  # count, 6 causes (G8, G10, G11, two of G21, S2), plans, dry run, rules footer
    assert out.splitlines()[-1] == "Rules: docs/guardrails.md#<id> for each rule above (G8, G10, G11, S2, G21)"


def test_dry_run_verbose_lists_each_pruned_point_and_each_plan(capsys):
    from stacks.__main__ import main

    assert main(["tune", str(GRID.parent / "seed-incidents.yaml"), "--dry-run", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert out.count("[G11]") == 1 + 32 and out.count(": passed (") == 9
    assert (
        "pruned engine=sglang, limitMmPerPrompt=None, tensorParallelSize=1, intelligentRouting=True, l1=False, publicAlb=False: base.hyperpod.intelligentRouting = True: [G21]"
        in out
    )


def test_bad_grid_file_is_one_line_per_problem(tmp_path, capsys):
    from stacks.__main__ import main

    bad = tmp_path / "g.yaml"
    bad.write_text("name: g\nbase: {}\nparameters: {x: [1]}\nobjective: {metric: speed}\n")
    assert main(["tune", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "objective.metric = " in out and "[CONFIG]" in out and "Traceback" not in out


def test_pulumi_target_without_the_cli_says_so(tmp_path, capsys, monkeypatch):
    from stacks.__main__ import main

    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["tune", str(GRID.parent / "qwen3-4b-g5.yaml"), "--db", str(tmp_path / "x.db")]) == 2
    assert "needs the pulumi CLI" in capsys.readouterr().out


def _pulumi_project(tmp_path: Path, cluster: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: llm-serving\nruntime: python\n")
    (project / "Pulumi.base.yaml").write_text(f"config:\n  aws:region: us-east-1\n  llm-serving:cluster: {cluster}\n")
    return project


def test_pruning_applies_the_backend_rules_of_the_base_stacks_cluster(tmp_path, capsys):
    from stacks.__main__ import main

    project = _pulumi_project(
        tmp_path, "{mode: eks, name: plain-eks, gpuNodeGroups: [{name: g5, instanceType: g5.xlarge}]}"
    )
    grid = {
        "name": "b",
        "target": "pulumi",
        "base": {
            "name": "ep",
            "model": "org/m",
            "engine": "vllm",
            "instanceType": "ml.g5.xlarge",
            "modelSource": {"type": "s3", "bucket": "models"},
        },
        "parameters": {"intelligentRouting": [True, False]},
        "pulumi": {"projectDir": str(project), "baseStack": "base"},
    }
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(grid))
    assert main(["tune", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    # Plain EKS has no HyperPod router: that point is pruned before anything deploys.
    assert "grid: 2 point(s), 1 pruned" in out
    assert "  1 point(s): base.hyperpod.intelligentRouting = True: [BACKEND]" in out
    assert "plans: 1 passed, 0 failed" in out and "Traceback" not in out


def test_pulumi_target_needs_a_base_stack_except_for_a_dry_run(tmp_path, capsys, monkeypatch):
    from stacks.__main__ import main

    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/pulumi")
    seed_grid = GRID.parent / "seed-incidents.yaml"
    assert main(["tune", str(seed_grid), "--db", str(tmp_path / "x.db")]) == 2
    assert "pulumi.baseStack = None" in capsys.readouterr().out
    assert not (tmp_path / "x.db").exists()
