"""The one writer's own guarantees (benchmarks/outputs.py): a folder swap cut between its two renames is undone by
the next writer, and the lock a killed writer left blocks nothing."""

from __future__ import annotations

import os

from benchmarks import outputs
from tests.faults.test_output_writer import kill, leftovers, paused, tree


def test_a_swap_cut_between_its_two_renames_is_undone_by_the_next_writer(tmp_path):
    """Where the kernel cannot exchange two folders in one step, the old one is moved aside first; a kill
    right then leaves only `.NAME.old`. The next writer puts it back before it looks at the target."""
    kind = outputs.Kind("test folder", "out", marker=".m")
    with outputs.Output(tmp_path / "out", kind) as out, out.folder() as folder:
        folder.write("a.txt", b"previous\n")
    before = tree(tmp_path / "out")
    os.rename(tmp_path / "out", tmp_path / ".out.old")  # the state a kill between the renames leaves
    (tmp_path / ".out.new").mkdir()
    (tmp_path / ".out.new" / ".m").write_text('{"files": [], "partial": true}')
    with outputs.Output(tmp_path / "out", kind):
        assert tree(tmp_path / "out") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_lock_of_a_killed_writer_blocks_nothing(tmp_path):
    child = paused("stacks", "plan", "--stack", "dev", "--out", str(tmp_path / "plan"), at="file:1")
    kill(child)
    assert f'"pid": {child.pid}' in (tmp_path / ".plan.lock").read_text()
    with outputs.Output(tmp_path / "plan", outputs.Kind("plan folder", "plan", marker=".llm-serving-plan")):
        pass
    assert leftovers(tmp_path) == []
