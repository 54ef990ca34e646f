"""Typed stack config: defaults, and one clear line per problem before anything is declared."""

import copy

import pytest

from components.rules import ConfigError
from stacks.config import parse

GOOD = {
    "cluster": {"mode": "hyperpod", "name": "ml-dev"},
    "endpoints": [
        {
            "name": "Qwen3-4B-Instruct-2507-2026-01-06-04-30-58-238-vllm",
            "model": "Qwen/Qwen3-4B-Instruct-2507",
            "engine": "vllm",  # G21: routing works only with vLLM
            "instanceType": "ml.g5.8xlarge",
            "replicas": 1,
            "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
            "intelligentRouting": True,
            "publicAlb": True,
            "apiKey": True,
            "kvCache": {"l1": False, "l2": False},
            "engineArgs": {
                "maxModelLen": 12288,
                "tensorParallelSize": 1,
                "gpuMemoryUtilization": 0.9,
                "enablePrefixCaching": True,
            },
        }
    ],
    # S2: a public ALB with a key has TLS.
    "platform": {
        "ingress": {
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
        }
    },
}


def broken(path, value):
    values = copy.deepcopy(GOOD)
    target = values
    *parents, last = path
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return values


def problems_of(values, region="us-east-1"):
    with pytest.raises(ConfigError) as info:
        parse(values, region)
    return info.value.problems


def test_the_issue_example_parses_with_typed_defaults():
    cfg = parse(GOOD, "us-east-1")
    spec = cfg.endpoints[0]
    assert spec.engine == "vllm" and spec.instance_type == "ml.g5.8xlarge"
    assert spec.engine_args.max_model_len == 12288
    assert spec.namespace == "default" and spec.hyperpod.routing_strategy == "prefixaware"
    assert cfg.cluster.mode == "hyperpod" and cfg.guardrail_transforms is True


@pytest.mark.parametrize(
    "path,value,where,rule",
    [
        (("endpoints", 0, "engine"), "tgi", "endpoints[0].engine", "CONFIG"),
        (("endpoints", 0, "engineArgs", "tensorParallelSize"), 8, "endpoints[0].engineArgs.tensorParallelSize", "G11"),
        (
            ("endpoints", 0, "kvCache"),
            {"l2": True, "l2Backend": "redis"},
            "endpoints[0].engineArgs.enablePrefixCaching",
            "G7",
        ),
        (("endpoints", 0, "engine"), "sglang", "endpoints[0].hyperpod.intelligentRouting", "G21"),
        (("endpoints", 0, "intelligentRouting"), False, "endpoints[0].publicAlb", "G8"),
        (("endpoints", 0, "engineArgs", "maxNumSeqs"), 0, "endpoints[0].engineArgs.maxNumSeqs", "CONFIG"),
        (("endpoints", 0, "engineArgs", "maxNumSeq"), 8, "endpoints[0].engineArgs.maxNumSeq", "CONFIG"),
        (("endpoints", 0, "modelSource", "bucket"), KeyError, "endpoints[0].modelSource.bucket", "CONFIG"),
        (("endpoints", 0, "modelSource", "type"), "gcs", "endpoints[0].modelSource.type", "CONFIG"),
        (("cluster", "mode"), "gke", "cluster.mode", "CONFIG"),
    ],
)
def test_each_wrong_value_is_one_line_naming_path_value_rule_and_fix(path, value, where, rule):
    problems = problems_of(broken(path, value))
    assert [(p.path, p.rule) for p in problems] == [(where, rule)]
    line = str(problems[0])
    assert line.startswith(where) and f"[{rule}]" in line and "Fix: " in line
    assert "\n" not in line


def test_duplicate_names_after_normalisation():
    values = copy.deepcopy(GOOD)
    second = dict(values["endpoints"][0], name=values["endpoints"][0]["name"].upper().replace("-", "_"))
    values["endpoints"].append(second)
    assert [(p.path, p.rule) for p in problems_of(values)] == [("endpoints[1].name", "G2")]


def test_all_problems_are_reported_at_once():
    values = broken(("endpoints", 0, "kvCache"), {"l2": True, "l2Backend": "redis"})
    values["endpoints"][0]["engineArgs"]["tensorParallelSize"] = 4
    assert {p.rule for p in problems_of(values)} == {"G7", "G11"}


def test_missing_region():
    assert [(p.path, p.rule) for p in problems_of(GOOD, region=None)] == [("aws:region", "CONFIG")]


def test_warnings_are_returned_not_raised():
    values = copy.deepcopy(GOOD)
    values["endpoints"][0].update(engine="vllm", kvCache={"l1": True, "l2": True})
    del values["endpoints"][0]["engineArgs"]["enablePrefixCaching"]  # G7: the operator manages it with L2
    cfg = parse(values, "us-east-1")
    assert [(w.rule, w.severity) for w in cfg.warnings] == [("G7", "warning")]


# ---------------------------------------------------------------- Pulumi's secret form in the stack file

CIPHERTEXT = "v1:AAABBBCCC0123456789xyz"  # what `pulumi config set --secret --path` writes as `{secure: ...}`


def test_a_pulumi_secret_in_an_env_value_is_accepted_as_the_marker():
    values = broken(("endpoints", 0, "env"), {"WANDB_PROJECT": {"secure": CIPHERTEXT}})
    assert parse(values, "us-east-1").endpoints[0].env == {"WANDB_PROJECT": "[secret]"}


def test_a_pulumi_secret_under_a_secret_name_is_s3_with_the_tokensecret_fix_not_a_type_error():
    values = broken(("endpoints", 0, "env"), {"HF_TOKEN": {"secure": CIPHERTEXT}})
    (problem,) = problems_of(values)
    assert (problem.path, problem.rule) == ("endpoints[0].env.HF_TOKEN", "S3")
    line = str(problem)
    assert "modelSource.tokenSecret" in line and "Pulumi secret" in line and "expected a string" not in line
    assert "AAABBBCCC" not in line


@pytest.mark.parametrize(
    "path, where, command",
    [
        (("endpoints", 0, "name"), "endpoints[0].name", "pulumi config set --path 'endpoints[0].name' VALUE"),
        (
            ("endpoints", 0, "modelSource", "bucket"),
            "endpoints[0].modelSource.bucket",
            "pulumi config set --path 'endpoints[0].modelSource.bucket' VALUE",
        ),
        (("cluster",), "cluster", "pulumi config set cluster VALUE"),
    ],
)
def test_a_pulumi_secret_where_a_plain_value_belongs_names_the_key_once_without_the_ciphertext(path, where, command):
    problems = problems_of(broken(path, {"secure": CIPHERTEXT}))
    assert [p.path for p in problems] == [where]
    line = str(problems[0])
    assert "needs a plain value" in line and command in line and "AAABBBCCC" not in line


def test_a_pulumi_secret_as_the_region_is_refused_without_the_ciphertext():
    (problem,) = problems_of(GOOD, region={"secure": CIPHERTEXT})
    assert (
        problem.path == "aws:region"
        and "pulumi config set aws:region VALUE" in str(problem)
        and "AAABBBCCC" not in str(problem)
    )


def test_on_pulumi_up_the_env_values_of_a_secret_key_are_registered():
    from benchmarks.secrets import scrub
    from stacks.config import register_pulumi_secrets

    values = {
        "endpoints": [{"name": "a", "env": {"WANDB_PROJECT": "decrypted-1234abcd"}}],
        "platformStack": "org/p/platform-prod",
    }
    register_pulumi_secrets(values, lambda key: key == "endpoints")
    assert (
        scrub("value decrypted-1234abcd") == "value [secret]" and scrub("org/p/platform-prod") == "org/p/platform-prod"
    )


# ---------------------------------------------------------------- one verdict: stack file, endpoints-only stack, grid point

ONE_VERDICT_CLUSTER = {
    "mode": "hyperpod",
    "name": "hp",
    "instanceGroups": [{"name": "g5", "instanceType": "ml.g5.12xlarge", "instanceCount": 1}],
}
# A router Service name over 63 characters once {name} is filled in: grid pruning never ran this validator.
ONE_VERDICT_PLATFORM = {"ingress": {"routerService": "a-router-service-name-that-is-long-enough-to-overflow-63-{name}"}}
ONE_VERDICT_ENDPOINT = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B",
    "engine": "vllm",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "models"},
    "intelligentRouting": True,
}
ROUTER = "[CONFIG] becomes 'a-router-service-name-that-is-long-enough-to-overflow-63-qwen3-4b' for {where}, longer than 63 characters"
NO_GROUP = "[G11] no instance group of {owner} has this instance type (have: ml.g5.12xlarge)"


def _platform_project(tmp_path):
    import yaml

    (tmp_path / "Pulumi.yaml").write_text("name: llm-serving\nruntime: python\n")
    config = {
        "aws:region": "us-east-1",
        "llm-serving:cluster": ONE_VERDICT_CLUSTER,
        "llm-serving:platform": ONE_VERDICT_PLATFORM,
    }
    (tmp_path / "Pulumi.platform.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


def _verdict(problems):
    return sorted(f"{p.path}: [{p.rule}] {p.message}" for p in problems if p.severity == "error")


def test_one_verdict_a_stack_file_an_endpoints_only_stack_and_a_grid_point_get_the_same_problems(tmp_path):
    """Grid pruning ran a subset of the validators (no router, gateway or cluster ones) and rewrote problem
    paths with string replacement; now each surface names the same problems at its own paths."""
    import yaml

    from stacks.tuning import grid as grid_mod
    from stacks.tuning.pulumi_target import with_cluster_context

    values = {"cluster": ONE_VERDICT_CLUSTER, "platform": ONE_VERDICT_PLATFORM, "endpoints": [ONE_VERDICT_ENDPOINT]}
    whole = _verdict(problems_of(values))
    assert whole == [
        f"endpoints[0].instanceType: {NO_GROUP.format(owner='cluster hp')}",
        f"platform.ingress.routerService: {ROUTER.format(where='endpoints[0]')}",
    ]
    project = _platform_project(tmp_path)
    with pytest.raises(ConfigError) as info:
        parse({**values, "platformStack": "acme/llm-serving/platform"}, "us-east-1", "endpoints", project)
    assert _verdict(info.value.problems) == [
        f"endpoints[0].instanceType: {NO_GROUP.format(owner='platform stack ' + repr('acme/llm-serving/platform') + ' (cluster hp)')}",
        f"platform.ingress.routerService: {ROUTER.format(where='endpoints[0]')}",
    ]
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump(
            {
                "name": "g",
                "target": "pulumi",
                "base": ONE_VERDICT_ENDPOINT,
                "parameters": {"engineArgs.maxNumSeqs": [8]},
                "pulumi": {"projectDir": str(project), "baseStack": "platform"},
            }
        )
    )
    (point,) = grid_mod.expand(with_cluster_context(grid_mod.load(grid)))
    assert _verdict(point.problems) == [
        f"Pulumi.platform.yaml:platform.ingress.routerService: {ROUTER.format(where='base')}",
        f"base.instanceType: {NO_GROUP.format(owner='platform stack ' + repr('platform') + ' (cluster hp)')}",
    ]


def test_an_endpoints_only_stack_is_placed_only_when_the_platform_stacks_file_is_here(tmp_path):
    values = {"cluster": ONE_VERDICT_CLUSTER, "endpoints": [ONE_VERDICT_ENDPOINT], "platformStack": "elsewhere"}
    assert (
        parse(values, "us-east-1", "endpoints", _platform_project(tmp_path)).endpoints[0].instance_type
        == "ml.g5.8xlarge"
    )
    other_project = {**values, "platformStack": "acme/other-project/platform"}
    assert parse(other_project, "us-east-1", "endpoints", tmp_path).endpoints[0].instance_type == "ml.g5.8xlarge"
