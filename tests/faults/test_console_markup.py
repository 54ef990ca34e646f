"""User data and server text print literally in `stacks plan`, `preflight` and
`check`; a `[/...]` in them never raises MarkupError, and rule messages keep their regexes."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from rich.console import Console

from components.rules.problems import Problem
from stacks import plan as plan_cmd
from stacks import preflight
from stacks.__main__ import main as cli
from stacks.aws import AwsError

PROJECT = Path(plan_cmd.__file__).resolve().parent.parent
HOSTILE_NAMESPACE = "team[/bold]x[/x]"
G2_REGEX = "([a-z0-9]([-a-z0-9]*[a-z0-9])?)"


def project_with_namespace(root: Path, namespace: str) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, root / name)
    text = (PROJECT / "Pulumi.dev.yaml").read_text()
    assert "namespace: inference" in text
    (root / "Pulumi.dev.yaml").write_text(text.replace("namespace: inference", f'namespace: "{namespace}"'))
    return root


def test_plan_prints_a_hostile_namespace_and_the_g2_regex_literally(tmp_path, capsys):
    project = project_with_namespace(tmp_path, HOSTILE_NAMESPACE)
    code = cli(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 2
    assert f"namespace = '{HOSTILE_NAMESPACE}': [G2] not a lowercase RFC 1123 name {G2_REGEX}." in out


def test_preflight_prints_a_hostile_namespace_literally(tmp_path):
    project = project_with_namespace(tmp_path, HOSTILE_NAMESPACE)
    console = Console(record=True, width=300)
    assert preflight.main("dev", console, project) == 2
    assert f"'{HOSTILE_NAMESPACE}': [G2] not a lowercase RFC 1123 name {G2_REGEX}." in console.export_text()


def test_preflight_prints_server_text_literally(tmp_path, monkeypatch):
    class MarkupAws:
        def __init__(self, region: str) -> None:
            pass

        def __getattr__(self, name: str):
            def fail(*args, **kwargs):
                raise AwsError(f"{name}: server said [/bold] and [/x]")

            return fail

    monkeypatch.setattr(preflight, "Aws", MarkupAws)
    monkeypatch.setattr(preflight, "check_hub_models", lambda cfg, aws=None: [])  # the hub is tests/models' loopback
    console = Console(record=True, width=300)
    assert preflight.main("dev", console) == 1
    assert "preflight instance_type_offered: server said [/bold] and [/x]" in console.export_text()


def test_plan_stack_file_error_prints_a_hostile_key_literally(tmp_path, capsys):
    project = project_with_namespace(tmp_path, "inference")
    with (project / "Pulumi.dev.yaml").open("a") as f:
        f.write("  '[/x]': 1\n  '[/x]': 2\n")
    code = cli(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "duplicate key '[/x]'" in capsys.readouterr().out


def test_plan_out_error_prints_a_hostile_directory_literally(tmp_path, capsys):
    out_dir = tmp_path / "[" / "bold]out[" / "x]"
    out_dir.mkdir(parents=True)
    (out_dir / "keep.txt").write_text("mine\n")
    code = cli(["plan", "--stack", "dev", "--out", str(out_dir)])
    assert code == 2
    assert "[/bold]out[/x]: is a folder this tool did not write" in capsys.readouterr().out


def test_plan_table_and_problem_lines_print_data_literally():
    plan = plan_cmd.build_plan("dev")
    obj = plan.objects[0]
    obj.manifest = {
        **obj.manifest,
        "kind": "Kind[/x]",
        "metadata": {**obj.manifest["metadata"], "name": "name[/bold]", "namespace": HOSTILE_NAMESPACE},
    }
    obj.problems.append(
        Problem("metadata.name", "[/x]", "G2", f"not a lowercase RFC 1123 name {G2_REGEX}", "use '[/bold]'")
    )
    plan.logs.append(("warning", "engine said [/x] -> [/bold]"))
    plan.config = dataclasses.replace(plan.config, region="us-east-1[/x]")
    console = Console(record=True, width=400)
    plan_cmd.print_plan(plan, console, show_all=True)
    text = console.export_text()
    assert "Kind[/x]" in text and "name[/bold]" in text and HOSTILE_NAMESPACE in text
    assert f"Kind[/x]/name[/bold]: metadata.name = '[/x]': [G2] not a lowercase RFC 1123 name {G2_REGEX}" in text
    assert "warning engine said [/x] -> [/bold]" in text
    assert "region us-east-1[/x]" in text


def test_check_prints_a_hostile_namespace_literally(tmp_path, capsys):
    path = tmp_path / "cm.yaml"
    path.write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 's[/x]'\n  namespace: '{HOSTILE_NAMESPACE}'\n"
    )
    code = cli(["check", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert (
        f"ConfigMap {HOSTILE_NAMESPACE}/s[/x]: mandatory g02-name-format: metadata.name = 's[/x]': [G2] not a lowercase RFC 1123 name {G2_REGEX}"
        in out
    )
