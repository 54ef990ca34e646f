"""Property over the config model: any stack config either plans (exit 0 or 1)
or fails with exit 2 and one `Problem` line per problem, never a traceback, and every line it prints is short.

Each example is a working stack file with a few keys (known or not, at any depth) set to hostile
values, run through `stacks plan` in-process on a temporary project. The key families whose numbers feed
arithmetic (`gateway`, an endpoint's `load`, `slo` and `capacity`) are drawn more often, with hostile numbers,
and an example may carry a capacity file whose numbers are hostile too.
"""

from __future__ import annotations

import io
import itertools
import json
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
    [
        "",
        " ",
        "no",
        "yes",
        "on",
        "off",
        "true",
        "null",
        "~",
        "[/x]",
        "[bold]",
        "{name.__class__.__mro__}",
        "{cluster}",
        "D(1,1)",
        "1e10",
        "-1",
        "💥",
        "é\u0301",
        "a\x00b",
        "line\nbreak",
        "\x1b[2J",
        "\u2028",
        "../../etc/passwd",
        "HF Token!",
        "Vllm/Image:1",
        "--api_key=x",
        "s3://b/p",
        "arn:aws:acm:us-east-1:123456789012:certificate/x",
    ]
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
        st.dictionaries(
            st.one_of(st.sampled_from(DICT_KEYS + ["name", "type", "replicas"]), st.text(max_size=8)), inner, max_size=3
        ),
    ),
    max_leaves=6,
)
HOSTILE_NUMBERS = st.sampled_from(
    [
        0,
        -1,
        -0.5,
        5e-324,
        1e-300,
        1e-6,
        1e6 + 1,
        86_401,
        1e308,
        -1e308,
        float("inf"),
        float("-inf"),
        float("nan"),
        2**31,
        10**30,
        True,
    ]
)
# The families whose numbers feed arithmetic: C1's replicas and $ a month, autoscaler targets, the gateway's rules.
FAMILIES = [
    p
    for p in PATHS
    if p[:1] == ("gateway",)
    or p[:3] in (("endpoints", 0, "load"), ("endpoints", 0, "slo"), ("endpoints", 0, "capacity"))
]
MUTATIONS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(PATHS), VALUES),
        st.tuples(st.sampled_from(FAMILIES), st.one_of(HOSTILE_NUMBERS, VALUES)),
    ),
    min_size=1,
    max_size=3,
)
WORKLOAD = "N(1024,256)/(256,64)"
CAPACITY_NUMBERS = [
    ("capacity", "value"),
    ("capacity", "lowerBound"),
    ("capacity", "values", 0),
    ("requestRate", "value"),
    ("requestRate", "lowerBound"),
    ("requestRate", "values", 0),
    ("cost", "perHour"),
    ("cost", "perMtokOutputAtSlo"),
]


def capacity_doc(hostile: list) -> dict:
    """A capacity file measured for BASE's endpoint, with some of its numbers replaced."""
    doc = {
        "schemaVersion": 1,
        "model": "Qwen/Qwen3-4B-Instruct-2507",
        "engine": "vllm",
        "instanceType": "ml.g5.8xlarge",
        "engineArgs": {},
        "workload": WORKLOAD,
        "slo": {"ttftP90": 1.0},
        "capacity": {
            "unit": "requests_per_second",
            "value": 4.4,
            "lowerBound": 4.0,
            "lowerBoundRule": "min over repeats",
            "values": [4.4],
            "source": "capacity search",
        },
        "requestRate": {"value": 4.4, "lowerBound": 4.0, "values": [4.4]},
        "measured": "2026-11-28",
        "run": "fuzz",
        "trial": "abc",
        "source": {},
        "cost": {"perHour": 1.2, "perMtokOutputAtSlo": 0.5, "priceSource": "fuzz"},
    }
    for path, value in hostile:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return doc


CAPACITY_FILES = st.one_of(
    st.none(), st.lists(st.tuples(st.sampled_from(CAPACITY_NUMBERS), HOSTILE_NUMBERS), max_size=2).map(capacity_doc)
)
# C1 with that file: its load, the SLO it was measured under, and sometimes the autoscaler target derived from it.
WITH_CAPACITY = {"load": {"peakRequestsPerSecond": 20, "workload": WORKLOAD}, "slo": {"ttftP90": 1.0}}
FROM_CAPACITY = {"minReplicas": 1, "maxReplicas": 4, "target": "fromCapacity"}
MAX_LINE = 2000  # a schema error once printed a whole 600-rule list as one line of 134,569 characters
PROBLEM_LINE = re.compile(r"^  \S.* = .*: \[[A-Z0-9]+\] .*\. Fix: .+$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # a rendered string may hold \t, \n, \r
MAX_OBJECT_BYTES = 1024 * 1024  # etcd refuses objects beyond ~1.5 MiB


def mutated(mutations, capacity_file: str | None = None, from_capacity: bool = False) -> dict:
    config = {k: v for k, v in yaml.safe_load(yaml.safe_dump(BASE)).items()}
    if capacity_file:
        endpoint = config[f"{PROJECT}:endpoints"][0]
        endpoint.update(
            WITH_CAPACITY, capacity=capacity_file, **({"autoscaling": FROM_CAPACITY} if from_capacity else {})
        )
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


TENANTS_300 = {
    "enabled": True,
    "counterStore": "in-cluster",
    "tiers": [{"name": "free", "tokensPerMinute": 200, "requestsPerMinute": 20}],
    "tenants": [{"name": f"t{i}", "tier": "free"} for i in range(300)],
}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(mutations=MUTATIONS, capacity=CAPACITY_FILES, from_capacity=st.booleans())
@example(mutations=[(("endpoints", 0, "replicas"), 10**12)], capacity=None, from_capacity=False)
@example(mutations=[(("endpoints", 0, "env"), {"A": "\x1b[2J" * 200_000})], capacity=None, from_capacity=False)
@example(mutations=[(("endpoints", 0, "image"), "repo/image:1\x00")], capacity=None, from_capacity=False)
@example(mutations=[(("gateway",), TENANTS_300)], capacity=None, from_capacity=False)
@example(
    mutations=[(("endpoints", 0, "load", "peakRequestsPerSecond"), 1e308)],
    capacity=capacity_doc([]),
    from_capacity=False,
)
@example(
    mutations=[(("endpoints", 0, "load", "peakRequestsPerSecond"), 1e6)],
    capacity=capacity_doc([(("requestRate", "lowerBound"), 1e-300)]),
    from_capacity=False,
)
@example(
    mutations=[(("endpoints", 0, "load", "peakRequestsPerSecond"), 1e-6)],
    capacity=capacity_doc([(("requestRate", "lowerBound"), 1e-6)]),
    from_capacity=True,
)
@example(
    mutations=[(("endpoints", 0, "slo", "ttftP90"), float("inf"))],
    capacity=capacity_doc([(("requestRate", "lowerBound"), -4)]),
    from_capacity=False,
)
def test_any_config_plans_or_fails_with_exit_2_and_problem_lines(project, mutations, capacity, from_capacity):
    stack = f"fuzz{next(_runs)}"
    capacity_file = None
    if capacity is not None:
        capacity_file = f"capacity/{stack}.json"
        (project / "capacity").mkdir(exist_ok=True)
        (project / capacity_file).write_text(json.dumps(capacity))  # json writes inf and nan as Infinity and NaN
    config = mutated(mutations, capacity_file, from_capacity)
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, allow_unicode=True))
    out = io.StringIO()
    # markup=False: literal console output for data is tests/faults/test_console_markup.py's concern, tested with the plan output
    console = Console(file=out, width=200, markup=False, highlight=False)
    code = plan.run(stack, str(project / "out" / stack), None, "1.33", False, console, project)
    text = out.getvalue()
    event(f"exit {code}")
    assert code in (0, 1, 2), text
    assert all(len(line) < MAX_LINE for line in text.splitlines()), max(text.splitlines(), key=len)[:2000]
    if code == 2:
        lines = text.splitlines()
        assert lines and ("nothing was planned" in lines[0] or lines[0].startswith("error ")), text[:2000]
        assert all(PROBLEM_LINE.match(line) for line in lines[1:]), text[:2000]
    else:
        assert "Plan passed" in text or "Plan failed" in text
        assert_within_api_bounds(project / "out" / stack)
