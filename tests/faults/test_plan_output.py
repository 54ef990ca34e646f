"""`stacks plan --out DIR` writes into its own directory and deletes nothing else
(the writer itself: benchmarks/outputs.py, its hostile targets: tests/faults/test_output_writer.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.outputs import OutputError
from stacks import plan as plan_cmd
from stacks.__main__ import main as cli
from stacks.plan_out import MARKER, PlanOutputs

PROJECT = Path(plan_cmd.__file__).resolve().parent.parent


def make_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.dev.yaml"):
        shutil.copy(PROJECT / name, root / name)
    return root


def run_plan(capsys, *args: str) -> tuple[int, str]:
    code = cli(["plan", "--stack", "dev", *args])
    return code, capsys.readouterr().out


def test_out_dot_in_the_project_is_refused_and_deletes_nothing(tmp_path, monkeypatch, capsys):
    project = make_project(tmp_path / "proj")
    monkeypatch.chdir(project)
    before = sorted(p.name for p in project.iterdir())
    code, out = run_plan(capsys, "--project-dir", str(project), "--out", ".")
    assert code == 2
    assert sorted(p.name for p in project.iterdir()) == before
    assert "Pulumi.yaml" in before and "Pulumi.dev.yaml" in before
    assert (
        "--out .: is a project folder (it holds Pulumi.yaml); nothing was changed. Fix: pass a new folder name (e.g. plan-out/<stack>)"
        in out
    )
    assert "Plan passed" not in out
    assert len(out.strip().splitlines()) == 1


def test_out_of_another_pulumi_project_is_refused(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    code, out = run_plan(capsys, "--out", str(other))
    assert code == 2
    assert (other / "Pulumi.yaml").read_text() == "name: other\nruntime: python\n"
    assert "is a project folder (it holds Pulumi.yaml)" in out


def test_non_empty_directory_without_marker_is_refused_untouched(tmp_path, capsys):
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    (out_dir / "notes.yaml").write_text("keep: me\n")
    (out_dir / "todo.txt").write_text("keep\n")
    code, out = run_plan(capsys, "--out", str(out_dir))
    assert code == 2
    assert (out_dir / "notes.yaml").read_text() == "keep: me\n"
    assert (out_dir / "todo.txt").read_text() == "keep\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["notes.yaml", "todo.txt"]
    assert f"no {MARKER} marker; it holds notes.yaml, todo.txt" in out and "nothing was changed" in out
    assert len(out.strip().splitlines()) == 1


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "plan.yaml"
    target.write_text("x: 1\n")
    code, out = run_plan(capsys, "--out", str(target))
    assert code == 2
    assert target.read_text() == "x: 1\n"
    assert f"--out {target}: is a YAML file, not a folder; nothing was changed" in out


def test_plan_marks_its_directory_and_a_rerun_replaces_only_its_files(tmp_path, capsys):
    out_dir = tmp_path / "plan"
    code, _ = run_plan(capsys, "--out", str(out_dir))
    assert code == 0
    marker = json.loads((out_dir / MARKER).read_text())
    written = sorted(p.name for p in out_dir.glob("*.yaml"))
    assert marker["stack"] == "dev" and sorted(marker["files"]) == written and len(written) >= 3

    code, _ = run_plan(capsys, "--out", str(out_dir))
    assert code == 0
    assert sorted(p.name for p in out_dir.glob("*.yaml")) == written

    (out_dir / "my-notes.yaml").write_text("mine: true\n")
    code, out = run_plan(capsys, "--out", str(out_dir))
    assert code == 2
    assert (out_dir / "my-notes.yaml").read_text() == "mine: true\n"
    assert sorted(p.name for p in out_dir.glob("*.yaml")) == sorted([*written, "my-notes.yaml"])
    assert "holds files the previous plan folder did not write (my-notes.yaml)" in out


def _write_plan(out_dir: Path, names: list[str]) -> None:
    with PlanOutputs(out_dir).open() as outputs, outputs.folder.folder({"stack": "dev"}) as folder:
        for name in names:
            folder.write(name, b"x: 1\n")


def test_replace_removes_the_previous_plans_files_and_nothing_else(tmp_path):
    out_dir = tmp_path / "plan"
    out_dir.mkdir()
    (out_dir / "001-a.yaml").write_text("a\n")
    (out_dir / "002-b.yaml").write_text("b\n")
    (out_dir / MARKER).write_text(json.dumps({"stack": "dev", "files": ["001-a.yaml", "002-b.yaml"]}))
    (tmp_path / "beside.yaml").write_text("mine\n")
    _write_plan(out_dir, ["001-c.yaml"])
    assert sorted(p.name for p in out_dir.iterdir()) == [MARKER, "001-c.yaml"]
    assert json.loads((out_dir / MARKER).read_text())["files"] == ["001-c.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beside.yaml", "plan"]  # no temp folder, no lock left


@pytest.mark.parametrize("listed", [["../victim.yaml"], [".."], "001-a.yaml", [1]])
def test_a_marker_naming_files_outside_the_directory_is_not_trusted(tmp_path, listed):
    victim = tmp_path / "victim.yaml"
    victim.write_text("precious\n")
    out_dir = tmp_path / "plan"
    out_dir.mkdir()
    (out_dir / "001-a.yaml").write_text("a\n")
    (out_dir / MARKER).write_text(json.dumps({"files": listed}))
    with pytest.raises(OutputError, match="nothing was changed"):
        _write_plan(out_dir, ["001-a.yaml"])
    assert victim.read_text() == "precious\n"
    assert (out_dir / "001-a.yaml").read_text() == "a\n"


def test_missing_or_empty_out_is_accepted(tmp_path):
    (tmp_path / "empty").mkdir()
    PlanOutputs(tmp_path / "empty").folder.check()
    PlanOutputs(tmp_path / "missing" / "deeper").folder.check()
