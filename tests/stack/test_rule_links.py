"""Rule IDs in CLI output lead to their section of docs/guardrails.md: each `[G22]` is a terminal
hyperlink where the terminal shows links (plain text anywhere else), and each run of `plan`,
`check`, `tune --dry-run` and `preflight` ends with one footer line naming where the rules it printed
are described."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from stacks import literal
from stacks.__main__ import main as cli

PROJECT = Path(literal.__file__).resolve().parent.parent
SEEDS = PROJECT / "tests" / "policies" / "data" / "seed-mistakes.yaml"
FOOTER = "Rules: docs/guardrails.md#<id> for each rule above"


@pytest.fixture(autouse=True)
def in_the_project(monkeypatch):
    monkeypatch.chdir(PROJECT)  # the footer names docs/guardrails.md relative to where the command runs


def links(text: Text) -> dict[str, str]:
    """The linked words of `text` and their targets."""
    return {text.plain[s.start : s.end]: s.style.link for s in text.spans if getattr(s.style, "link", None)}


def test_a_catalogue_rule_id_links_to_its_section_and_the_text_stays_the_same():
    literal.forget_rules()
    line = literal.labelled(
        "warning", "yellow", "Ingress/x: metadata.name = 'X': [G2] not a lowercase name. Fix: [a-z]"
    )
    assert line.plain == "warning Ingress/x: metadata.name = 'X': [G2] not a lowercase name. Fix: [a-z]"
    assert links(line) == {"G2": (PROJECT / "docs" / "guardrails.md").as_uri() + "#g2"}
    assert "## G2" in (PROJECT / "docs" / "guardrails.md").read_text().splitlines()


def test_config_target_and_unknown_ids_are_no_rules():
    literal.forget_rules()
    line = literal.plain("x = 1: [CONFIG] bad. y: [TARGET] no. z: [X9] what. [a-z0-9]")
    assert links(line) == {}
    assert literal.rules_footer() is None


def test_the_footer_names_each_rule_once_in_catalogue_order_and_then_forgets_them():
    literal.forget_rules()
    for message in ("a: [S3] one", "b: [G22] two", "c: [S3] again", "d: [G1] three"):
        literal.plain(message)
    assert literal.rules_footer() == f"{FOOTER} (G1, S3, G22)"
    assert literal.rules_footer() is None


def test_outside_the_project_the_footer_names_the_file_by_its_full_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    literal.forget_rules()
    literal.plain("x: [O5] chart first")
    assert literal.rules_footer() == f"Rules: {PROJECT / 'docs' / 'guardrails.md'}#<id> for each rule above (O5)"


def test_a_terminal_gets_an_osc8_hyperlink_and_a_pipe_gets_plain_text():
    line = literal.labelled("error", "red", "Deployment/d: spec.replicas = 0: [G4] no probe")
    terminal = io.StringIO()
    Console(file=terminal, force_terminal=True, color_system="truecolor", width=200).print(line)
    assert "\x1b]8;" in terminal.getvalue() and "guardrails.md#g4" in terminal.getvalue()
    piped = io.StringIO()
    Console(file=piped, width=200).print(line)
    assert piped.getvalue() == "error Deployment/d: spec.replicas = 0: [G4] no probe\n"


def test_plan_prints_the_footer_once_as_its_last_line(tmp_path, capsys):
    assert cli(["plan", "--stack", "dev", "--out", str(tmp_path / "out")]) in (0, 1)
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith(FOOTER) for line in lines) == 1
    assert lines[-1].startswith(FOOTER)
    assert "S2" in lines[-1] and "S3" in lines[-1]  # the dev stack's two warnings


def test_check_prints_the_footer_after_its_summary_and_json_gets_none(capsys):
    assert cli(["check", str(SEEDS)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{FOOTER} (G1, G2, G3, G4, G5, G6, G7, G8, G9, G10, S3, G21)"
    assert cli(["check", str(SEEDS), "--json"]) == 1
    assert FOOTER not in capsys.readouterr().out


def test_tune_dry_run_prints_the_footer_for_the_rules_that_pruned_points(tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text(
        "name: g\ntarget: local\n"
        "base: {name: ep, model: org/m, engine: sglang, instanceType: g5.xlarge, modelSource: {type: s3, bucket: bkt}}\n"
        "parameters: {intelligentRouting: [true], engineArgs.maxNumSeqs: [2, 8]}\n"
    )
    cli(["tune", str(grid), "--dry-run", "--db", str(tmp_path / "g.db")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{FOOTER} (G21)"


def test_a_run_without_rule_ids_prints_no_footer(capsys):
    assert cli(["crds", "where"]) in (0, 1)
    assert FOOTER not in capsys.readouterr().out
