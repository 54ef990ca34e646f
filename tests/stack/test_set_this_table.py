"""docs/deploying.md's `# SET THIS` table lists every line a user must edit in every shipped stack file:
a placeholder the table does not name is one a user never hears about until `pulumi up` fails."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
MARK = "# SET THIS"


def set_this_keys(text: str) -> list[str]:
    """The dotted config key (below the project's namespace, `[]` for a list item) of each `# SET THIS`
    line: the outermost key on that line."""
    marked = {i for i, line in enumerate(text.splitlines()) if MARK in line}
    found: dict[int, str] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value.split(":", 1)[1] if prefix == "" and ":" in key.value else key.value
                path = f"{prefix}.{name}" if prefix else name
                if key.start_mark.line in marked and key.start_mark.line not in found:
                    found[key.start_mark.line] = path
                walk(value, path)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, f"{prefix}[]")

    config = dict(yaml.compose(text).value)  # type: ignore[union-attr]
    walk(next(v for k, v in config.items() if k.value == "config"), "")
    assert sorted(found) == sorted(marked), f"a `{MARK}` line without a key: {sorted(set(marked) - set(found))}"
    return [found[line] for line in sorted(found)]


def table_rows(page: str) -> list[tuple[set[str], set[str]]]:
    """(stack files, backticked keys) per row of the table under the `| stack file | `# SET THIS` |` header."""
    lines = page.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| stack file | `# SET THIS` |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        files, keys = line.strip("|").split(" | ")[:2]
        rows.append((set(re.findall(r"`(Pulumi\.[\w-]+\.yaml)`", files)), set(re.findall(r"`([^`]+)`", keys))))
    return rows


def test_set_this_keys_are_read_from_the_yaml_structure():
    text = "config:\n  aws:region: us-east-1\n  llm-serving:cluster:\n    a: []   # SET THIS: x\n  llm-serving:endpoints:\n    - name: e\n      src: {type: s3, bucket: b}   # SET THIS: y\n"
    assert set_this_keys(text) == ["cluster.a", "endpoints[].src"]


def test_every_set_this_line_of_every_shipped_stack_is_in_the_deploying_table():
    rows = table_rows((ROOT / "docs" / "deploying.md").read_text())
    stacks = sorted(ROOT.glob("Pulumi.*.yaml"))
    assert {p.name for p in stacks} >= {"Pulumi.dev.yaml", "Pulumi.eks.yaml", "Pulumi.staging.yaml"}
    missing = [
        (stack.name, key)
        for stack in stacks
        for key in set_this_keys(stack.read_text())
        if not any(stack.name in files and key in keys for files, keys in rows)
    ]
    assert missing == [], "add these to docs/deploying.md's `# SET THIS` table"
    # And the gateway's certificate is one of them (Pulumi.eks.yaml ships it unset).
    assert "gateway.certificateArn" in set_this_keys((ROOT / "Pulumi.eks.yaml").read_text())
