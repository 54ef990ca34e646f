"""Where a plan writes: its manifests folder (`--out`, marked with the files it holds) and the graph file
(`--json`), both through the one output writer (`benchmarks/outputs.py`).

Both are locked and checked before the plan runs, so a refused or busy target costs nothing, and a
plan never overwrites or deletes a file it did not write; the folder is swapped in whole.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.outputs import Kind, Output, OutputError

from . import plan_json

MARKER = ".llm-serving-plan"
PLAN_FOLDER = Kind("plan folder", "plan-out/<stack>", marker=MARKER)

__all__ = ["MARKER", "PLAN_FOLDER", "OutputError", "PlanOutputs"]


class PlanOutputs:
    """The plan's folder and (with `--json`) its graph file, locked from `open()` to `close()`."""

    def __init__(self, out_dir: Path, json_path: Path | None = None):
        self.folder = Output(out_dir, PLAN_FOLDER, f"--out {out_dir}", parents=True)
        self.graph = Output(json_path, plan_json.PLAN_JSON, f"--json {json_path}") if json_path else None

    def open(self) -> PlanOutputs:
        try:
            self.folder.open()
            if self.graph:
                self.graph.open()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self.folder.close()
        if self.graph:
            self.graph.close()

    def __enter__(self) -> PlanOutputs:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
