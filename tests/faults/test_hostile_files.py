"""Garbage files given to `stacks plan`, `stacks check` and
`--policy-config` end with exit 2 and one line naming the file, never a traceback or a hang."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stacks import plan as plan_cmd
from stacks.__main__ import main as cli

PROJECT = Path(plan_cmd.__file__).resolve().parent.parent

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  a: b\n"


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


def huge(path: Path) -> None:
    with path.open("wb") as f:  # sparse: over the size limit without writing 33 MB
        f.truncate(33 * 1024 * 1024)


# Each hostile content: a writer (path -> None) and what the one error line must say.
HOSTILE = {
    "binary": (lambda p: p.write_bytes(b"\x00\x01\x02config:\x00\xff"), "binary data (a NUL byte at offset 0)"),
    "non-utf8": (
        lambda p: p.write_bytes("config:\n  aws:region: caf\xe9\n".encode("latin-1")),
        "not UTF-8 text (byte 0xe9",
    ),
    "alias-bomb": (
        lambda p: p.write_text("config:\n" + "".join(f"  {line}\n" for line in alias_bomb().splitlines())),
        "an alias bomb",
    ),
    "recursive-alias": (lambda p: p.write_text("config:\n  llm-serving:x: &a [1, *a]\n"), "recursive alias"),
    "huge": (huge, "over the 33554432-byte limit"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
}


def stack_project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, tmp_path / name)
    return tmp_path


def one_error_line(out: str, err: str) -> str:
    assert "Traceback" not in out + err
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    return lines[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_stack_file_fails_the_plan_with_exit_2(tmp_path, capsys, case):
    project = stack_project(tmp_path)
    write, expected = HOSTILE[case]
    write(project / "Pulumi.dev.yaml")
    code = cli(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2
    assert "Pulumi.dev.yaml" in line and expected in line
    assert not (tmp_path / "out").exists()


def test_duplicate_endpoints_key_fails_the_plan_naming_key_and_lines(tmp_path, capsys):
    project = stack_project(tmp_path)
    shutil.copy(PROJECT / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    with (project / "Pulumi.dev.yaml").open("a") as f:
        f.write("  llm-serving:endpoints: []\n")
    text = (project / "Pulumi.dev.yaml").read_text().splitlines()
    first = next(i for i, line in enumerate(text, 1) if line.strip().startswith("llm-serving:endpoints:"))
    code = cli(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2
    assert f"line {len(text)}" in line and f"duplicate key 'llm-serving:endpoints' (first at line {first})" in line
    assert "Plan passed" not in captured.out


def test_binary_pulumi_yaml_is_a_named_error(tmp_path, capsys):
    project = stack_project(tmp_path)
    shutil.copy(PROJECT / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    (project / "Pulumi.yaml").write_bytes(b"name: \xff\xfe\n")
    code = cli(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2 and "Pulumi.yaml: not UTF-8 text" in line


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(set(HOSTILE) - {"directory"}))
def test_hostile_manifest_file_fails_check_with_exit_2(tmp_path, capsys, case):
    write, expected = HOSTILE[case]
    path = tmp_path / "pod.yaml"
    write(path)
    code = cli(["check", str(path)])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2
    assert str(path) in line and expected in line


@pytest.mark.timeout(60)
def test_alias_bomb_inside_a_pod_fails_check_fast(tmp_path, capsys):
    anchors = "".join(f"    {line}\n" for line in alias_bomb().splitlines())
    path = tmp_path / "pod.yaml"
    path.write_text(
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n{anchors}spec:\n  containers: []\n"
    )
    code = cli(["check", str(path)])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2 and "an alias bomb" in line
    assert len(line) < 400  # the message does not grow with the bomb


def test_duplicate_key_in_a_manifest_fails_check(tmp_path, capsys):
    path = tmp_path / "cm.yaml"
    path.write_text(CONFIGMAP + "  a: c\n")
    code = cli(["check", str(path)])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2 and "line 8" in line and "duplicate key 'a' (first at line 7)" in line


POLICY_CONFIGS = {
    "binary": (lambda p: p.write_bytes(b"\x00\x9f\x92\x96"), "binary data (a NUL byte at offset 0)"),
    "non-utf8": (lambda p: p.write_bytes('{"all": "advisory\xe9"}'.encode("latin-1")), "not UTF-8 text (byte 0xe9"),
    "invalid-json": (lambda p: p.write_text('{"all": advisory}'), "not valid JSON: Expecting value at line 1 column 9"),
    "duplicate-key": (lambda p: p.write_text('{"all": "advisory", "all": "disabled"}'), "duplicate key 'all'"),
    "deep": (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested more than 128 levels deep"),
    "huge": (huge, "over the 1048576-byte limit"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CONFIGS))
def test_hostile_policy_config_fails_check_with_exit_2(tmp_path, capsys, case):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIGMAP)
    write, expected = POLICY_CONFIGS[case]
    config = tmp_path / "policy.json"
    write(config)
    code = cli(["check", str(manifest), "--policy-config", str(config)])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2
    assert str(config) in line and expected in line and "Fix:" in line


def test_hostile_policy_config_fails_the_plan_with_exit_2(tmp_path, capsys):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"all": "advisory"})[:-1] + ', "all": "disabled"}')
    code = cli(["plan", "--stack", "dev", "--out", str(tmp_path / "out"), "--policy-config", str(config)])
    captured = capsys.readouterr()
    line = one_error_line(captured.out, captured.err)
    assert code == 2 and "duplicate key 'all'" in line


def test_binary_crd_file_is_skipped_by_name_not_a_crash(tmp_path, capsys):
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "broken.yaml").write_bytes(
        b"kind: CustomResourceDefinition\ngroup: example.com\nkind: Widget\n\xff\xfe\x00"
    )
    manifest = tmp_path / "widget.yaml"
    manifest.write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n")
    code = cli(["check", str(manifest), "--crd-dir", str(crds)])
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "unchecked: no CRD schema for example.com/v1 Widget" in out
        and "skipped broken.yaml (binary data (a NUL byte at offset 65), not text)" in out
    )


def test_a_directory_named_like_a_manifest_is_skipped_when_scanning(tmp_path, capsys):
    (tmp_path / "sub.yaml").mkdir()
    (tmp_path / "cm.yaml").write_text(CONFIGMAP)
    assert cli(["check", str(tmp_path)]) == 0
    assert "1 document(s)" in capsys.readouterr().out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_base_stack_file_for_tune_is_a_deploy_error(tmp_path, case):
    from stacks.tuning.deploy import DeployError
    from stacks.tuning.grid import PulumiTarget
    from stacks.tuning.pulumi_target import load_base

    project = stack_project(tmp_path)
    write, expected = HOSTILE[case]
    write(project / "Pulumi.dev.yaml")
    with pytest.raises(DeployError) as err:
        load_base(PulumiTarget(project_dir=str(project), base_stack="dev"))
    assert "Pulumi.dev.yaml" in str(err.value) and expected in str(err.value)
