"""The README's account of `python -m stacks plan --stack dev` matches a real run with schemas: the object
count, the rows of its excerpt of the table (number, kind, name, namespace, schema, guardrails) and the
`Wrote N manifests` line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stacks import plan as plan_cmd

README = Path(plan_cmd.__file__).resolve().parent.parent / "README.md"
MARKUP = re.compile(r"\[/?[a-z ]*\]")


@pytest.fixture(scope="module")
def dev_plan(crd_dir):
    return plan_cmd.build_plan("dev", crd_dir=str(crd_dir))


def excerpt_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]


def test_readme_counts_the_objects_the_dev_plan_renders(dev_plan):
    text = README.read_text()
    (count,) = re.findall(r"a table of the (\d+) Kubernetes objects", text)
    (written,) = re.findall(r"`Wrote (\d+) manifests to plan-out/dev`", text)
    assert int(count) == int(written) == len(dev_plan.objects)


def test_readme_table_excerpt_is_the_last_rows_of_the_dev_plan(dev_plan):
    text = README.read_text()
    rows = excerpt_rows(text)
    assert rows, "the README shows no rows of the plan's table"
    (first, last) = re.findall(r"\(rows (\d+)–(\d+) below", text)[0]
    assert [int(r[0]) for r in rows] == list(range(int(first), int(last) + 1))
    for number, kind, name, namespace, schema, guardrails in rows:
        obj = dev_plan.objects[int(number) - 1]
        schema_cell, rules_cell = (MARKUP.sub("", cell) for cell in plan_cmd._cell(obj))
        assert [kind, name, namespace or "-", schema, guardrails] == [
            obj.kind,
            obj.name,
            obj.namespace or "-",
            schema_cell,
            rules_cell,
        ], number
