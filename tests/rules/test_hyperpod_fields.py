"""`instanceTypes` and `requestLimits` on the hyperpod backend (G11, G23 per type; the CRD's mutual exclusions).

CRD: aws/sagemaker-hyperpod-cli@011ca927 helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml, `spec.instanceType` ("mutually exclusive with
instanceTypes"), `spec.instanceTypes` ("in order of preference"), `spec.nodeAffinity` ("mutually exclusive with
instanceType and instanceTypes"), `spec.worker.requestLimits`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from components.rules import ConfigError, fit
from components.rules.backends import hyperpod
from components.rules.spec import EndpointSpec
from components.rules.validate import validate_endpoint
from stacks import cost_summary, hyperpod_checks
from stacks.config import parse
from stacks.schemas import Validator, find_crd_dir
from tests.rules.model_facts_fixtures import LLAMA_70B

ROOT = Path(__file__).resolve().parents[2]
SOURCE = {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "m/"}


def entry(**over):
    return {
        "name": "qwen",
        "model": "Qwen/Qwen3-4B-Instruct-2507",
        "engine": "vllm",
        "backend": "hyperpod",
        "modelSource": SOURCE,
        **over,
    }


def spec(**over) -> EndpointSpec:
    return EndpointSpec.model_validate(entry(**over))


def test_g11_instance_types_render_in_order_and_never_beside_instance_type():
    obj = hyperpod.endpoint_config(spec(hyperpod={"instanceTypes": ["g6e.12xlarge", "ml.g5.12xlarge"]}), "us-east-1")
    assert obj["spec"]["instanceTypes"] == ["ml.g6e.12xlarge", "ml.g5.12xlarge"]
    assert "instanceType" not in obj["spec"]
    assert hyperpod.check(obj) == []
    # Without the list, the one type as before.
    assert (
        hyperpod.endpoint_config(spec(instanceType="ml.g5.8xlarge"), "us-east-1")["spec"]["instanceType"]
        == "ml.g5.8xlarge"
    )


def test_g11_the_first_instance_type_is_the_one_every_single_type_rule_reads():
    s = spec(hyperpod={"instanceTypes": ["ml.g6e.12xlarge", "ml.g5.12xlarge"]})
    assert s.instance_type == "ml.g6e.12xlarge"


def test_instance_type_and_a_different_instance_types_list_are_refused_together():
    with pytest.raises(ConfigError) as info:
        parse(
            {
                "cluster": {"mode": "hyperpod", "name": "ml-dev"},
                "endpoints": [entry(instanceType="ml.g5.8xlarge", hyperpod={"instanceTypes": ["ml.g5.12xlarge"]})],
            },
            "us-east-1",
            "dev",
        )
    (problem,) = info.value.problems
    assert "mutually exclusive" in problem.message and "instanceTypes" in problem.message


def test_g11_each_instance_type_is_checked_at_its_index():
    problems = validate_endpoint(
        spec(
            hyperpod={"instanceTypes": ["ml.g5.12xlarge", "ml.x9.large", "ml.g5.8xlarge", "ml.g5.12xlarge"]},
            engineArgs={"tensorParallelSize": 4},
        ),
        "endpoints[0]",
    )
    found = {(p.path, p.rule, p.value) for p in problems}
    assert ("endpoints[0].hyperpod.instanceTypes[1]", "G11", "ml.x9.large") in found  # unknown type
    assert ("endpoints[0].hyperpod.instanceTypes[3]", "G11", "ml.g5.12xlarge") in found  # listed twice
    tp = [p for p in problems if p.path == "endpoints[0].engineArgs.tensorParallelSize"]
    assert [p.message for p in tp] == ["g5.8xlarge has 1 GPU(s); tensor-parallel size cannot exceed it"]


def test_g11_an_unknown_first_type_is_named_where_the_user_wrote_it():
    problems = validate_endpoint(spec(hyperpod={"instanceTypes": ["ml.x9.large", "ml.g5.12xlarge"]}), "endpoints[0]")
    assert [(p.path, p.rule) for p in problems if p.rule == "G11"] == [
        ("endpoints[0].hyperpod.instanceTypes[0]", "G11")
    ]


def test_g11_a_hand_written_object_with_instance_type_and_instance_types_is_reported():
    obj = hyperpod.endpoint_config(spec(hyperpod={"instanceTypes": ["ml.g5.12xlarge"]}), "us-east-1")
    obj["spec"]["instanceType"] = "ml.g5.12xlarge"
    (problem,) = [p for p in hyperpod.check(obj) if p.rule == "G11"]
    assert problem.path == "spec.instanceTypes" and "mutually exclusive" in problem.message
    obj["spec"].pop("instanceTypes")
    obj["spec"]["nodeAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    assert [p.path for p in hyperpod.check(obj) if p.rule == "G11"] == ["spec.nodeAffinity"]


def test_the_crd_schema_has_no_rule_for_the_exclusion_so_the_check_is_what_catches_it():
    """crds/hyperpod/SOURCES.md: the schemas carry no x-kubernetes-validations; the exclusion is in descriptions only."""
    crd_dir, _ = find_crd_dir()
    if crd_dir is None:
        pytest.skip("no CRD directory (LLM_SERVING_CRD_DIR)")
    validator = Validator(Path(crd_dir))
    obj = hyperpod.endpoint_config(spec(hyperpod={"instanceTypes": ["ml.g5.12xlarge", "ml.g5.8xlarge"]}), "us-east-1")
    assert validator.validate(obj).status == "passed"
    both = {**obj, "spec": {**obj["spec"], "instanceType": "ml.g5.8xlarge"}}
    assert validator.validate(both).status == "passed" and hyperpod.check(both) != []
    wrong = {**obj, "spec": {**obj["spec"], "instanceTypes": "ml.g5.12xlarge"}}  # a string where the CRD has an array
    result = validator.validate(wrong)
    assert result.status != "passed" and any("instanceTypes" in str(e) for e in result.errors)


def test_g11_node_groups_derive_from_every_type_first_sized_the_rest_empty():
    cfg = parse(
        {
            "cluster": {"mode": "hyperpod", "name": "ml-dev"},
            "endpoints": [entry(hyperpod={"instanceTypes": ["ml.g6e.12xlarge", "ml.g5.12xlarge"]}, replicas=2)],
        },
        "us-east-1",
        "dev",
    )
    (change,) = [c for c in cfg.changes if c.path == "cluster.instanceGroups"]
    assert change.new == [
        {"name": "g5-12xlarge", "instanceType": "ml.g5.12xlarge", "instanceCount": 0},
        {"name": "g6e-12xlarge", "instanceType": "ml.g6e.12xlarge", "instanceCount": 2},
    ]


def test_g11_a_fallback_type_without_an_instance_group_is_named_by_index():
    cluster = {
        "mode": "hyperpod",
        "name": "ml-dev",
        "instanceGroups": [{"name": "g6e", "instanceType": "ml.g6e.12xlarge", "instanceCount": 1}],
    }
    with pytest.raises(ConfigError) as info:
        parse(
            {
                "cluster": cluster,
                "endpoints": [entry(hyperpod={"instanceTypes": ["ml.g6e.12xlarge", "ml.g5.12xlarge"]})],
            },
            "us-east-1",
            "dev",
        )
    assert [(p.path, p.rule) for p in info.value.problems] == [("endpoints[0].hyperpod.instanceTypes[1]", "G11")]


def test_g23_a_fallback_type_too_small_for_the_model_is_reported_at_its_index():
    # 70B in bf16 (141 GB of weights) with a 131072-token sequence (43 GB of KV cache at 327,680 bytes a token): eight
    # H100s hold it, eight A10Gs (8 x 22,888 MiB) do not.
    s = spec(
        model=LLAMA_70B.model,
        hyperpod={"instanceTypes": ["ml.p5.48xlarge", "ml.g5.48xlarge"]},
        engineArgs={"tensorParallelSize": 8, "maxModelLen": 131072},
    )
    _, first = fit.check(s, LLAMA_70B, "endpoints[0]")
    assert [p for p in first if p.severity == "error"] == []
    problems = hyperpod_checks.check([s], {LLAMA_70B.model: LLAMA_70B}, lambda i: f"endpoints[{i}]")
    (g23,) = [p for p in problems if p.rule == "G23"]
    assert (g23.path, g23.value, g23.severity) == ("endpoints[0].hyperpod.instanceTypes[1]", "ml.g5.48xlarge", "error")
    assert "ml.g5.48xlarge" in g23.message


def test_request_limits_render_on_the_worker():
    obj = hyperpod.endpoint_config(
        spec(instanceType="ml.g5.12xlarge", hyperpod={"requestLimits": {"maxConcurrentRequests": 32}}), "us-east-1"
    )
    assert obj["spec"]["worker"]["requestLimits"] == {"maxConcurrentRequests": 32, "overflowStatusCode": 429}
    with pytest.raises(ValidationError):
        spec(instanceType="ml.g5.12xlarge", hyperpod={"requestLimits": {"maxConcurrentRequests": 0}})  # CRD minimum 1


def test_other_backends_refuse_the_operators_fields():
    values = {
        "cluster": {"mode": "eks", "name": "k"},
        "endpoints": [
            entry(
                backend="kubernetes",
                hyperpod={
                    "instanceTypes": ["g5.12xlarge", "g6e.12xlarge"],
                    "requestLimits": {"maxConcurrentRequests": 8},
                },
            )
        ],
    }
    with pytest.raises(ConfigError) as info:
        parse(values, "us-east-1", "dev")
    assert {(p.path, p.rule) for p in info.value.problems} >= {
        ("endpoints[0].hyperpod.instanceTypes", "BACKEND"),
        ("endpoints[0].hyperpod.requestLimits", "BACKEND"),
    }


def test_the_cost_line_prices_the_first_type_and_names_the_spread(tmp_path):
    snap = json.loads((ROOT / "stacks" / "prices" / "us-east-1.json").read_text())
    source = snap["prices"][0]["source"]
    snap["prices"] += [
        {
            "service": "sagemaker-hyperpod",
            "instance_type": t,
            "usd_per_hour": usd,
            "source": source,
            "taken": snap["date"],
        }
        for t, usd in (("ml.g5.8xlarge", 2.5), ("ml.g6e.12xlarge", 10.25))
    ]
    (tmp_path / "us-east-1.json").write_text(json.dumps(snap))
    today = dt.date.fromisoformat(snap["date"])
    cfg = parse(
        {
            "cluster": {"mode": "hyperpod", "name": "ml-dev"},
            "endpoints": [entry(hyperpod={"instanceTypes": ["ml.g6e.12xlarge", "ml.g5.8xlarge", "ml.g5.12xlarge"]})],
        },
        "us-east-1",
        "dev",
    )
    lines = cost_summary.lines(cfg, tmp_path, today)
    (spread,) = [line for line in lines if "instanceTypes" in line]
    assert (
        spread
        == "  endpoints[0] hyperpod.instanceTypes: priced at the first, ml.g6e.12xlarge; the list spans $2.5/h (ml.g5.8xlarge) to $10.25/h (ml.g6e.12xlarge) per instance; no price for ml.g5.12xlarge"
    )
    assert "1 x ml.g6e.12xlarge (sagemaker-hyperpod) at $10.25/h" in lines[0]
    assert "ml.g5.8xlarge (sagemaker" not in lines[0]  # the empty fallback groups cost nothing


def test_g11_a_hand_written_object_is_checked_on_its_first_listed_type():
    obj = hyperpod.endpoint_config(
        spec(hyperpod={"instanceTypes": ["ml.g5.12xlarge", "ml.g6e.12xlarge"]}, engineArgs={"tensorParallelSize": 4}),
        "us-east-1",
    )
    assert hyperpod.check(obj) == []
    obj["spec"]["instanceTypes"] = ["ml.g5.8xlarge", "ml.g5.12xlarge"]  # one GPU first: tensor-parallel 4 cannot run
    assert [(p.path, p.rule) for p in hyperpod.check(obj)] == [("spec.worker.args[--tensor-parallel-size]", "G11")]
