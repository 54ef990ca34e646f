"""Enforcement config (the --policy-pack-config file), `stacks check` on plain manifests, and the
offline plan of the dev stack through the same policies."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from components.rules import security
from components.rules.policy_catalog import BY_NAME, POLICIES
from components.rules.policy_config import PolicyConfigError, parse
from components.rules.resources import Resource
from stacks import check as check_cmd
from stacks.__main__ import main as cli
from stacks.policy_file import load
from tests.example_stacks import user_plan, user_project
from tests.policies.policy_builders import render, run_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "policy-config.example.json"


def test_config_precedence_policy_over_all_over_default():
    config = parse(
        {
            "all": "advisory",
            "g01-name-length": "disabled",
            "s6-required-tags": {"enforcementLevel": "mandatory", "requiredTags": ["team"]},
        }
    )
    assert config.level(BY_NAME["g03-one-engine-port"]) == "advisory"
    assert config.level(BY_NAME["g01-name-length"]) == "disabled"
    assert config.level(BY_NAME["s6-required-tags"]) == "mandatory"
    assert config.params_of(BY_NAME["s6-required-tags"]) == {"requiredTags": ["team"]}
    assert parse(None).level(BY_NAME["s6-required-tags"]) == "advisory"  # the default
    assert parse({"g03-one-engine-port": "remediate"}).level(BY_NAME["g03-one-engine-port"]) == "mandatory"


def test_config_errors_name_every_problem_at_once():
    with pytest.raises(PolicyConfigError) as err:
        parse(
            {
                "g1-name": "mandatory",
                "g03-one-engine-port": "block",
                "s6-required-tags": {"requiredTag": ["x"], "enforcementLevel": "advisory"},
                "s4-eks-endpoint-not-public": {"devStacks": "dev"},
            }
        )
    text = "\n".join(err.value.problems)
    assert "g1-name: unknown policy" in text
    assert "g03-one-engine-port = 'block': not an enforcement level" in text
    assert (
        "s6-required-tags.requiredTag: unknown parameter; s6-required-tags takes enforcementLevel, requiredTags" in text
    )
    assert "s4-eks-endpoint-not-public.devStacks = 'dev': expected" in text


def test_policies_doc_table_matches_the_catalogue():
    page = (EXAMPLE.parents[1] / "docs" / "policies.md").read_text()
    rows = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].strip("`") in BY_NAME:
            rows[cells[0].strip("`")] = (cells[1], cells[2], cells[3])
    # Every row says what the catalogue says (a policy missing from the table is not checked here).
    assert rows == {name: (p.rule, p.kind, p.enforcement) for name, p in BY_NAME.items() if name in rows}
    assert {"s4-eks-endpoint-not-public", "s6-required-tags"} <= set(rows)


def test_example_config_is_valid_and_covers_the_parameters(tmp_path):
    config = load(EXAMPLE)
    assert config.level(BY_NAME["s4-eks-endpoint-not-public"]) == "mandatory"
    assert config.level(BY_NAME["s6-required-tags"]) == "mandatory"
    assert (
        tuple(config.params_of(BY_NAME["s6-required-tags"])["requiredTags"]) == security.DEFAULT_REQUIRED_TAGS
    )  # what the program sets
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PolicyConfigError, match="not valid JSON"):
        load(bad)


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_pack_over_the_rendered_example_stacks_reports_no_mandatory_violation(stack, monkeypatch):
    monkeypatch.setenv("PULUMI_STACK", stack)  # what the pack reads for S4's devStacks
    plan = user_plan(stack)
    resources = [
        Resource(r.type_, r.name, r.inputs, r.urn, tuple(r.graph.dependencies), r.graph.parent) for r in plan.resources
    ]
    for policy in POLICIES:
        if policy.enforcement == "mandatory":
            assert run_policy(policy.name, resources) == [], policy.name
    if stack == "dev":
        assert run_policy("s3-router-key-workaround", resources), "the documented workaround is visible (advisory)"


def test_plan_respects_enforcement_config(tmp_path, capsys):
    assert cli(["plan", "--stack", "dev", "--out", str(tmp_path / "a"), "--policy-config", str(EXAMPLE)]) == 0
    (tmp_path / "project").mkdir()
    staging = user_project(tmp_path / "project", "staging")
    assert (
        cli(
            [
                "plan",
                "--stack",
                "staging",
                "--project-dir",
                str(staging),
                "--out",
                str(tmp_path / "s"),
                "--policy-config",
                str(EXAMPLE),
            ]
        )
        == 0
    )
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"s6-required-tags": "mandatory"}))
    assert (
        cli(["plan", "--stack", "dev", "--out", str(tmp_path / "b"), "--policy-config", str(strict)]) == 0
    )  # every resource is tagged
    assert "[S6]" not in capsys.readouterr().out
    strict.write_text(json.dumps({"s6-required-tags": {"enforcementLevel": "mandatory", "requiredTags": ["team"]}}))
    assert cli(["plan", "--stack", "dev", "--out", str(tmp_path / "b"), "--policy-config", str(strict)]) == 1
    out = capsys.readouterr().out
    assert (
        "error aws:s3/bucket:Bucket platform-tls: tags = ['llm-serving/cluster', 'llm-serving/stack']: [S6] missing required tag(s) team"
        in out
    )
    quiet = tmp_path / "quiet.json"
    quiet.write_text(json.dumps({"s6-required-tags": "disabled", "s3-router-key-workaround": "disabled"}))
    assert cli(["plan", "--stack", "dev", "--out", str(tmp_path / "c"), "--policy-config", str(quiet)]) == 0
    assert "[S6]" not in capsys.readouterr().out
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"s6-required-tag": "disabled"}))
    assert cli(["plan", "--stack", "dev", "--policy-config", str(typo)]) == 2
    assert "s6-required-tag: unknown policy" in capsys.readouterr().out


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_clean_manifests_exit_0_and_unknown_kinds_are_unchecked(tmp_path):
    import yaml

    write(tmp_path, "endpoint.yaml", yaml.safe_dump(render()))
    write(tmp_path, "widget.yml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n")
    out = io.StringIO()
    assert check_cmd.main([str(tmp_path)], out=out) == 0
    text = out.getvalue()
    assert "widget.yml:1: Widget w: unchecked:" in text
    from stacks.schemas import find_crd_dir

    without = (
        1 if find_crd_dir()[0] is not None else 2
    )  # without CRD schemas the endpoint has none either (its rules still ran)
    assert (
        f"2 document(s): 0 mandatory and 0 advisory violation(s), 0 schema failure(s), {without} without a schema, 1 unchecked"
        in text
    )
    out = io.StringIO()
    check_cmd.main([str(tmp_path)], as_json=True, out=out)
    statuses = {d["kind"]: d["status"] for d in json.loads(out.getvalue())["documents"]}
    assert statuses == {"InferenceEndpointConfig": "passed", "Widget": "unchecked"}


def test_check_schema_failure_is_mandatory(tmp_path, crd_dir):
    import yaml

    obj = render()
    obj["spec"]["worker"]["modelInvocationPort"]["containerPorts"] = 8000  # a typo the API server would prune
    out = io.StringIO()
    assert check_cmd.main([str(write(tmp_path, "typo.yaml", yaml.safe_dump(obj)))], out=out) == 1
    assert "mandatory schema:" in out.getvalue() and "containerPorts" in out.getvalue()


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("broken.yaml", "apiVersion: v1\nkind: [", "broken.yaml: line 3, column 1: not valid YAML"),
        ("list.yaml", "- a\n- b\n", "list.yaml:1: not a Kubernetes object"),
    ],
)
def test_check_bad_input_is_named_exit_2_without_traceback(tmp_path, name, text, expected):
    out = io.StringIO()
    assert check_cmd.main([str(write(tmp_path, name, text))], out=out) == 2
    assert expected in out.getvalue() and "Traceback" not in out.getvalue()
    out = io.StringIO()
    assert check_cmd.main([str(tmp_path / "missing.yaml")], out=out) == 2
    assert "no such file or directory" in out.getvalue()


def test_check_cli_subcommand_with_policy_config(tmp_path, capsys):
    seeds = Path(__file__).parent / "data" / "seed-mistakes.yaml"
    relaxed = write(tmp_path, "relaxed.json", json.dumps({"all": "advisory"}))
    assert cli(["check", str(seeds), "--policy-config", str(relaxed)]) == 0  # everything downgraded to advisory
    text = capsys.readouterr().out
    assert " mandatory g" not in text and "0 mandatory and 18 advisory violation(s)" in text
    assert cli(["check", str(seeds), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["summary"]["mandatory"] == 15
