"""The hand-written table of endpoint options in docs/backends.md, checked against the code.

The table is the claim; this file reads it and renders each row's config through the rule library (the same calls
`components/endpoints/hyperpod.py` makes), then compares every field the row names with what was rendered. Nothing
here is generated from the code under test: the expected values are the table's literals.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.rules import ConfigError
from components.rules import ingress as ingress_rules
from components.rules.addons import OPERATOR_NAMESPACE
from components.rules.backends import hyperpod
from components.rules.catalog import BY_ID
from components.rules.endpoint import resolve
from components.rules.spec import EndpointSpec, IngressSpec
from components.rules.tls import check_public_tls, tls_for
from components.rules.validate import validate_endpoint
from stacks.config import parse
from stacks.schemas import Validator, find_crd_dir

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "backends.md"
SECTION = "## Endpoint options against the operator"
COLUMNS = ["option", "config", "the operator (source)", "the stack renders", "rule", "test"]

# The options the table covers, one row each (hand-written, from the operator's options and the CRD's enums).
REQUIRED = {
    "engine: vllm",
    "engine: sglang",
    "modelSource: s3",
    "modelSource: s3 + hyperpod.prefetch",
    "modelSource: fsx",
    "modelSource: huggingface + hyperpod.prefetch",
    "modelSource: huggingface, no prefetch",
    "hyperpod.routingStrategy: prefixaware",
    "hyperpod.routingStrategy: kvaware",
    "hyperpod.routingStrategy: session",
    "hyperpod.routingStrategy: roundrobin",
    "hyperpod.kvCache.l1",
    "hyperpod.kvCache.l2, backend redis",
    "hyperpod.kvCache.l2, backend tieredstorage",
    "publicAlb: true",
    "publicAlb: false",
    "apiKey, no routing",
    "apiKey with routing",
    "TLS certificateArn",
    "TLS domain",
    "TLS dev opt-out",
    "autoscaling, CloudWatch",
    "autoscaling, Prometheus",
    "hyperpod.sagemakerEndpoint: true",
    "hyperpod.sagemakerEndpoint: false",
    "hyperpod.instanceTypes",
    "hyperpod.requestLimits",
    "hyperpod.pdSpec",
    "nodeAffinity",
    "dnsConfig",
    "dataCapture",
}

SPAN = re.compile(r"`([^`]+)`")
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")
SOURCE = re.compile(r"https://\S+|\b[\w.-]+\.(?:yaml|py|tpl|json)\b|\bCRD\b|observed on clusters")
ABSENT = "absent"
# Stands in for the ACM certificate the stack issues for `domain` (components/endpoints/tls.py
# `with_issued_certificate` puts the real one's ARN, an Output, in the same place).
ISSUED_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def _section() -> str:
    text = PAGE.read_text(encoding="utf-8")
    assert SECTION in text, f"docs/backends.md has no section {SECTION!r}"
    body = text.split(SECTION, 1)[1]
    return body.split("\n## ", 1)[0]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table_rows() -> list[dict[str, str]]:
    lines = [line for line in _section().splitlines() if line.startswith("|")]
    header, rule, *rows = lines
    assert _cells(header) == COLUMNS
    assert set(rule.replace("|", "").strip()) == {"-"}
    out = []
    for line in rows:
        cells = _cells(line)
        assert len(cells) == len(COLUMNS), line
        out.append(dict(zip(COLUMNS, cells)))
    return out


def base_endpoint() -> dict[str, Any]:
    """The endpoint every row's config is merged into, as the section's prose states it."""
    prose = _section().split("|", 1)[0]
    merged = prose.split("merged into", 1)[1]
    return yaml.safe_load(SPAN.search(merged).group(1))


def option_name(row: dict[str, str]) -> str:
    return row["option"].replace("`", "")


ROWS = table_rows()
IDS = [option_name(r) for r in ROWS]


# ---------------------------------------------------------------- claims: `path: value` on a rendered object


def _split_path(path: str) -> list[str]:
    """`spec.worker.args[--model]` -> ["spec", "worker", "args", "[--model]"]; dots inside brackets stay."""
    parts = re.findall(r"\[[^\]]*\]|[^.\[\]]+", path)
    assert "".join(p if p.startswith("[") else "." + p for p in parts).lstrip(".") == path, path
    return parts


def lookup(obj: Any, path: str) -> Any:
    """The value at `path`, or ABSENT. `[x]` is a dict key, the `name`d item of a list of dicts, or in a list of
    strings the value after the flag `x`."""
    here = obj
    for part in _split_path(path):
        if part.startswith("["):
            key = part[1:-1]
            if isinstance(here, dict):
                here = here.get(key, ABSENT)
            elif isinstance(here, list) and all(isinstance(i, dict) for i in here):
                here = next((i for i in here if i.get("name") == key), ABSENT)
            elif isinstance(here, list):
                here = here[here.index(key) + 1] if key in here and here.index(key) + 1 < len(here) else ABSENT
            else:
                return ABSENT
        else:
            if not isinstance(here, dict) or part not in here:
                return ABSENT
            here = here[part]
        if here is ABSENT:
            return ABSENT
    return here


def claims(cell: str) -> list[tuple[str, str, Any]]:
    """(kind, path, expected) for every code span of a 'stack renders' cell."""
    out = []
    for span in SPAN.findall(cell):
        target, sep, raw = span.partition(": ")
        assert sep, f"claim {span!r} is not `path: value`"
        expected = ABSENT if raw == ABSENT else yaml.safe_load(raw)
        if target == "Ingress":
            out.append(("Ingress", "", expected))
        elif target.startswith("Ingress "):
            out.append(("Ingress", target.removeprefix("Ingress "), expected))
        else:
            out.append(("InferenceEndpointConfig", target, expected))
    return out


def render_row(config: dict[str, Any]) -> tuple[EndpointSpec, IngressSpec, dict[str, Any], Any]:
    """The row's objects, built by the calls the hyperpod endpoint component makes."""
    config = dict(config)
    ingress = IngressSpec.model_validate(config.pop("platform.ingress", {}))
    spec = EndpointSpec.model_validate({**base_endpoint(), **config})
    if ingress.domain is not None and not ingress.certificate_arn:
        ingress = ingress.model_copy(update={"certificate_arn": ISSUED_ARN})
    obj = hyperpod.endpoint_config(spec, "us-east-1", api_key="sk-test", tls=tls_for(spec, ingress))
    ing: Any = ABSENT
    if ingress_rules.needs_ingress(spec):
        r = resolve(spec)
        ing = ingress_rules.alb_ingress(
            ingress_rules.ingress_name(r.name),
            OPERATOR_NAMESPACE,
            {"app.kubernetes.io/name": r.name},
            ingress_rules.ingress_annotations(spec, ingress, r.health_path),
            ingress_rules.router_service(ingress, r.name),
            ingress_rules.router_port(ingress),
        )
    return spec, ingress, obj, ing


# ---------------------------------------------------------------- the table's shape


def test_every_required_option_has_exactly_one_row():
    assert sorted(IDS) == sorted(REQUIRED)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_each_row_names_a_source_a_rendered_field_a_rule_and_a_test_that_exist(row):
    assert SOURCE.search(row["the operator (source)"]), (
        f"{option_name(row)}: the operator column names no doc, sample, chart or CRD"
    )
    rendered = row["the stack renders"]
    assert rendered.startswith("not rendered") or claims(rendered), f"{option_name(row)}: no rendered field"
    rule = row["rule"]
    if rule.startswith("none needed"):
        assert len(rule.removeprefix("none needed").strip(" :")) > 20, (
            f"{option_name(row)}: 'none needed' without a reason"
        )
    else:
        ids = [r.strip() for r in rule.split(",")]
        assert ids and all(r in BY_ID for r in ids), f"{option_name(row)}: {rule!r} names a rule not in the catalogue"
    refs = TEST_REF.findall(row["test"])
    assert refs, f"{option_name(row)}: no test cited"
    for file, name in refs:
        assert (ROOT / file).is_file() and re.search(
            rf"^def {name}\(", (ROOT / file).read_text(encoding="utf-8"), re.M
        ), f"{file}::{name}"
    assert f"(../{refs[0][0]})" in row["test"], f"{option_name(row)}: the test is not linked"


def test_the_table_checker_catches_a_wrong_claim_and_a_missing_field():
    # The checker itself, on literal objects: a wrong value and a missing field are reported, not passed.
    obj = {"spec": {"worker": {"args": ["--port", "8000"], "environmentVariables": [{"name": "K", "value": "v"}]}}}
    assert lookup(obj, "spec.worker.args[--port]") == "8000"
    assert lookup(obj, "spec.worker.args[--model]") == ABSENT
    assert lookup(obj, "spec.worker.environmentVariables[K].value") == "v"
    assert lookup(obj, "spec.kvCacheSpec.enableL1Cache") == ABSENT
    assert lookup({"metadata": {"annotations": {"a.b/c": "x"}}}, "metadata.annotations[a.b/c]") == "x"
    assert claims("`spec.x: true`, `Ingress: absent`") == [
        ("InferenceEndpointConfig", "spec.x", True),
        ("Ingress", "", ABSENT),
    ]


# ---------------------------------------------------------------- each row against the render path


@pytest.mark.parametrize(
    "row",
    [r for r in ROWS if not r["the stack renders"].startswith("not rendered")],
    ids=[i for i, r in zip(IDS, ROWS) if not r["the stack renders"].startswith("not rendered")],
)
def test_each_row_renders_what_it_claims(row):
    config = yaml.safe_load(SPAN.search(row["config"]).group(1))
    spec, ingress, obj, ing = render_row(config)
    # The row's config is one that works: no error from the config rules (in stack dev, where S2's opt-out warns).
    errors = [
        str(p)
        for p in validate_endpoint(spec, "endpoints[0]") + check_public_tls([spec], ingress, "dev")
        if p.severity == "error"
    ]
    assert errors == []
    assert [str(p) for p in hyperpod.check(obj) if p.severity == "error"] == []
    objects = {"InferenceEndpointConfig": obj, "Ingress": ing}
    for kind, path, expected in claims(row["the stack renders"]):
        target = objects[kind]
        actual = target if not path else (ABSENT if target is ABSENT else lookup(target, path))
        if not path and expected is not ABSENT:
            actual = ABSENT if target is ABSENT else "present"
        assert actual == expected, (
            f"{option_name(row)}: {kind} {path or '(object)'} is {actual!r}, the table says {expected!r}"
        )
    crd_dir, _ = find_crd_dir()
    if crd_dir is None:
        return  # schemas are optional for users; CI hands them in (conftest.crd_dir)
    validator = Validator(crd_dir)
    for target in (obj, ing):
        if target is not ABSENT:
            result = validator.validate(target)
            assert result.status == "passed", (target["kind"], result.errors)


# ---------------------------------------------------------------- operator fields the stack refuses


@pytest.mark.parametrize(
    "key, names",
    [
        ("nodeAffinity", "instanceTypes"),
        ("dnsConfig", "platform.ingress.domain"),
        ("dataCapture", "hyperpod-tls*/data-capture/*"),
    ],
)
def test_operator_fields_the_stack_covers_otherwise_are_refused_with_the_key_that_does(key, names):
    values = {"cluster": {"mode": "hyperpod", "name": "ml-dev"}, "endpoints": [{**base_endpoint(), key: {}}]}
    with pytest.raises(ConfigError) as info:
        parse(values, "us-east-1", "dev")
    (problem,) = info.value.problems
    assert (problem.path, problem.rule) == (f"endpoints[0].{key}", "CONFIG")
    assert names in str(problem) and "\n" not in str(problem)
    # A misspelt key elsewhere is still an ordinary unknown key.
    values["endpoints"][0] = {**base_endpoint(), key + "s": {}}
    with pytest.raises(ConfigError) as info:
        parse(values, "us-east-1", "dev")
    assert [p.message for p in info.value.problems] == ["unknown key"]
