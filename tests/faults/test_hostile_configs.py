"""Hostile stack configs: each fails at parse time as one Problem line
naming the config key, the value, the rule and a fix, instead of reaching the API server."""

from __future__ import annotations

import copy
import typing

import jsonschema
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from components.rules import ConfigError
from components.rules.backends import hyperpod
from components.rules.bounds import INT32_MAX, MAX_TEXT
from stacks import schemas
from stacks.config import StackSpec, parse
from stacks.yamlio import load_text

GOOD = {
    "cluster": {"mode": "hyperpod", "name": "ml-dev"},
    "endpoints": [
        {
            "name": "qwen3-4b",
            "model": "Qwen/Qwen3-4B-Instruct-2507",
            "engine": "vllm",
            "instanceType": "ml.g5.8xlarge",
            "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-4b/"},
            "intelligentRouting": True,
        }
    ],
}


def with_(path: tuple, value) -> dict:
    values = copy.deepcopy(GOOD)
    target = values
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[path[-1]] = value
    return values


def problems_at(values: dict, path: str) -> list:
    with pytest.raises(ConfigError) as info:
        parse(values, "us-east-1")
    found = [p for p in info.value.problems if p.path == path]
    assert found, [str(p) for p in info.value.problems]
    for problem in info.value.problems:
        line = str(problem)
        assert "\n" not in line and len(line) < 600 and "Fix: " in line
    return found


def test_the_good_config_parses():
    assert parse(GOOD, "us-east-1").endpoints[0].name == "qwen3-4b"


# ---------------------------------------------------------------- int32 API fields


@pytest.mark.parametrize(
    "path, value, where",
    [
        (("endpoints", 0, "replicas"), 10**12, "endpoints[0].replicas"),
        (("endpoints", 0, "maxDeploySeconds"), 10**12, "endpoints[0].maxDeploySeconds"),
        (
            ("endpoints", 0, "autoscaling"),
            {"maxReplicas": 1e10, "cloudwatch": {"metricName": "m", "targetValue": 1}},
            "endpoints[0].autoscaling.maxReplicas",
        ),
        (("endpoints", 0, "engineArgs"), {"maxNumSeqs": 2**31}, "endpoints[0].engineArgs.maxNumSeqs"),
        (("cluster", "systemNodes"), {"maxSize": 2**40}, "cluster.systemNodes.maxSize"),
    ],
)
def test_integers_beyond_int32_are_config_errors_naming_the_key(path, value, where):
    (problem,) = problems_at(with_(path, value), where)
    assert "int32" in problem.message and str(INT32_MAX) in problem.fix


def _leaves(annotation, meta=()):
    """(leaf type, its Annotated metadata) for every scalar reachable from `annotation`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        yield from _leaves(base, meta + tuple(extra))
    elif origin is typing.Literal:
        return
    elif origin in (typing.Union, list, dict) or str(origin) == "<class 'types.UnionType'>":
        for arg in typing.get_args(annotation):
            yield from _leaves(arg)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for info in annotation.model_fields.values():
            yield from _leaves(info.annotation, tuple(info.metadata))
    elif annotation in (int, str):
        yield annotation, meta


def _scalar_fields():
    seen = set()
    for leaf, meta in _leaves(StackSpec):
        key = (leaf, repr(meta))
        if key not in seen:
            seen.add(key)
            yield leaf, typing.Annotated[(leaf, *meta)] if meta else leaf


def test_every_integer_field_is_bounded_to_int32():
    unbounded = [str(ann) for leaf, ann in _scalar_fields() if leaf is int and _accepts(ann, INT32_MAX + 1)]
    assert unbounded == []


def test_every_string_field_is_bounded_and_refuses_control_characters():
    strings = [ann for leaf, ann in _scalar_fields() if leaf is str]
    assert len(strings) > 20
    assert [str(a) for a in strings if _accepts(a, "a" * (MAX_TEXT + 1))] == []
    assert [str(a) for a in strings if _accepts(a, "a\x00b") or _accepts(a, "a\x1b[2Jb")] == []


def _accepts(annotation, value) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return False
    return True


def test_schema_check_honours_int32_format():
    checker = jsonschema.Draft7Validator({"type": "integer", "format": "int32"}, format_checker=schemas.FORMAT_CHECKER)
    assert checker.is_valid(INT32_MAX) and not checker.is_valid(INT32_MAX + 1) and not checker.is_valid(-(2**31) - 1)
    wide = jsonschema.Draft7Validator({"type": "integer", "format": "int64"}, format_checker=schemas.FORMAT_CHECKER)
    assert wide.is_valid(10**12) and not wide.is_valid(2**63)


def test_rendered_object_with_replicas_10_to_12_fails_the_crd_schema_check(make_endpoint, schema_validator):
    obj = hyperpod.endpoint_config(make_endpoint(), api_key="k")
    obj["spec"]["replicas"] = 10**12  # past the config model, e.g. a hand-written object
    result = schema_validator.validate(obj)
    assert result.status == "failed" and any(e.startswith("spec.replicas:") and "int32" in e for e in result.errors)


# ---------------------------------------------------------------- names and values


def test_router_service_must_be_a_dns_label_template():
    values = with_(("platform", "ingress", "routerService"), "{name.__class__.__mro__}")
    (problem,) = problems_at(values, "platform.ingress.routerService")
    assert problem.value == "{name.__class__.__mro__}" and "DNS-1035" in problem.message


def test_router_service_filled_in_must_fit_a_service_name():
    values = with_(("platform", "ingress", "routerService"), "{name}-" + "r" * 50)  # 57 characters
    values["endpoints"][0]["name"] = "a-long-endpoint-name-for-the-router"
    (problem,) = problems_at(values, "platform.ingress.routerService")
    assert "longer than 63" in problem.message


def test_operator_role_template_is_filled_by_replace_never_format():
    values = with_(("platform", "operatorRoleName"), "SageMakerHyperPodInference-{cluster.__class__}")
    problems_at(values, "platform.operatorRoleName")


@pytest.mark.parametrize(
    "secret, where, words",
    [
        ({"name": "HF Token!", "key": "token"}, "endpoints[0].modelSource.tokenSecret.name", "DNS-1123 subdomain"),
        ({"name": "hf-token", "key": "to ken"}, "endpoints[0].modelSource.tokenSecret.key", "Secret key"),
    ],
)
def test_token_secret_name_and_key_follow_kubernetes_rules(secret, where, words):
    source = {"type": "huggingface", "modelId": "Qwen/Qwen3-4B", "tokenSecret": secret}
    (problem,) = problems_at(with_(("endpoints", 0, "modelSource"), source), where)
    assert words in problem.message


def test_a_5_mb_env_value_is_refused_and_shown_shortened():
    (problem,) = problems_at(with_(("endpoints", 0, "env"), {"BIG": "x" * 5_000_000}), "endpoints[0].env.BIG")
    assert "262144" in problem.message and "5000000 characters" in str(problem)


def test_many_large_env_values_together_are_refused():
    env = {f"V{i}": "x" * 200_000 for i in range(4)}  # each under the per-value bound
    (problem,) = problems_at(with_(("endpoints", 0, "env"), env), "endpoints[0].env")
    assert "800008 characters" in problem.message and "ConfigMap" in problem.fix


def test_env_names_follow_kubernetes_rules():
    problems_at(with_(("endpoints", 0, "env"), {"MY VAR": "1"}), "endpoints[0].env.MY VAR (key)")


@pytest.mark.parametrize(
    "image", ["vllm/vllm-openai:v0.9\nevil", "vllm/vllm-openai: v0.9", "Vllm/UPPER:1", "repo//image", "a" * 300]
)
def test_image_must_be_an_oci_reference(image):
    problems_at(with_(("endpoints", 0, "image"), image), "endpoints[0].image")


@pytest.mark.parametrize(
    "image",
    [
        "vllm/vllm-openai:v0.9.2",
        "public.ecr.aws/aws-cli/aws-cli:2.27.50",
        "localhost:5000/a/b_c__d-e",
        "reg.io/x@sha256:" + "a" * 64,
    ],
)
def test_valid_image_references_pass(image):
    assert parse(with_(("endpoints", 0, "image"), image), "us-east-1").endpoints[0].image == image


@pytest.mark.parametrize(
    "path, value, where",
    [
        (("endpoints", 0, "model"), "Qwen/Qwen3\x1b[2J", "endpoints[0].model"),
        (("endpoints", 0, "extraArgs"), ["--x=1\n--api-key=evil"], "endpoints[0].extraArgs[0]"),
        (
            ("cluster", "instanceGroups"),
            [{"name": "g", "instanceType": "ml.g5.8xlarge", "labels": {"team": "a b"}}],
            "cluster.instanceGroups[0].labels.team",
        ),
        (("endpoints", 0, "name"), "n" * 300, "endpoints[0].name"),
    ],
)
def test_free_strings_are_bounded_single_lines(path, value, where):
    problems_at(with_(path, value), where)


# ---------------------------------------------------------------- messages


def test_yaml_boolean_where_a_string_was_meant_says_quote_it():
    endpoint = load_text("name: no\nmodel: m\n", "Pulumi.dev.yaml")
    assert endpoint["name"] is False  # YAML 1.1, as the loader reads it
    (problem,) = problems_at(with_(("endpoints", 0, "name"), endpoint["name"]), "endpoints[0].name")
    assert "boolean" in problem.message and problem.fix == 'quote it, e.g. name: "no"'


def test_yaml_boolean_in_an_env_value_names_the_env_key():
    (problem,) = problems_at(with_(("endpoints", 0, "env"), {"DEBUG": True}), "endpoints[0].env.DEBUG")
    assert problem.fix == 'quote it, e.g. DEBUG: "yes"'


@pytest.mark.parametrize(
    "path, value, where, expected, example",
    [
        (("endpoints", 0, "replicas"), "many", "endpoints[0].replicas", "an integer", "replicas: 1"),
        (("endpoints", 0, "replicas"), True, "endpoints[0].replicas", "an integer", "replicas: 1"),
        (
            ("endpoints", 0, "engineArgs"),
            {"gpuMemoryUtilization": "lots"},
            "endpoints[0].engineArgs.gpuMemoryUtilization",
            "a number",
            "gpuMemoryUtilization: 0.5",
        ),
        (("endpoints", 0, "publicAlb"), "sure", "endpoints[0].publicAlb", "true or false", "publicAlb: "),
        (("endpoints", 0, "extraArgs"), "--x", "endpoints[0].extraArgs", "a list", 'extraArgs: ["a", "b"]'),
        (("endpoints", 0, "env"), ["A=1"], "endpoints[0].env", "a mapping", "env: {"),
        (
            ("endpoints", 0, "modelSource"),
            {"type": "s3", "bucket": 7},
            "endpoints[0].modelSource.bucket",
            "a string",
            'bucket: "7"',
        ),
        (("cluster",), "ml-dev", "cluster", "a mapping", "cluster: {mode: ..., name: ...}"),
    ],
)
def test_type_errors_name_the_expected_type_and_an_example(path, value, where, expected, example):
    (problem,) = problems_at(with_(path, value), where)
    assert expected in problem.message and example in problem.fix
    assert "correct the value" not in problem.fix


# ---------------------------------------------------------------- line separators in user keys
@pytest.mark.parametrize("key", ["team\x1ea", "team\u2028a", "team\x85a", "team\na"])
def test_a_config_key_holding_a_line_separator_stays_one_problem_line(key):
    """Found by the config property (tests/faults/test_config_property.py): str.splitlines breaks at
    \\x1c-\\x1e, \\x85 and U+2028 as well as \\n, so a tag key holding one split its Problem in two."""
    with pytest.raises(ConfigError) as info:
        parse(with_(("endpoints", 0, "bogus" + key), 1), "us-east-1")
    for problem in info.value.problems:
        assert len(str(problem).splitlines()) == 1, str(problem)
    assert any("bogus" in str(p) and "\\" in str(p) for p in info.value.problems)
