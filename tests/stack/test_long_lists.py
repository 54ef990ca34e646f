"""Long listings are cut to a count, with `--all` for the rest: the plan's other resources (one line of
counts per provider instead of every type), a command in the plan header on a line of its own, the
same unchecked reason over many documents in `stacks check`, and the same problem over many points
in a tuning grid."""

from __future__ import annotations

import io

from rich.console import Console

from stacks import check as check_cmd
from stacks import plan as plan_cmd
from stacks import schemas
from stacks.__main__ import main as cli
from stacks.tuning import grid as grid_mod
from stacks.tuning.cli import print_pruned


def printed(plan, show_all=False, width=100) -> list[str]:
    console = Console(record=True, width=width, file=io.StringIO())
    plan_cmd.print_plan(plan, console, show_all)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_other_resources_are_one_line_of_counts_and_all_lists_every_resource():
    plan = plan_cmd.build_plan("dev")
    others = [r for r in plan.resources if plan_cmd.to_manifest(r) is None]
    (line,) = [line for line in printed(plan, width=200) if line.startswith("Other resources")]
    assert line.startswith(f"Other resources: {len(others)} (aws ") and line.endswith("; `--all` lists each")
    assert "aws:iam/role:Role" not in line and len(line) <= 100
    full = "\n".join(printed(plan, show_all=True, width=200))
    assert f"All {len(plan.resources)} resources" in full and "aws:iam/role:Role" in full
    assert "Other resources" not in full


def test_the_plan_header_puts_the_fetch_command_on_its_own_line(monkeypatch, tmp_path):
    monkeypatch.delenv(schemas.ENV_VAR, raising=False)
    monkeypatch.setattr(schemas, "CACHE_DIR", tmp_path / "no-cache")
    plan = plan_cmd.build_plan("dev")
    lines = printed(plan, width=60)
    assert lines[0] == "Offline plan of stack dev (cluster mode hyperpod, region"
    assert "    python -m stacks crds fetch" in lines  # never split across two lines by the width
    assert not any(line.rstrip().endswith("python -m") for line in lines)


def test_check_lists_one_unchecked_reason_three_times_then_counts_the_rest(tmp_path):
    (tmp_path / "widgets.yaml").write_text(
        "".join(f"apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w{i}}}\n---\n" for i in range(7))
    )
    out = io.StringIO()
    assert check_cmd.main([str(tmp_path)], out=out) == 0
    lines = out.getvalue().splitlines()
    assert [line.split(": ", 2)[1] for line in lines if ": unchecked: " in line and not line.startswith("...")] == [
        "Widget w0",
        "Widget w1",
        "Widget w2",
    ]
    assert any(
        line.startswith("... and 4 more document(s) with: unchecked: ") and line.endswith("(--all lists each)")
        for line in lines
    )
    assert lines[-1].startswith(
        "7 document(s): 0 mandatory and 0 advisory violation(s), 0 schema failure(s), 7 without a schema, 7 unchecked"
    )
    out = io.StringIO()
    check_cmd.main([str(tmp_path)], out=out, show_all=True)
    assert sum(": unchecked: " in line for line in out.getvalue().splitlines()) == 7
    assert "more document(s)" not in out.getvalue()


def test_check_all_flag_reaches_the_listing(tmp_path, capsys):
    (tmp_path / "widgets.yaml").write_text(
        "".join(f"apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w{i}}}\n---\n" for i in range(5))
    )
    cli(["check", str(tmp_path), "--all"])
    assert sum(": unchecked: " in line for line in capsys.readouterr().out.splitlines()) == 5


def test_a_grid_problem_shared_by_many_points_is_printed_once_with_a_count():
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "g",
            "target": "pulumi",
            "base": {
                "name": "ep",
                "model": "org/m",
                "engine": "sglang",
                "instanceType": "g5.xlarge",
                "modelSource": {"type": "s3", "bucket": "bkt"},
            },
            "parameters": {"hyperpod.intelligentRouting": [True], "engineArgs.maxNumSeqs": [2, 8, 32, 64]},
        }
    )
    points = grid_mod.expand(grid)
    console = Console(record=True, width=400, file=io.StringIO())
    print_pruned(console, points)
    lines = console.export_text().splitlines()
    assert lines[0] == "grid: 4 point(s), 4 pruned by the rule library, 0 to try"
    assert lines[1].startswith(
        "  4 point(s): base.hyperpod.intelligentRouting = True: [G21]"
    )  # one line per cause, with its count
    assert len(lines) == 2
    console = Console(record=True, width=400, file=io.StringIO())
    print_pruned(console, points, True)  # --all (or --verbose): every pruned point too
    listed = [line.split(":")[0] for line in console.export_text().splitlines()[2:]]
    assert listed == [f"  pruned maxNumSeqs={n}, intelligentRouting=True" for n in (2, 8, 32, 64)]
