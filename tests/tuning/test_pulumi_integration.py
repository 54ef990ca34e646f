"""The real Automation API layer (AutomationStackRunner). These run only where the `pulumi` CLI is
installed; elsewhere they are skipped with the reason (the logic around them is covered with a
StackRunner double in test_driver.py)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from stacks.tuning.pulumi_target import AutomationStackRunner

pytestmark = pytest.mark.integration

NO_CLI = shutil.which("pulumi") is None
SKIP_CLI = pytest.mark.skipif(
    NO_CLI, reason="the pulumi CLI is not installed here (it downloads provider binaries); runs where it is"
)


@SKIP_CLI
def test_automation_runner_up_outputs_and_destroy_on_a_file_backend(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        f"name: it-trial\nruntime:\n  name: python\n  options:\n    virtualenv: {Path(sys.prefix)}\n"
    )
    (project / "__main__.py").write_text(
        "import pulumi\ncfg = pulumi.Config()\npulumi.export('endpoints', {'ep': {'url': 'https://example/v1/chat/completions', 'state': cfg.get('state')}})\n"
    )
    runner = AutomationStackRunner(project, f"file://{tmp_path / 'state'}", passphrase="it")
    lines: list[str] = []
    outputs = runner.up("tune-it-1", {"it-trial:state": "DeploymentComplete"}, lines.append)
    assert outputs["endpoints"]["ep"]["url"].startswith("https://")
    # The endpoint's state is read live from the cluster, not from these outputs (test_pulumi_live_wait.py).
    runner.destroy("tune-it-1", lines.append)
    runner.destroy("tune-it-1", lines.append)  # safe when the stack is gone
    assert lines


@SKIP_CLI
@pytest.mark.skipif(
    not os.environ.get("LLM_SERVING_IT_BASE_STACK"),
    reason="set LLM_SERVING_IT_BASE_STACK to a deployed platform stack (with AWS credentials) to run a real trial",
)
def test_real_trial_stack_up_and_destroy(tmp_path):
    from stacks.__main__ import main

    grid = tmp_path / "grid.yaml"
    grid.write_text(
        (Path(__file__).resolve().parents[2] / "stacks" / "grids" / "qwen3-4b-g5.yaml")
        .read_text()
        .replace("baseStack: dev", f"baseStack: {os.environ['LLM_SERVING_IT_BASE_STACK']}")
    )
    assert main(["tune", str(grid), "--strategy", "grid", "--db", str(tmp_path / "it.db")]) in (0, 130)
