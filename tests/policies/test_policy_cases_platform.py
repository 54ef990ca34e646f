"""The platform's policies, called as CrossGuard calls them: declaration order (O1-O8), the tenant gateway (T1-T3)
and pool routing (R1-R5), a failing and a passing case each. Shared builders: tests/policies/policy_case_builders.py."""

from __future__ import annotations

import copy

import pytest

from tests.policies.policy_builders import k8s, render
from tests.policies.policy_case_builders import (
    ASSOCIATION,
    DEVICE_PLUGIN,
    DRAIN_GUARD,
    HYPERPOD_CHART,
    HYPERPOD_CHART_NO_PLUGIN,
    HYPERPOD_CLUSTER,
    LBC,
    OBJECTIVE,
    OME_CHART,
    OME_ISVC,
    OPERATOR_ADDON,
    Case,
    _picker,
    _pool,
    assert_fails_then_passes,
    eks_cluster,
    gateway_objects,
    graph_node,
    k8s_service,
    pool_objects,
)

CASES: dict[str, Case] = {
    "o1-after-the-load-balancer-controller": (
        "O1",
        lambda: [LBC, graph_node(k8s_service(), "urn:svc")],
        lambda: [LBC, graph_node(k8s_service(), "urn:svc", "urn:lbc")],
        None,
        None,
    ),
    "o2-after-pod-identity": (
        "O2",
        lambda: [ASSOCIATION, LBC],
        lambda: [ASSOCIATION, graph_node(LBC, "urn:lbc", "urn:association")],
        None,
        None,
    ),
    "o3-after-the-crd-installer": (
        "O3",
        lambda: [OPERATOR_ADDON, graph_node(k8s(render()), "urn:iec")],
        lambda: [OPERATOR_ADDON, graph_node(k8s(render()), "urn:iec", "urn:operator")],
        None,
        None,
    ),
    "o4-gpu-after-nodes-and-device-plugin": (
        "O4",
        lambda: [DEVICE_PLUGIN, graph_node(k8s(render()), "urn:iec")],
        lambda: [DEVICE_PLUGIN, graph_node(k8s(render()), "urn:iec", "urn:plugin")],
        None,
        None,
    ),
    "o5-hyperpod-cluster-after-its-chart": (
        "O5",
        lambda: [HYPERPOD_CHART, HYPERPOD_CLUSTER],
        lambda: [HYPERPOD_CHART, graph_node(HYPERPOD_CLUSTER, "urn:hyperpod", "urn:hyperpod-chart")],
        None,
        None,
    ),
    "o7-device-plugin-before-hyperpod-nodes": (
        "O7",
        lambda: [HYPERPOD_CHART_NO_PLUGIN, graph_node(HYPERPOD_CLUSTER, "urn:hyperpod", "urn:hyperpod-chart")],
        lambda: [HYPERPOD_CHART, graph_node(HYPERPOD_CLUSTER, "urn:hyperpod", "urn:hyperpod-chart")],
        None,
        None,
    ),
    "o8-backend-operator-installed": (
        "O8",
        lambda: [eks_cluster(["34.201.17.8/32"]), OME_ISVC],
        lambda: [eks_cluster(["34.201.17.8/32"]), OME_CHART, OME_ISVC],
        None,
        None,
    ),
    "o6-finalizers-before-their-controller": (
        "O6",
        lambda: [LBC, OPERATOR_ADDON, DRAIN_GUARD, graph_node(k8s(render()), "urn:iec", "urn:operator")],
        lambda: [LBC, OPERATOR_ADDON, DRAIN_GUARD, graph_node(k8s(render()), "urn:iec", "urn:operator", "urn:guard")],
        None,
        None,
    ),
    "t1-tenant-keys-token-limited": (
        "T1",
        lambda: gateway_objects(drop_kind="BackendTrafficPolicy"),
        lambda: gateway_objects(),
        None,
        None,
    ),
    "t2-tenant-routes-declared": (
        "T2",
        lambda: gateway_objects(drop_name="tenant-team-b"),
        lambda: gateway_objects(),
        None,
        None,
    ),
    "t2-tenant-keys-on-the-gateway": (
        "T2",
        lambda: gateway_objects(drop_kind="ClientTrafficPolicy"),
        lambda: gateway_objects(),
        None,
        None,
    ),
    "t3-public-gateway-tls": (
        "T3",
        lambda: gateway_objects(certificateArn=None),
        lambda: gateway_objects(),
        None,
        None,
    ),
    "t3-dev-plaintext-gateway-keys": (
        "T3",
        lambda: gateway_objects(certificateArn=None, allow_plaintext=True),
        lambda: gateway_objects(),
        None,
        "dev",
    ),
    "r1-inference-pool-selects-its-engine": (
        "R1",
        lambda: pool_objects(
            lambda objs: _pool(objs)["spec"]["selector"].update(matchLabels={"llm-serving/engine": "other"})
        ),
        pool_objects,
        None,
        None,
    ),
    "r2-inference-pool-targets-the-engine-port": (
        "R2",
        lambda: pool_objects(lambda objs: _pool(objs)["spec"].update(targetPorts=[{"number": 8080}])),
        pool_objects,
        None,
        None,
    ),
    "r2-inference-pool-one-target-port": (
        "R2",
        lambda: pool_objects(lambda objs: _pool(objs)["spec"].update(targetPorts=[{"number": 8000}, {"number": 8001}])),
        pool_objects,
        None,
        None,
    ),
    "r3-one-inference-pool-per-model": (
        "R3",
        lambda: pool_objects(
            lambda objs: objs.append(
                {**copy.deepcopy(_pool(objs)), "metadata": {"name": "again", "namespace": "inference"}}
            )
        ),
        pool_objects,
        None,
        None,
    ),
    "r4-inference-picker-pinned-image": (
        "R4",
        lambda: pool_objects(
            lambda objs: _picker(objs).update(image="registry.k8s.io/gateway-api-inference-extension/epp:v1.6.0")
        ),
        pool_objects,
        None,
        None,
    ),
    "r4-inference-pool-pinned-api": (
        "R4",
        lambda: pool_objects(lambda objs: _pool(objs)["spec"]["endpointPickerRef"].update(port={"number": 9003})),
        pool_objects,
        None,
        None,
    ),
    "r5-no-experimental-inference-objects": ("R5", lambda: [*pool_objects(), k8s(OBJECTIVE)], pool_objects, None, None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_policy_fails_then_passes(name, monkeypatch):
    assert_fails_then_passes(CASES, name, monkeypatch)
