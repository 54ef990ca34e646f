"""docs/architecture.md stays true: every `path/file.py` and `path/file.py:name` it cites exists, the
layers import only downwards (stacks -> components -> rules, policies -> rules), and no import cycle
exists among the project's modules (function-level imports included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
LAYERS = ("components", "stacks", "policies", "benchmarks")
# `dir/file.py` or `dir/file.py:name` (name may be Class.member); `::test` refs are test_docs_links'.
REF = re.compile(r"(?<![\w/.<{-])((?:[\w-]+/)+[\w-]+\.py)(?::([A-Za-z_][\w.]*))?")


def _defined(path: Path, dotted: str) -> bool:
    """A function, class, or assigned name at module level; `Class.member` inside that class."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for part in dotted.split("."):
        found = None
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == part:
                found = node
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == part for t in node.targets):
                found = node
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == part:
                found = node
        if found is None:
            return False
        body = getattr(found, "body", [])
    return True


def stale_references(page: Path, root: Path = ROOT) -> list[str]:
    out = []
    for file, name in sorted(set(REF.findall(page.read_text(encoding="utf-8")))):
        path = root / file
        if not path.is_file():
            out.append(f"{file}: no such file")
        elif name and not _defined(path, name):
            out.append(f"{file}:{name}: no such name")
    return out


def test_every_file_and_name_architecture_md_cites_exists():
    refs = REF.findall(PAGE.read_text(encoding="utf-8"))
    assert len({r for r in refs if r[1]}) > 40, "the port walk cites file.py:name"
    assert stale_references(PAGE) == []


def test_reference_checker_catches_a_missing_file_function_and_member(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(
        "X = 1\n\ndef f():\n    pass\n\nclass C:\n    port: int\n\n    def m(self):\n        pass\n"
    )
    page = tmp_path / "page.md"
    page.write_text(
        "`pkg/mod.py:f` `pkg/mod.py:X` `pkg/mod.py:C.port` `pkg/mod.py:C.m` `pkg/mod.py` `pkg/<name>.py`\n"
        "`pkg/mod.py:g` `pkg/mod.py:C.n` `pkg/gone.py` `pkg/gone.py:f` `pkg/mod.py::test_x`\n"
    )
    assert stale_references(page, tmp_path) == [
        "pkg/gone.py: no such file",
        "pkg/gone.py: no such file",
        "pkg/mod.py:C.n: no such name",
        "pkg/mod.py:g: no such name",
    ]


# ---------------------------------------------------------------- layers and cycles


def _modules(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for layer in LAYERS:
        for path in (root / layer).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(module: str, path: Path) -> set[str]:
    """Absolute names of everything `module` imports, at any depth; `from a import b` gives a and a.b."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


# The one module every layer shares: the secret registry and scrubber (standard library only).
SHARED = ("benchmarks", "benchmarks.secrets")


def _forbidden(module: str, target: str) -> bool:
    top = target.split(".")[0]
    if module.startswith("components.rules"):
        return (
            top in ("pulumi", "pulumi_kubernetes", "pulumi_aws", "stacks", "policies", "tests")
            or (top == "components" and not target.startswith("components.rules"))
            or (top == "benchmarks" and target not in SHARED and not target.startswith("benchmarks.secrets."))
        )
    if module.startswith("components"):
        return top in ("stacks", "policies", "tests")
    if module.startswith("policies"):
        return top in ("stacks", "tests") or (top == "components" and not target.startswith("components.rules"))
    return False


def layer_violations(root: Path = ROOT) -> list[str]:
    return sorted(f"{m} imports {t}" for m, p in _modules(root).items() for t in _imports(m, p) if _forbidden(m, t))


def import_cycles(root: Path = ROOT) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    mods = _modules(root)
    edges = {m: sorted(t for t in _imports(m, p) if t in mods and t != m) for m, p in mods.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def test_layers_import_only_downwards():
    assert len(_modules()) > 100
    assert layer_violations() == []


def test_no_import_cycle_among_project_modules():
    assert import_cycles() == []


def test_checkers_catch_an_upward_import_and_a_cycle_hidden_in_a_function(tmp_path):
    rules = tmp_path / "components" / "rules"
    rules.mkdir(parents=True)
    (tmp_path / "components" / "__init__.py").write_text("")
    (rules / "__init__.py").write_text("")
    (rules / "a.py").write_text("from . import b\n")
    (rules / "b.py").write_text("def f():\n    from .a import x\n    import pulumi\n")
    (tmp_path / "components" / "comp.py").write_text("from stacks import program\nfrom .rules import a\n")
    (rules / "c.py").write_text("from benchmarks import secrets\nfrom benchmarks.loadgen import run_benchmark\n")
    assert layer_violations(tmp_path) == [
        "components.comp imports stacks",
        "components.comp imports stacks.program",
        "components.rules.b imports pulumi",
        "components.rules.c imports benchmarks.loadgen",
        "components.rules.c imports benchmarks.loadgen.run_benchmark",
    ]
    assert import_cycles(tmp_path) == [["components.rules.a", "components.rules.b"]]
