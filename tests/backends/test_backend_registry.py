"""The backend registry (components/rules/backends/__init__.py:BACKENDS) is the only list of backends, and every
per-backend check reaches engine containers through the backends' `engine_views`."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest

from components.rules import security
from components.rules.backends import BACKENDS, reader, render
from components.rules.catalog import S3
from components.rules.spec import EndpointSpec

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = {
    "name": "qwen",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-4b/"},
}
KEY = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_s3_finds_a_plaintext_openai_key_in_every_backends_engine_container(backend):
    """A plaintext `OPENAI_API_KEY=sk-...` in the engine container: caught on every backend (it once passed on OME
    and KServe, whose engine containers S3 did not look into)."""
    spec = EndpointSpec.model_validate({**ENDPOINT, "backend": backend})
    objects = render(spec, region="us-east-1")
    found = []
    for obj in objects:
        for view in BACKENDS[backend].engine_views(obj):
            broken = copy.deepcopy(obj)
            container = reader.at(broken, view.path)
            key = "environmentVariables" if view.env_path.endswith("environmentVariables") else "env"
            container.setdefault(key, []).append({"name": "OPENAI_API_KEY", "value": KEY})
            found += [(obj["kind"], p.path) for p in security.check_plaintext_secrets(broken) if p.rule == S3]
    assert found, f"{backend}: no engine container carried the key into a finding"
    assert all(path.endswith("[OPENAI_API_KEY]") for _, path in found)


# ---------------------------------------------------------------- no backend named outside its module

EXCLUDED = ("components/rules/backends/", "tests/", "docs/", "venv/")
# Places that still name a backend, each with why; a new one fails the test below.
ALLOWED = {
    # OPERATOR_NAMESPACES: the namespaces the operators' charts hard-code, which share the backends' names
    ("components/rules/addons.py", "kserve"),
    ("components/rules/addons.py", "ome"),
}


def _names_backend(node: ast.AST, names: set[str]) -> list[str]:
    """Backend names a node compares with `backend`/`.backend`, or lists two or more of (a hand-written list)."""

    def text(n: ast.AST) -> str:
        return ast.unparse(n)

    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        if any("backend" in text(s) for s in sides):
            return [s.value for s in ast.walk(node) if isinstance(s, ast.Constant) and s.value in names]
    if isinstance(node, ast.BoolOp) and any("backend" in text(v) for v in node.values):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and v.value in names]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        found = [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names]
        return found if len(found) >= 2 else []
    if isinstance(node, ast.Dict):
        found = [k.value for k in [*node.keys, *node.values] if isinstance(k, ast.Constant) and k.value in names]
        return found if len(found) >= 2 else []
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Literal":
        found = [e.value for e in ast.walk(node.slice) if isinstance(e, ast.Constant) and e.value in names]
        return found if len(found) >= 2 else []
    return []


def literal_backends(root: Path, names: set[str]) -> set[tuple[str, str]]:
    out = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(EXCLUDED) or "/." in rel or rel.startswith("."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            out.update((rel, name) for name in _names_backend(node, names))
    return out


def test_no_module_names_a_backend_outside_the_backend_modules():
    found = literal_backends(ROOT, set(BACKENDS))
    assert found - ALLOWED == set()
    assert ALLOWED - found == set(), "an allowed place no longer names a backend: drop it from ALLOWED"


def test_a_backend_the_registry_does_not_know_is_one_config_error(tmp_path):
    """`backend: knative` names no registered backend: one line naming the key, the value and the registered ones."""
    from stacks.config import validate_stack

    spec = EndpointSpec.model_validate({**ENDPOINT, "backend": "knative"})
    (problem,) = validate_stack([spec], None, stack="dev", project_dir=tmp_path).problems
    assert (problem.path, problem.value, problem.fix) == (
        "endpoints[0].backend",
        "knative",
        "use one of 'hyperpod', 'kubernetes', 'ome', 'kserve' or 'llmisvc'",
    )
