"""`make setup` without network: the `crds` and `charts` targets print their one line each (what stays
unchecked or missing, and the fix) and make adds no `Error 1 (ignored)` line of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_crds_and_charts_targets_offline_print_one_line_each_and_no_make_error(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # this interpreter, as the target's $(BIN)/python
    python.chmod(0o755)
    (venv / ".installed").touch()  # newer than the requirements files: make installs nothing
    env = {k: v for k, v in os.environ.items() if k not in ("LLM_SERVING_CRD_DIR", "LLM_SERVING_CHART_DIR")}
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "cache"),  # empty caches: both commands must download
        HTTPS_PROXY="http://127.0.0.1:9",  # a closed port: every download fails at once, as offline
        https_proxy="http://127.0.0.1:9",
    )
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "crds", "charts", f"VENV={venv}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Error" not in output and "ignored" not in output and "make:" not in output
    lines = output.splitlines()
    assert len(lines) == 2, output
    assert lines[0].startswith("CRD schemas not fetched (") and "Fix: run `python -m stacks crds fetch`" in lines[0]
    assert (
        lines[1].startswith("HyperPod Helm chart not fetched (")
        and "Fix: run `python -m stacks charts fetch`" in lines[1]
    )
