"""Dependency direction: `benchmarks` stands alone, and nothing in the project
reaches a module through `sys.path` manipulation (imports resolve from the repository root, the
way `python -m ...` and `python -m pytest` run them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", "venv", ".venv", "node_modules", "__pycache__", ".pytest_cache"}
# Built from parts so that this file does not match itself.
PATH_CALLS = tuple("sys.path." + verb for verb in ("insert", "append", "extend"))


def project_files(suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*")
        if p.is_file() and p.suffix in suffixes and not SKIPPED_DIRS & set(p.relative_to(ROOT).parts)
    )


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (function-level imports included)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_benchmarks_import_nothing_from_stacks_components_or_policies():
    files = sorted((ROOT / "benchmarks").rglob("*.py"))
    assert len(files) >= 15  # the load generator and its benchmarks are all read
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in files
        for module in imported_modules(path)
        if module.split(".")[0] in ("stacks", "components", "policies", "tests")
    }
    assert offending == set()


def test_imported_modules_sees_function_level_imports(tmp_path):
    # The checker above must catch an import hidden inside a function, as search_strategies' was not.
    source = tmp_path / "hidden.py"
    source.write_text(
        "import json\n\ndef f():\n    from stacks.tuning.replay import replay\n    import components.rules\n"
    )
    assert imported_modules(source) == {"json", "stacks.tuning.replay", "components.rules"}


def test_no_sys_path_manipulation_anywhere_in_the_project():
    files = project_files((".py", ".sh", ".md", ".toml", ".cfg", ".ini", ".yaml", ".yml"))
    assert ROOT / "stacks" / "plan.py" in files and ROOT / "tests" / "conftest.py" in files
    offending = [
        f"{path.relative_to(ROOT)}: {call}"
        for path in files
        for call in PATH_CALLS
        if call in path.read_text(errors="replace")
    ]
    assert offending == []
