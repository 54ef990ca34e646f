"""The security policies (S1-S7), called as CrossGuard calls them: a failing and a passing case each, and the
cases around each rule's edges. Shared builders: tests/policies/policy_case_builders.py."""

from __future__ import annotations

import pytest

from components.rules.resources import Resource
from tests.policies.policy_builders import API_KEY, k8s, render, run_policy
from tests.policies.policy_case_builders import (
    PROBES,
    ROUTED,
    TAGS,
    Case,
    assert_fails_then_passes,
    eks_cluster,
    gpu_statefulset,
    ingress,
    mutate,
    node_group,
    worker,
)

CASES: dict[str, Case] = {
    "s1-gpu-workload-limits-probes": (
        "S1",
        lambda: [k8s(gpu_statefulset())],
        lambda: [k8s(gpu_statefulset(**PROBES))],
        None,
        None,
    ),
    "s2-public-alb-tls": (
        "S2",
        lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b"))],
        lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", tls=True))],
        None,
        None,
    ),
    "s2-dev-plaintext-api-key": (
        "S2",
        lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", opt_out=True))],
        lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", tls=True))],
        None,
        "dev",
    ),
    "s3-no-plaintext-secrets": (
        "S3",
        lambda: [
            k8s(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "engine-env"},
                    "data": {"HF_TOKEN": "hf_" + "a1B2c3D4e5" * 4},
                }
            )
        ],
        lambda: [
            k8s(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "engine-env"},
                    "data": {"TOKENIZERS_PARALLELISM": "false", "HF_TOKEN_PATH": "/secrets/hf"},
                }
            )
        ],
        None,
        None,
    ),
    "s3-router-key-workaround": ("S3", lambda: [k8s(render(**ROUTED))], lambda: [k8s(render(apiKey=True))], None, None),
    "s4-eks-endpoint-not-public": (
        "S4",
        lambda: [eks_cluster(None)],
        lambda: [eks_cluster(["203.0.113.0/24"])],
        None,
        "prod",
    ),
    "s5-gpu-nodes-nvidia-ami": (
        "S5",
        lambda: [node_group("AL2023_x86_64_STANDARD")],
        lambda: [node_group("AL2023_x86_64_NVIDIA")],
        None,
        None,
    ),
    "s7-no-shared-namespace-owned": (
        "S7",
        lambda: [k8s({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})],
        lambda: [k8s({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm-gateway"}})],
        None,
        None,
    ),
    "s6-required-tags": (
        "S6",
        lambda: [Resource("aws:s3/bucket:Bucket", "tls", {"tags": {"llm-serving/stack": "prod"}})],
        lambda: [Resource("aws:s3/bucket:Bucket", "tls", {"tags": TAGS})],
        None,
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_policy_fails_then_passes(name, monkeypatch):
    assert_fails_then_passes(CASES, name, monkeypatch)


def test_s4_dev_stacks_are_exempt_and_configurable(monkeypatch):
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert run_policy("s4-eks-endpoint-not-public", [eks_cluster(["0.0.0.0/0"])]) == []
    assert run_policy("s4-eks-endpoint-not-public", [eks_cluster(["0.0.0.0/0"])], {"devStacks": ["sandbox"]})
    monkeypatch.delenv("PULUMI_STACK")
    assert run_policy("s4-eks-endpoint-not-public", [eks_cluster(["0.0.0.0/0"])]), "an unknown stack counts as non-dev"


def test_s2_public_alb_with_an_api_key_needs_tls(monkeypatch):
    """A key used to be enough; the bearer key then crossed the internet unencrypted."""
    monkeypatch.setenv("PULUMI_STACK", "prod")
    ((message, urn),) = run_policy("s2-public-alb-tls", [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b"))])
    assert message.startswith(
        "Ingress hyperpod-inference-system/llm-qwen3-4b: metadata.annotations.alb.ingress.kubernetes.io/scheme = 'internet-facing': [S2]"
    )
    assert "the key (Authorization: Bearer) and every prompt cross the internet in clear text" in message
    assert "Fix: set alb.ingress.kubernetes.io/certificate-arn (set platform.ingress.certificateArn" in message
    # Without a key as well: still refused.
    ((message, _),) = run_policy("s2-public-alb-tls", [k8s(render(intelligentRouting=True)), k8s(ingress("qwen3-4b"))])
    assert "neither TLS nor an API key" in message
    assert run_policy("s2-public-alb-tls", [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", scheme="internal"))]) == []


def test_s2_plaintext_opt_out_is_a_warning_in_dev_and_an_error_elsewhere(monkeypatch):
    keyed = [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", opt_out=True))]
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert run_policy("s2-public-alb-tls", keyed) == []
    ((message, _),) = run_policy("s2-dev-plaintext-api-key", keyed)
    assert (
        "metadata.annotations.llm-serving/allow-plaintext-api-key = 'true': [S2] dev stack 'dev' opted out of TLS"
        in message
    )
    monkeypatch.setenv("PULUMI_STACK", "staging")
    assert run_policy("s2-dev-plaintext-api-key", keyed) == []
    ((message, _),) = run_policy("s2-public-alb-tls", keyed)
    assert (
        "the opt-out llm-serving/allow-plaintext-api-key is for dev stacks only; stack 'staging' is not one" in message
    )
    monkeypatch.setenv("PULUMI_STACK", "sandbox")
    assert run_policy("s2-public-alb-tls", keyed, {"devStacks": ["sandbox"]}) == []


def test_s6_required_tags_come_from_config_and_provider_default_tags_count():
    bucket = Resource("aws:s3/bucket:Bucket", "tls", {"tags": TAGS})
    ((message, _),) = run_policy("s6-required-tags", [bucket], {"requiredTags": ["team"]})
    assert "tags = ['llm-serving/cluster', 'llm-serving/stack']: [S6] missing required tag(s) team" in message
    assert (
        run_policy(
            "s6-required-tags",
            [Resource("aws:s3/bucket:Bucket", "tls", {"tagsAll": {"team": "ml"}})],
            {"requiredTags": ["team"]},
        )
        == []
    )
    native = Resource(
        "aws-native:sagemaker:Cluster",
        "hp",
        {"tags": [{"key": "llm-serving/stack", "value": "prod"}, {"key": "llm-serving/cluster", "value": "x"}]},
    )
    assert run_policy("s6-required-tags", [native]) == []


def test_s3_secrets_are_never_printed_and_env_refs_are_fine():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "router"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "busybox",
                            "env": [
                                {"name": "OPENAI_API_KEY", "value": API_KEY},
                                {
                                    "name": "API_KEY_FROM_SECRET",
                                    "valueFrom": {"secretKeyRef": {"name": "k", "key": "api-key"}},
                                },
                                {"name": "ARGS_KEY", "value": "$(VLLM_API_KEY)"},
                            ],
                        }
                    ]
                }
            }
        },
    }
    ((message, _),) = run_policy("s3-no-plaintext-secrets", [k8s(deployment)])
    assert API_KEY not in message and "<redacted, 67 characters>" in message
    assert "env[OPENAI_API_KEY]" in message
    # The router exception is only for VLLM_API_KEY in an endpoint with intelligent routing.
    unrouted_plain = mutate(
        render(apiKey=True),
        lambda o: worker(o).update(environmentVariables=[{"name": "VLLM_API_KEY", "value": API_KEY}]),
    )
    assert run_policy("s3-no-plaintext-secrets", [k8s(unrouted_plain)])
    assert run_policy("s3-no-plaintext-secrets", [k8s(render(**ROUTED))]) == []


def test_s1_deployment_model_containers_are_left_to_g4_g11_so_one_mistake_reports_once():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llm"},
        "spec": {"template": {"spec": {"containers": gpu_statefulset()["spec"]["template"]["spec"]["containers"]}}},
    }
    assert run_policy("s1-gpu-workload-limits-probes", [k8s(deployment)]) == []
    assert run_policy("g04-probes-survive-model-load", [k8s(deployment)])


def test_s5_custom_launch_template_ami_is_not_judged_and_cpu_groups_are_ignored():
    assert (
        run_policy(
            "s5-gpu-nodes-nvidia-ami",
            [
                Resource(
                    "eks:index:ManagedNodeGroup",
                    "g",
                    {"instanceTypes": ["g6e.12xlarge"], "launchTemplate": {"id": "lt-1"}},
                )
            ],
        )
        == []
    )
    assert (
        run_policy(
            "s5-gpu-nodes-nvidia-ami",
            [
                Resource(
                    "aws:eks/nodeGroup:NodeGroup",
                    "sys",
                    {"instanceTypes": ["m6i.xlarge"], "amiType": "AL2023_x86_64_STANDARD"},
                )
            ],
        )
        == []
    )
    ((message, _),) = run_policy(
        "s5-gpu-nodes-nvidia-ami",
        [
            Resource(
                "aws:eks/nodeGroup:NodeGroup", "old", {"instanceTypes": ["p4d.24xlarge"], "amiType": "AL2_x86_64_GPU"}
            )
        ],
    )
    assert "end of life" in message
