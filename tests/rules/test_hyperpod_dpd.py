"""Disaggregated prefill and decode on the HyperPod operator (D1-D4).

Sources: AWS "Disaggregated Prefill and Decode for HyperPod inference" (crowecawcaw/aws-docs-history@87e331ad
docs/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-dpd.md): images, supported instance types, the PD
environment, "When DPD helps"; the CRD (aws/sagemaker-hyperpod-cli@011ca927 .../crd/inference.sagemaker.aws.amazon.com_
inferenceendpointconfigs.yaml) `spec.pdSpec`; EFA per type from getmoto/moto@5.2.5 moto/ec2/resources/instance_types.json.gz.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from components.rules import ConfigError
from components.rules.backends import hyperpod, hyperpod_dpd
from components.rules.model_facts import ModelFacts
from components.rules.spec import EndpointSpec
from components.rules.validate import validate_endpoint
from stacks import hyperpod_checks
from stacks.config import parse
from stacks.schemas import Validator, find_crd_dir
from stacks.tuning import grid as grid_mod
from tests.rules.model_facts_fixtures import LLAMA_70B

ROOT = Path(__file__).resolve().parents[2]
SOURCE = {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "llama70/"}
QWEN3_4B = ModelFacts(
    "Qwen/Qwen3-4B-Instruct-2507",
    "https://huggingface.co/Qwen/Qwen3-4B-Instruct-2507/resolve/main/config.json",
    None,
    "Qwen3ForCausalLM",
    36,
    32,
    8,
    128,
    2560,
    262144,
    4_022_468_096,
    "bfloat16",
    None,
    8_044_936_192,
    None,
    "2026-12-06",
)


PD = {"prefill": {"replicas": 1, "maxNumSeqs": 16}, "decode": {"replicas": 2, "maxNumSeqs": 32}}


def entry(**over):
    base = {
        "name": "llama70",
        "model": LLAMA_70B.model,
        "engine": "vllm",
        "backend": "hyperpod",
        "instanceType": "ml.p5.48xlarge",
        "engineArgs": {"tensorParallelSize": 8, "maxModelLen": 16384},
        "modelSource": SOURCE,
        "hyperpod": {"pdSpec": PD},
    }
    return {**base, **over}


def spec(**over) -> EndpointSpec:
    return EndpointSpec.model_validate(entry(**over))


def test_d1_dpd_renders_both_roles_with_gpus_and_the_pd_environment():
    obj = hyperpod.endpoint_config(spec(), "us-east-1")
    pd = obj["spec"]["pdSpec"]
    assert (pd["prefillSpec"]["replicas"], pd["decodingSpec"]["replicas"], pd["routingThreshold"]) == (1, 2, 4096)
    for role in ("prefillSpec", "decodingSpec"):
        assert (
            pd[role]["resources"]["requests"]["nvidia.com/gpu"] == "8"
            and pd[role]["resources"]["limits"]["nvidia.com/gpu"] == "8"
        )
    assert pd["prefillSpec"]["args"] == ["--max-num-seqs", "16"] and pd["decodingSpec"]["args"] == [
        "--max-num-seqs",
        "32",
    ]
    env = {e["name"]: e["value"] for e in obj["spec"]["worker"]["environmentVariables"]}
    assert (env["PYTHONHASHSEED"], env["LMCACHE_SAVE_DECODE_CACHE"], env["PD_BUFFER_SIZE"]) == (
        "0",
        "False",
        "8589934592",
    )
    assert obj["spec"]["worker"]["image"] == "lmcache/vllm-openai:v0.4.3"
    assert hyperpod.check(obj) == []


def test_d1_role_autoscaling_is_rendered_per_role_and_top_level_scaling_is_refused():
    s = spec(
        hyperpod={
            "pdSpec": {
                "decode": {
                    "replicas": 1,
                    "autoscaling": {
                        "minReplicas": 1,
                        "maxReplicas": 3,
                        "prometheus": {"query": "sum(vllm:num_requests_waiting)", "targetValue": 8},
                    },
                }
            }
        }
    )
    scaling = hyperpod.endpoint_config(s, "us-east-1")["spec"]["pdSpec"]["autoScalingSpec"]
    assert list(scaling) == ["decodingAutoScaling"]
    assert (
        scaling["decodingAutoScaling"]["maxReplicaCount"],
        scaling["decodingAutoScaling"]["prometheusTrigger"]["name"],
    ) == (3, "llama70-decode-prometheus")
    problems = validate_endpoint(
        spec(
            replicas=2, autoscaling={"minReplicas": 1, "maxReplicas": 2, "prometheus": {"query": "q", "targetValue": 1}}
        ),
        "endpoints[0]",
    )
    assert {(p.path, p.rule) for p in problems if p.severity == "error"} == {
        ("endpoints[0].replicas", "D1"),
        ("endpoints[0].autoscaling", "D1"),
    }


def test_d1_sglang_with_pdspec_is_refused():
    (problem,) = [p for p in validate_endpoint(spec(engine="sglang"), "endpoints[0]") if p.rule == "D1"]
    assert problem.path == "endpoints[0].hyperpod.pdSpec" and "vllm" in problem.fix


def test_d1_an_lmcache_build_older_than_awss_is_refused_and_another_image_warned():
    (old,) = [p for p in validate_endpoint(spec(image="lmcache/vllm-openai:v0.3.7"), "endpoints[0]") if p.rule == "D1"]
    assert old.severity == "error" and "lmcache/vllm-openai:v0.4.3" in old.fix
    (other,) = [
        p for p in validate_endpoint(spec(image="registry.example.com/my-vllm:1"), "endpoints[0]") if p.rule == "D1"
    ]
    assert other.severity == "warning"
    assert [
        p
        for p in validate_endpoint(
            spec(image="public.ecr.aws/deep-learning-containers/vllm:server-hyperpod-cuda-v1.1"), "endpoints[0]"
        )
        if p.rule == "D1"
    ] == []


def test_d1_a_hand_written_dpd_object_without_role_gpus_or_hash_seed_is_reported():
    obj = hyperpod.endpoint_config(spec(), "us-east-1")
    del obj["spec"]["pdSpec"]["decodingSpec"]["resources"]
    obj["spec"]["worker"]["environmentVariables"] = [
        e for e in obj["spec"]["worker"]["environmentVariables"] if e["name"] != "PYTHONHASHSEED"
    ]
    found = {(p.path, p.rule) for p in hyperpod.check(obj)}
    assert found == {
        ("spec.pdSpec.decodingSpec.resources", "D1"),
        ("spec.worker.environmentVariables[PYTHONHASHSEED]", "D1"),
    }


def test_d2_dpd_on_an_instance_type_aws_does_not_list_is_refused_each_entry_named():
    problems = [
        p
        for p in validate_endpoint(
            spec(
                instanceType=None,
                hyperpod={"pdSpec": PD, "instanceTypes": ["ml.p5.48xlarge", "ml.g6e.48xlarge", "ml.g5.2xlarge"]},
            ),
            "endpoints[0]",
        )
        if p.rule == "D2"
    ]
    assert [(p.path, p.value) for p in problems] == [
        ("endpoints[0].hyperpod.instanceTypes[1]", "ml.g6e.48xlarge"),
        ("endpoints[0].hyperpod.instanceTypes[2]", "ml.g5.2xlarge"),
    ]
    assert "EFA but not on AWS's DPD list" in problems[0].message and "no EFA" in problems[1].message
    obj = hyperpod.endpoint_config(spec(instanceType="ml.g6e.48xlarge"), "us-east-1")
    assert [p.path for p in hyperpod.check(obj) if p.rule == "D2"] == ["spec.instanceType"]


def test_d2_efa_table_matches_moto():
    """getmoto/moto@5.2.5 moto/ec2/resources/instance_types.json.gz: NetworkInfo.EfaSupported, EfaInfo.MaximumEfaInterfaces."""
    moto = pytest.importorskip("moto")
    with gzip.open(Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz") as f:
        data = json.loads(f.read())
    for name, interfaces in hyperpod_dpd.EFA_INTERFACES.items():
        net = data[name]["NetworkInfo"]
        assert (bool(net.get("EfaSupported")), (net.get("EfaInfo") or {}).get("MaximumEfaInterfaces", 0)) == (
            interfaces > 0,
            interfaces,
        ), name
    assert all(hyperpod_dpd.EFA_INTERFACES[t] > 0 for t in hyperpod_dpd.DPD_INSTANCE_TYPES)


def test_d3_a_threshold_above_every_input_of_the_workload_is_a_warning():
    s = spec(
        hyperpod={"pdSpec": {"routingThreshold": 8192}}, load={"peakRequestsPerSecond": 4, "workload": "D(4000,512)"}
    )
    (d3,) = [p for p in hyperpod_checks.check([s], {}, lambda i: f"endpoints[{i}]") if p.rule == "D3"]
    assert (d3.path, d3.value, d3.severity) == (
        "endpoints[0].hyperpod.pdSpec.routingThreshold",
        8192,
        "warning",
    ) and "largest 4000 tokens" in d3.message
    ok = spec(
        hyperpod={"pdSpec": {"routingThreshold": 2048}}, load={"peakRequestsPerSecond": 4, "workload": "D(4000,512)"}
    )
    assert [p for p in hyperpod_checks.check([ok], {}, lambda i: f"endpoints[{i}]") if p.rule == "D3"] == []


def test_d3_without_a_workload_the_threshold_is_named_unchecked():
    (d3,) = [p for p in hyperpod_checks.check([spec()], {}, lambda i: f"endpoints[{i}]") if p.rule == "D3"]
    assert d3.message.startswith("unchecked")


def test_d3_a_grid_point_is_judged_on_its_benchmark_with_the_shared_prefix_as_input():
    bench = grid_mod.Benchmark(scenario="D(1000,300)", prefix_tokens=2000, concurrency=[8])
    shape = grid_mod.dpd_shape(bench)
    assert (shape.input_typical, shape.input_max, shape.output_typical) == (3000, 3000, 300)
    multi = grid_mod.dpd_shape(grid_mod.Benchmark(scenario="D(1000,300)", turns=3))
    assert multi.input_max == 1000 + 2 * 1300


def test_d4_a_small_model_with_short_prompts_is_outside_awss_payoff_range():
    s = spec(model=QWEN3_4B.model, load={"peakRequestsPerSecond": 1, "workload": "D(512,128)"})
    (d4,) = [
        p for p in hyperpod_checks.check([s], {QWEN3_4B.model: QWEN3_4B}, lambda i: f"endpoints[{i}]") if p.rule == "D4"
    ]
    assert d4.severity == "warning"
    assert (
        d4.message
        == "outside the range where AWS says DPD pays off: 4.0B parameters < 70B; 512 input tokens < 4,000; 128 output tokens < 256; 1 requests/s < 2"
    )


def test_d4_a_70b_model_on_long_prompts_at_load_is_inside_the_range():
    s = spec(load={"peakRequestsPerSecond": 4, "workload": "N(6000,500)/(512,64)"})
    assert [
        p
        for p in hyperpod_checks.check([s], {LLAMA_70B.model: LLAMA_70B}, lambda i: f"endpoints[{i}]")
        if p.rule == "D4"
    ] == []
    (unknown,) = [p for p in hyperpod_checks.check([s], {}, lambda i: f"endpoints[{i}]") if p.rule == "D4"]
    assert unknown.message == "pay-off range unchecked for: model size (no models.lock.json entry)"


def test_dpd_stack_plans_and_the_rendered_object_passes_the_crd_schema():
    cfg = parse(
        {
            "cluster": {"mode": "hyperpod", "name": "ml-dev"},
            "endpoints": [entry(load={"peakRequestsPerSecond": 4, "workload": "N(6000,500)/(512,64)"})],
        },
        "us-east-1",
        "dev",
    )
    (groups,) = [c for c in cfg.changes if c.path == "cluster.instanceGroups"]
    assert groups.new == [
        {"name": "p5-48xlarge", "instanceType": "ml.p5.48xlarge", "instanceCount": 3}
    ]  # 1 prefill + 2 decode pods
    crd_dir, _ = find_crd_dir()
    if crd_dir is None:
        pytest.skip("no CRD directory (LLM_SERVING_CRD_DIR)")
    result = Validator(Path(crd_dir)).validate(hyperpod.endpoint_config(cfg.endpoints[0], "us-east-1"))
    assert result.status == "passed", result.errors


def test_pdspec_on_another_backend_is_refused():
    with pytest.raises(ConfigError) as info:
        parse(
            {
                "cluster": {"mode": "eks", "name": "k"},
                "endpoints": [entry(backend="kubernetes", instanceType="p5.48xlarge")],
            },
            "us-east-1",
            "dev",
        )
    assert ("endpoints[0].hyperpod.pdSpec", "BACKEND") in {(p.path, p.rule) for p in info.value.problems}


def test_g22_the_sagemaker_dpd_image_counts_as_an_lmcache_build():
    # AWS's DPD example runs kvCacheSpec L1 on public.ecr.aws/deep-learning-containers/vllm:server-hyperpod-cuda-v1.1,
    # which "include[s] LMCache 0.4.3" though its name does not say so.
    obj = hyperpod.endpoint_config(
        spec(
            image="public.ecr.aws/deep-learning-containers/vllm:server-hyperpod-cuda-v1.1",
            hyperpod={"pdSpec": PD, "kvCache": {"l1": True}},
        ),
        "us-east-1",
    )
    assert [p for p in hyperpod.check(obj) if p.rule in ("G22", "D1")] == []
    assert [
        p.rule
        for p in hyperpod.check(
            hyperpod.endpoint_config(
                spec(image="vllm/vllm-openai:v0.11.0", hyperpod={"kvCache": {"l1": True}}), "us-east-1"
            )
        )
        if p.rule == "G22"
    ] == ["G22"]


def test_d1_the_fixer_leaves_a_rendered_dpd_object_as_it_is():
    obj = hyperpod.endpoint_config(
        spec(
            instanceType=None,
            hyperpod={
                "pdSpec": PD,
                "instanceTypes": ["ml.p5.48xlarge", "ml.p5en.48xlarge"],
                "requestLimits": {"maxConcurrentRequests": 16},
            },
        ),
        "us-east-1",
    )
    fixed, changes = hyperpod.fix(obj)
    assert changes == [] and fixed == obj


def test_g9_a_dpd_endpoints_key_is_a_plain_value_for_its_router():
    # The operator creates a router for every DPD endpoint (AWS's DPD page), and its router receives only plain env values (G9).
    obj = hyperpod.endpoint_config(spec(apiKey=True), "us-east-1", api_key="sk-test")
    (key,) = [e for e in obj["spec"]["worker"]["environmentVariables"] if e["name"] == "VLLM_API_KEY"]
    assert key == {"name": "VLLM_API_KEY", "value": "sk-test"}
    key.pop("value")
    key["valueFrom"] = {"secretKeyRef": {"name": "llama70-api-key", "key": "api-key"}}
    assert [p.rule for p in hyperpod.check(obj)] == ["G9"]


@pytest.mark.parametrize("instance_type", ["ml.p6-b200.48xlarge", "ml.p6-b300.48xlarge"])
def test_d2_blackwell_types_on_awss_dpd_list_are_known_and_sized_with_eight_gpus(instance_type):
    # AWS lists both for DPD; EC2 reports 8 GPUs of 183,359 / 275,040 MiB each (moto's DescribeInstanceTypes data).
    s = spec(instanceType=instance_type)
    assert [p for p in validate_endpoint(s, "endpoints[0]") if p.severity == "error"] == []
    pd = hyperpod.endpoint_config(s, "us-east-1")["spec"]["pdSpec"]
    assert pd["prefillSpec"]["resources"]["limits"]["nvidia.com/gpu"] == "8"
