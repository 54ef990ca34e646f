"""Experiments and measurements live in benchmarks/experiments/ (`python -m benchmarks.experiments.<name>`), apart
from the product: nothing outside that folder imports them, and every one benchmarks/README.md cites is there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "benchmarks" / "experiments"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                package = path.parent.relative_to(ROOT).parts[
                    : len(path.parent.relative_to(ROOT).parts) - node.level + 1
                ]
                base = ".".join([*package, base] if base else package)
            out |= {base} | {f"{base}.{a.name}" for a in node.names}
    return out


def test_nothing_outside_the_experiments_imports_them():
    importers = [
        str(p.relative_to(ROOT))
        for folder in ("benchmarks", "stacks", "components", "policies")
        for p in (ROOT / folder).rglob("*.py")
        if EXPERIMENTS not in p.parents and any(m.startswith("benchmarks.experiments") for m in _imports(p))
    ]
    assert importers == []


def test_every_measurement_the_readme_runs_is_an_experiment_module():
    cited = set(
        re.findall(
            r"python -m benchmarks\.experiments\.(\w+)", (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
        )
    )
    assert cited, "benchmarks/README.md runs its measurements as python -m benchmarks.experiments.<name>"
    assert {name for name in cited if not (EXPERIMENTS / f"{name}.py").is_file()} == set()
    assert not re.search(
        r"python -m benchmarks\.(?!experiments\b|stream_server\b)\w+",
        (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8"),
    )
