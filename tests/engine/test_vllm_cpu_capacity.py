"""Capacity end to end on this machine (docs/tuning.md "From a capacity to a checked deployment"): a vLLM-CPU
run with a capacity search exports a capacity file; a stack declaring a peak above it fails the plan with C1
and the replicas needed; with that many replicas it passes and its autoscaling target is derived from it.
One engine start (`--enforce-eager`) and a short search keep it near a minute; `make test` sets
LLM_SERVING_REQUIRE_ENGINE=1, so there a missing engine fails instead of skipping."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from stacks import plan as plan_cmd
from stacks.__main__ import main as stacks_main
from tests.engine.test_vllm_cpu_tuning import ROOT, _engine_or_skip, _engine_processes

pytestmark = pytest.mark.engine

SCENARIO = "D(64,16)"
SLO_TTFT = 5.0


def _grid_file(tmp_path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "stacks" / "grids" / "tiny-cpu.yaml").read_text())
    doc.update(
        name="capacity-e2e", repeats=1, budget={}, slo={"ttft_p90": SLO_TTFT}, points=[{"engineArgs.maxNumSeqs": 4}]
    )
    doc.pop("parameters")
    # Concurrency 2 then 4 (the maximum), a bisection step only below it: two short probes and one measurement.
    doc["capacitySearch"] = {"enabled": True, "by": "concurrency", "start": 2, "max": 4, "steps": 1}
    doc["benchmark"].update({"scenario": SCENARIO, "maxRequests": 6, "maxSeconds": 10, "warmup": 1, "timeout": 30})
    doc["local"]["env"]["LLM_SERVING_TEST_MARKER"] = str(tmp_path)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


STACK = """
config:
  aws:region: us-east-1
  llm-serving:cluster: {{mode: hyperpod, name: ml-cap, publicAccessCidrs: ["34.201.17.8/32"]}}
  llm-serving:endpoints:
    - name: tiny-llama
      model: local/tiny-llama
      engine: vllm
      instanceType: ml.g5.xlarge
      modelSource: {{type: s3, bucket: my-models, path: tiny/}}
      engineArgs: {{maxModelLen: 2048, dtype: bfloat16, maxNumSeqs: 4}}
      load: {{peakRequestsPerSecond: {peak}, workload: "{workload}"}}
      slo: {{ttftP90: {ttft}}}
      capacity: capacity/{file}
      autoscaling: {{minReplicas: 1, maxReplicas: {max}, target: fromCapacity, utilization: 0.7}}
"""


def _plan(project: Path, peak: float, max_replicas: int, file: str) -> tuple[int, str]:
    (project / "Pulumi.cap.yaml").write_text(
        STACK.format(peak=peak, max=max_replicas, file=file, workload=SCENARIO, ttft=SLO_TTFT)
    )
    out = Console(record=True, width=400)
    code = plan_cmd.run("cap", str(project / "out"), None, "1.33", False, out, project)
    return code, out.export_text()


@pytest.mark.timeout(300)
def test_c1_capacity_measured_on_vllm_cpu_sizes_and_scales_a_stack(tmp_path, capsys):
    _engine_or_skip()
    grid_path, db, project = _grid_file(tmp_path), tmp_path / "runs.db", tmp_path / "project"
    assert (
        stacks_main(["tune", str(grid_path), "--target", "local", "--db", str(db), "--out", str(tmp_path / "report")])
        == 0
    ), capsys.readouterr().out
    assert (
        stacks_main(
            [
                "report",
                "--db",
                str(db),
                "--out",
                str(tmp_path / "report"),
                "--export-capacity",
                str(project / "capacity"),
            ]
        )
        == 0
    )
    (path,) = (project / "capacity").glob("*.json")
    assert path.name in (project / "capacity" / "INDEX.md").read_text()  # the index says what each file measured
    doc = json.loads(path.read_text())
    assert (doc["model"], doc["workload"], doc["slo"], doc["capacity"]["unit"], doc["capacity"]["source"]) == (
        "local/tiny-llama",
        SCENARIO,
        {"ttftP90": SLO_TTFT},
        "concurrency",
        "capacity search",
    )
    assert doc["capacity"]["lowerBound"] in (2, 3, 4) and doc["requestRate"]["lowerBound"] > 0
    per_replica = doc["requestRate"]["lowerBound"]
    # tiny-cpu.yaml prices this machine at local.pricePerHour 0.10
    assert (doc["cost"]["perHour"], doc["cost"]["priceSource"]) == (
        0.1,
        "local.pricePerHour of grid capacity-e2e (this machine)",
    )
    assert doc["cost"]["perMtokOutputAtSlo"] > 0

    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, project / name)
    peak = round(3 * per_replica, 2)  # three replicas' worth: one replica cannot carry it
    needed = math.ceil(peak * 1.2 / per_replica - 1e-9)
    code, text = _plan(project, peak, 1, path.name)
    assert code == 2 and "[C1]" in text and f"needs {needed} replicas, has 1" in text, text

    code, text = _plan(project, peak, needed, path.name)
    assert code == 0, text
    target = round(per_replica * 300 * 0.7, 2)
    assert (
        f"[C1] endpoints[0].autoscaling.cloudwatch: None -> {{'metricName': 'Invocations', 'targetValue': {target}}}"
        in text
    )
    assert (
        f"[C1] endpoints[0].load: None -> '${needed * 0.10 * 730:,.2f} a month at peak' ({needed} replicas for peak {peak:g}"
        in text
    )
    assert _engine_processes(str(tmp_path)) == []
