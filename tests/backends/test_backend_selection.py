"""Which backend runs an endpoint, and the up-front errors when the cluster cannot run it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.rules import ConfigError
from stacks.config import parse

EKS = {"mode": "eks", "name": "llm-eks", "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.12xlarge"}]}
HYPERPOD = {"mode": "hyperpod", "name": "ml-dev"}
ARN = "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcd1234efgh"
ENDPOINT: dict[str, Any] = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-4b/"},
}


def values(cluster: dict[str, Any], platform: dict[str, Any] | None = None, **endpoint: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"cluster": copy.deepcopy(cluster), "endpoints": [{**ENDPOINT, **endpoint}]}
    if platform is not None:
        out["platform"] = platform
    return out


def problems(vals: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(vals, "us-east-1")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    "cluster, platform, expected",
    [
        (HYPERPOD, None, "hyperpod"),
        (EKS, None, "kubernetes"),
        ({"mode": "existing", "name": "adopted"}, None, "kubernetes"),
        ({"mode": "existing", "name": "adopted", "hyperpodClusterArn": ARN}, None, "hyperpod"),
        ({"mode": "existing", "name": "adopted"}, {"hyperpodOperator": True}, "hyperpod"),
    ],
)
def test_default_backend_follows_the_cluster(cluster, platform, expected):
    cfg = parse(
        values(cluster, platform, instanceType="ml.g5.12xlarge" if cluster["mode"] == "hyperpod" else "g5.12xlarge"),
        "us-east-1",
    )
    assert cfg.endpoints[0].backend == expected


def test_an_explicit_backend_wins():
    assert parse(values(EKS, backend="kserve"), "us-east-1").endpoints[0].backend == "kserve"


def test_hyperpod_backend_on_eks_without_the_operator_is_one_line_naming_path_value_rule_and_fix():
    (line,) = problems(values(EKS, backend="hyperpod"))
    assert line.startswith(
        "endpoints[0].backend = 'hyperpod': [BACKEND] the HyperPod inference operator does not run on this eks cluster"
    )
    assert "Fix: set backend: kubernetes" in line and "\n" not in line


def test_hyperpod_backend_on_an_adopted_cluster_says_to_set_the_arn():
    (line,) = problems(values({"mode": "existing", "name": "adopted"}, backend="hyperpod"))
    assert "cluster.hyperpodClusterArn" in line


def test_unknown_backend_is_a_config_error():
    (line,) = problems(values(EKS, backend="ray"))
    assert line.startswith("endpoints[0].backend = 'ray': [CONFIG] not an allowed value")


@pytest.mark.parametrize(
    "endpoint, path, rule",
    [
        ({"intelligentRouting": True}, "endpoints[0].hyperpod.intelligentRouting", "BACKEND"),
        ({"kvCache": {"l1": True}}, "endpoints[0].hyperpod.kvCache", "BACKEND"),
        (
            {"modelSource": {"type": "fsx", "fileSystemId": "fs-0123456789abcdef0"}},
            "endpoints[0].modelSource.type",
            "BACKEND",
        ),
        (
            {"autoscaling": {"maxReplicas": 3, "cloudwatch": {"metricName": "m", "targetValue": 8}}},
            "endpoints[0].autoscaling",
            "BACKEND",
        ),
        ({"publicAlb": True, "loadBalancer": "none"}, "endpoints[0].publicAlb", "G8"),
        # A BenchmarkJob cannot carry an API key (its CRD has no field for one).
        (
            {
                "backend": "ome",
                "loadBalancer": "none",
                "apiKey": True,
                "ome": {"benchmark": {"outputLocation": "pvc://bench/r"}},
            },
            "endpoints[0].ome.benchmark",
            "BACKEND",
        ),
        (
            {"backend": "ome", "loadBalancer": "alb"},
            "endpoints[0].loadBalancer",
            "BACKEND",
        ),  # explicit; the default is none
    ],
)
def test_hyperpod_only_features_are_rejected_on_other_backends(endpoint, path, rule):
    lines = problems(values(EKS, **endpoint))
    assert any(line.startswith(f"{path} = ") and f"[{rule}]" in line and "Fix: " in line for line in lines), lines


@pytest.mark.parametrize(
    "platform, endpoint, path, words",
    [
        ({"s3Csi": False}, {}, "endpoints[0].kubernetes.weights", "platform.s3Csi: true"),
        ({"keda": False}, {"backend": "ome", "loadBalancer": "none"}, "endpoints[0].backend", "KEDA"),
        ({"certManager": False, "keda": False}, {"backend": "kserve"}, "endpoints[0].backend", "cert-manager"),
        (
            {"loadBalancerController": False},
            {"loadBalancer": "nlb"},
            "endpoints[0].loadBalancer",
            "Load Balancer Controller",
        ),
        ({"nvidiaDevicePlugin": False}, {}, "endpoints[0].backend", "NVIDIA device plugin"),
    ],
)
def test_platform_add_ons_each_backend_needs(platform, endpoint, path, words):
    lines = problems(values(EKS, platform, **endpoint))
    assert any(line.startswith(path) and words in line for line in lines), lines


def test_kubernetes_endpoint_on_eks_has_no_hyperpod_operator_warning():
    cfg = parse(values(EKS), "us-east-1")
    assert not [w for w in cfg.warnings if "HyperPod" in w.message]


def test_public_load_balancer_without_intelligent_routing_is_fine_outside_hyperpod():
    tls = {
        "ingress": {
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
        }
    }  # S2
    cfg = parse(values(EKS, tls, publicAlb=True, apiKey=True), "us-east-1")
    assert cfg.endpoints[0].public_alb and cfg.endpoints[0].backend == "kubernetes"


def test_hyperpod_options_moved_into_the_hyperpod_block_are_read_and_logged_once_each():
    """The old top-level `intelligentRouting`/`routingStrategy` still work for one release: read into `hyperpod:`,
    with one change line per key naming the old and the new key."""
    cfg = parse(values(HYPERPOD, intelligentRouting=True, routingStrategy="session"), "us-east-1")
    assert (cfg.endpoints[0].hyperpod.intelligent_routing, cfg.endpoints[0].hyperpod.routing_strategy) == (
        True,
        "session",
    )
    moved = [str(c) for c in cfg.changes if "moved" in c.reason]
    assert moved == [
        "[CONFIG] endpoints[0].intelligentRouting: True -> 'endpoints[0].hyperpod.intelligentRouting' (moved: write it as hyperpod.intelligentRouting; the top-level key is read for this release only)",
        "[CONFIG] endpoints[0].routingStrategy: 'session' -> 'endpoints[0].hyperpod.routingStrategy' (moved: write it as hyperpod.routingStrategy; the top-level key is read for this release only)",
    ]


def test_a_hyperpod_option_in_both_places_is_refused():
    (line,) = problems(values(HYPERPOD, intelligentRouting=True, hyperpod={"intelligentRouting": False}))
    assert (
        "intelligentRouting is set both at the top level and under hyperpod: keep hyperpod.intelligentRouting only"
        in line
    )


def test_the_hyperpod_block_needs_no_log_line():
    cfg = parse(values(HYPERPOD, hyperpod={"intelligentRouting": True}), "us-east-1")
    assert cfg.endpoints[0].hyperpod.intelligent_routing is True
    assert not [c for c in cfg.changes if "moved" in c.reason]
