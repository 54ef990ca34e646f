"""S7: the stack never owns a namespace it shares with the cluster. A gateway namespace of `kube-system`
planned clean, and the stack declared that Namespace: removing the gateway or destroying the stack would
have deleted the cluster's system pods. One list (components/rules/namespaces.py), one test per place
the stack declares a Namespace."""

from __future__ import annotations

import copy

import pytest

from components.rules import ConfigError, namespaces
from stacks import plan as plan_cmd
from tests.clusters.helpers import run_stack
from tests.example_stacks import user_values


@pytest.mark.parametrize(
    "name", ["default", "kube-system", "kube-public", "kube-node-lease", "hyperpod-inference-system"]
)
def test_s7_gateway_namespace_shared_with_the_cluster_is_refused_at_config_time(name):
    values = copy.deepcopy(user_values("eks"))
    values["llm-serving:gateway"]["namespace"] = name
    with pytest.raises(ConfigError) as err:
        plan_cmd.build_plan_from_values("eks", values)
    found = [(p.rule, p.path, p.value, p.severity) for p in err.value.problems if p.rule == "S7"]
    assert found == [("S7", "gateway.namespace", name, "error")]


def test_s7_endpoints_in_a_shared_namespace_use_it_without_declaring_it(crd_dir):
    values = copy.deepcopy(user_values("eks"))
    for ep in values["llm-serving:endpoints"]:
        ep["namespace"] = "default"
    plan, _, _ = run_stack(values, stack="eks")
    declared = sorted(o.name for o in plan.objects if o.kind == "Namespace")
    assert "default" not in declared and "kube-system" not in declared
    assert not [p for o in plan.objects for p in o.problems if p.rule == "S7"]


def test_s7_no_place_that_declares_a_namespace_declares_a_shared_one(crd_dir):
    # The eks example as a dev stack: platform add-ons, the gateway, and its in-cluster counter store.
    plan, _, _ = run_stack(copy.deepcopy(user_values("eks")), stack="dev-gw")
    declared = {o.name for o in plan.objects if o.kind == "Namespace"}
    assert {
        "cert-manager",
        "envoy-gateway-system",
        "envoy-ai-gateway-system",
        "llm-gateway",
        "redis-system",
    } <= declared
    assert declared & namespaces.SHARED_NAMESPACES == set()


@pytest.mark.parametrize(
    "name, problems", [("kube-system", 1), ("hyperpod-inference-system", 1), ("llm", 0), ("kube-systems", 0)]
)
def test_s7_a_planned_namespace_object_with_a_shared_name_is_an_error(name, problems):
    found = namespaces.check_manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert [(p.rule, p.path, p.value) for p in found] == [("S7", "metadata.name", name)] * problems


def test_s7_only_namespace_objects_are_judged():
    assert (
        namespaces.check_manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-system"}}) == []
    )
