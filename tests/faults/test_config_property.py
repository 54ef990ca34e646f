"""Property over the config model: any stack config either plans (exit 0 or 1)
or fails with exit 2 and one `Problem` line per problem, never a traceback.

Each example is a working stack file with a few keys (known or not, at any depth) set to hostile
values, run through `stacks plan` in-process on a temporary project.
"""

from __future__ import annotations

import io
import itertools
import re
import shutil
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from rich.console import Console

from components.rules.bounds import INT32_MAX, MAX_TEXT
from stacks import plan
from stacks.config import StackSpec

PROJECT = "llm-serving"
BASE = {
    "aws:region": "us-east-1",
    f"{PROJECT}:cluster": {"mode": "hyperpod", "name": "ml-dev"},
    f"{PROJECT}:endpoints": [
        {
            "name": "qwen3-4b",
            "model": "Qwen/Qwen3-4B-Instruct-2507",
            "engine": "vllm",
            "instanceType": "ml.g5.8xlarge",
            "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-4b/"},
        }
    ],
}
DICT_KEYS = ["A", "team", "bad key", "[/x]", "HF_TOKEN"]


def _members(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def _paths(annotation, depth=0):
    """Every config path a user could write below `annotation` (lists at index 0, dicts at a few keys)."""
    yield ()
    if depth > 5:
        return
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            for name, info in member.model_fields.items():
                for rest in _paths(info.annotation, depth + 1):
                    yield (info.alias or name, *rest)
        elif origin is list:
            for rest in _paths(typing.get_args(member)[0], depth + 1):
                yield (0, *rest)
        elif origin is dict:
            for key in DICT_KEYS:
                yield (key,)


PATHS = sorted({p for p in _paths(StackSpec) if p}, key=str) + [("bogusKey",), ("endpoints", 0, "engineArg")]

HOSTILE_TEXT = st.sampled_from(
    ["", " ", "no", "yes", "on", "off", "true", "null", "~", "[/x]", "[bold]", "{name.__class__.__mro__}", "{cluster}",
     "D(1,1)", "1e10", "-1", "💥", "é\u0301", "a\x00b", "line\nbreak", "\x1b[2J", "\u2028", "../../etc/passwd",
     "HF Token!", "Vllm/Image:1", "--api_key=x", "s3://b/p", "arn:aws:acm:us-east-1:123456789012:certificate/x"]
)
SCALARS = st.one_of(
    HOSTILE_TEXT,
    st.text(max_size=40),
    st.booleans(),
    st.none(),
    st.sampled_from([0, -1, 1, 2, 8, 65535, 65536, INT32_MAX, INT32_MAX + 1, 10**12, 10**30, -(2**63)]),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.builds(lambda ch, extra: ch * (MAX_TEXT + extra), st.sampled_from(["x", "é", "\n"]), st.sampled_from([-1, 1])),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(DICT_KEYS + ["name", "type", "replicas"]), st.text(max_size=8)), inner, max_size=3),
    ),
    max_leaves=6,
)
MUTATIONS = st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3)
PROBLEM_LINE = re.compile(r"^  \S.* = .*: \[[A-Z0-9]+\] .*\. Fix: .+$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # a rendered string may hold \t, \n, \r
MAX_OBJECT_BYTES = 1024 * 1024  # etcd refuses objects beyond ~1.5 MiB


def mutated(mutations) -> dict:
    config = {k: v for k, v in yaml.safe_load(yaml.safe_dump(BASE)).items()}
    for path, value in mutations:
        key = f"{PROJECT}:{path[0]}"
        if len(path) == 1:
            config[key] = value
            continue
        target = config.setdefault(key, [] if isinstance(path[1], int) else {})
        for part, nxt in itertools.pairwise(path[1:] + (None,)):
            if nxt is None:
                if isinstance(target, list) and part == 0:
                    target[:1] = [value]
                elif isinstance(target, dict):
                    target[part] = value
                break
            if isinstance(target, list) and part == 0:
                if not target or not isinstance(target[0], (dict, list)):
                    target[:1] = [[] if isinstance(nxt, int) else {}]
                target = target[0]
            elif isinstance(target, dict):
                if not isinstance(target.get(part), (dict, list)):
                    target[part] = [] if isinstance(nxt, int) else {}
                target = target[part]
            else:
                break
    return config


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(plan.PROJECT_DIR / name, root / name)
    return root


_runs = itertools.count()


def leaves(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def assert_within_api_bounds(directory: Path) -> None:
    """What a planned config renders is what the API server accepts: int32, no control characters, size."""
    for path in directory.glob("*.yaml"):
        text = path.read_text()
        assert len(text.encode()) < MAX_OBJECT_BYTES, path.name
        for leaf in leaves(list(yaml.safe_load_all(text))):
            if isinstance(leaf, int) and not isinstance(leaf, bool):
                assert -(2**31) <= leaf <= INT32_MAX, (path.name, leaf)
            elif isinstance(leaf, str):
                assert not CONTROL.search(leaf), (path.name, leaf[:80])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(mutations=MUTATIONS)
@example(mutations=[(("endpoints", 0, "replicas"), 10**12)])
@example(mutations=[(("endpoints", 0, "env"), {"A": "\x1b[2J" * 200_000})])
@example(mutations=[(("endpoints", 0, "image"), "repo/image:1\x00")])
def test_any_config_plans_or_fails_with_exit_2_and_problem_lines(project, mutations):
    stack = f"fuzz{next(_runs)}"
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": mutated(mutations)}, allow_unicode=True))
    out = io.StringIO()
    # markup=False: literal console output for data is tests/faults/test_console_markup.py's concern, tested with the plan output
    console = Console(file=out, width=200, markup=False, highlight=False)
    code = plan.run(stack, str(project / "out" / stack), None, "1.33", False, console, project)
    text = out.getvalue()
    event(f"exit {code}")
    assert code in (0, 1, 2), text
    if code == 2:
        lines = text.splitlines()
        assert lines and ("nothing was planned" in lines[0] or lines[0].startswith("error ")), text[:2000]
        assert all(PROBLEM_LINE.match(line) for line in lines[1:]), text[:2000]
    else:
        assert "Plan passed" in text or "Plan failed" in text
        assert_within_api_bounds(project / "out" / stack)
