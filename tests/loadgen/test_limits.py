"""docs/load-generator.md "Limits" lists every bound the load generator puts on its input with the value
the code has: a bound changed in code and not in the page (or listed and gone) fails here. Each module
of benchmarks/limits.py's constants is listed."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "load-generator.md"
ROW = re.compile(r"^\| `(benchmarks/[\w/]+)\.py:([A-Z_]+)` \| ([\d,.]+) \|", re.M)


def rows(text: str) -> dict[tuple[str, str], float]:
    section = text.split("## Limits\n", 1)[1].split("\n## ", 1)[0]
    return {
        (path.replace("/", ".").removesuffix(".__init__"), name): float(value.replace(",", ""))
        for path, name, value in ROW.findall(section)
    }


def test_every_listed_limit_has_the_value_the_code_has():
    listed = rows(PAGE.read_text(encoding="utf-8"))
    assert len(listed) >= 20
    wrong = {
        f"{module}.{name}": (value, getattr(importlib.import_module(module), name, None))
        for (module, name), value in listed.items()
        if getattr(importlib.import_module(module), name, None) != value
    }
    assert wrong == {}


def test_every_constant_of_benchmarks_limits_is_listed():
    tree = ast.parse((ROOT / "benchmarks" / "limits.py").read_text(encoding="utf-8"))
    names = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name) and t.id.isupper()
    } - {"MIB"}
    listed = {name for (module, name) in rows(PAGE.read_text(encoding="utf-8")) if module == "benchmarks.limits"}
    assert names - listed == set()


def test_rows_reads_module_name_and_value():
    page = "## Limits\n\n| bound | value | why |\n|---|---|---|\n| `benchmarks/limits.py:MAX_X` | 1,000 | why |\n| `benchmarks/workloads/__init__.py:MAX_TURNS` | 0.01 | t |\n\n## Next\n| `benchmarks/a.py:NOT_HERE` | 1 | x |\n"
    assert rows(page) == {("benchmarks.limits", "MAX_X"): 1000.0, ("benchmarks.workloads", "MAX_TURNS"): 0.01}
