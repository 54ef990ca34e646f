"""Generated references stay in step with the code, and the catalogue covers every rule the code uses."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from components.rules import catalog, policy_catalog
from stacks import docs

ROOT = Path(docs.__file__).resolve().parent.parent


def test_generated_docs_match_the_code():
    # Fails when the catalogue, the policies, the config models or the tests that name rules change
    # without `python -m stacks docs` being run.
    assert docs.main(check=True, project_dir=ROOT) == 0


def test_drift_is_reported_with_the_fix(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guardrails.md").write_text("# Guardrails\n\nhand-edited\n")
    assert docs.main(check=True, project_dir=tmp_path) == 1
    out = capsys.readouterr().out
    assert "docs/guardrails.md is out of date" in out and "python -m stacks docs" in out
    assert not (tmp_path / "docs" / "configuration.md").exists(), "--check writes nothing"


def test_every_rule_id_the_code_reports_is_in_the_catalogue():
    used = set()
    for folder in ("components", "stacks", "policies"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r'"([GSB]\d{1,2})"', path.read_text(encoding="utf-8")))
    assert used, "no rule IDs found: the scan is broken"
    assert used <= set(catalog.BY_ID), f"rule IDs missing from the catalogue: {sorted(used - set(catalog.BY_ID))}"


def test_every_policy_enforces_a_catalogued_rule():
    assert {p.rule for p in policy_catalog.POLICIES} <= set(catalog.BY_ID)


def test_tests_are_found_by_rule_name_literal_and_constant(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_example.py").write_text(
        textwrap.dedent("""
        from components.rules import catalog

        def test_g3_port_everywhere():
            pass

        def test_literal():
            assert "S4" in ["S4"]

        def test_constant():
            assert catalog.B1

        def test_unrelated_g30_token():
            pass

        def helper_g5():
            pass
    """)
    )
    found = docs.tests_by_rule(tests)
    assert found == {
        "G3": ["tests/test_example.py::test_g3_port_everywhere"],
        "S4": ["tests/test_example.py::test_literal"],
        "B1": ["tests/test_example.py::test_constant"],
    }


def test_guardrails_page_lists_each_rule_with_its_incident_policy_and_tests():
    page = docs.guardrails_md(ROOT / "tests")
    for rule in catalog.RULES:
        section = page.split(f"\n## {rule.id}\n", 1)[1].split("\n## ", 1)[0]
        assert rule.incident in section
        assert "**Tests:**" in section
    g3 = page.split("\n## G3\n", 1)[1].split("\n## ", 1)[0]
    assert "`g03-one-engine-port`, mandatory by default" in g3
    assert "none yet" not in g3


def test_every_config_key_has_a_description_with_an_example():
    assert docs.missing_descriptions() == []
    page = docs.configuration_md()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) >= 170, "the page lists every config key"
    assert all("Example:" in row.split(" | ")[1] for row in rows)


def test_missing_descriptions_reports_keys_without_a_description_or_an_example(monkeypatch):
    from pydantic import BaseModel, ConfigDict

    class Probe(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        described: int = 1
        """Has both. Example: `2`"""
        no_example: int = 1
        """Says what it means but shows no value."""
        bare: int = 1

    monkeypatch.setattr(docs, "StackSpec", Probe)
    assert docs.missing_descriptions() == ["no_example", "bare"]


def test_configuration_page_reads_as_plain_types_and_values():
    page = docs.configuration_md()
    for internal in ("<class", "typing.", "Annotated", "FieldInfo", "\\\\|"):
        assert internal not in page, internal
    endpoints = page.split("## `llm-serving:endpoints[]`", 1)[1].split("\n## ", 1)[0]
    assert "| `engine` |" in endpoints and "| string | required | one of `vllm`, `sglang` |" in endpoints
    assert "an OCI image reference" in endpoints  # the image key's bounded type, by name
    # One section per model source, each titled by its `type`.
    for variant in ("s3", "fsx", "huggingface"):
        assert f"## `llm-serving:endpoints[].modelSource` with `type: {variant}`" in page
    platform = page.split("## `llm-serving:platform`", 1)[1].split("\n## ", 1)[0]
    assert "| `fsxCsi` |" in platform and "unset: hyperpod `true`, eks `false`, existing `false`" in platform
