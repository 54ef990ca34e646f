"""Cost arithmetic (components/rules/cost.py), numbers worked by hand."""

from __future__ import annotations

import pytest

from components.rules import cost
from components.rules.spec import ClusterSpec, EndpointSpec


def test_cost_per_hour_is_instances_times_price():
    assert cost.cost_per_hour(7.09, 2) == pytest.approx(14.18)  # 2 × ml.g5.12xlarge


def test_cost_per_mtok_at_1000_output_tokens_per_second():
    # 1,000 tok/s = 3.6 M tok/h; $14.18/h / 3.6 = $3.9389 per million
    assert cost.cost_per_mtok(14.18, 1000) == pytest.approx(3.938889, abs=1e-6)


def test_cost_per_mtok_is_none_when_nothing_was_produced():
    assert cost.cost_per_mtok(14.18, 0) is None


def test_replicas_for_peak_rounds_up_and_adds_headroom():
    assert cost.replicas_for_peak(20, 4) == 5  # exactly 5, not 6 from float noise
    assert cost.replicas_for_peak(20, 4, headroom=0.2) == 6  # 24 / 4
    assert cost.replicas_for_peak(21, 4) == 6


def test_cost_per_month_at_peak_is_replicas_times_price_times_730_hours():
    # 20 req/s peak, 4 req/s per replica -> 5 replicas × $7.09 × 730 h = $25,878.50
    assert cost.cost_per_month_at_peak(7.09, 4, 20) == pytest.approx(25878.5)


def test_replicas_for_peak_refuses_a_zero_capacity():
    with pytest.raises(ValueError, match="capacity per replica must be above 0, got 0"):
        cost.replicas_for_peak(20, 0)


# ---------------------------------------------------------------- what a stack runs (the plan's cost lines)


def cluster(**values):
    return ClusterSpec.model_validate({"name": "c", **values})


def endpoint(**values):
    return EndpointSpec.model_validate(
        {"name": "e", "model": "org/m", "engine": "vllm", "modelSource": {"type": "huggingface"}, **values}
    )


def test_eks_stack_runs_its_system_nodes_and_each_gpu_group_at_desired_size():
    spec = cluster(
        mode="eks",
        systemNodes={"instanceType": "m6i.xlarge", "desiredSize": 2},
        gpuNodeGroups=[
            {"name": "g5", "instanceType": "g5.2xlarge", "desiredSize": 2, "maxSize": 4},
            {"name": "t4", "instanceType": "g4dn.xlarge", "desiredSize": 1, "maxSize": 2, "capacityType": "SPOT"},
        ],
    )
    assert cost.running_instances(spec, []) == [
        cost.Running("ec2", "m6i.xlarge", 2, "cluster.systemNodes"),
        cost.Running("ec2", "g5.2xlarge", 2, "cluster.gpuNodeGroups[g5]"),
        cost.Running("ec2", "g4dn.xlarge", 1, "cluster.gpuNodeGroups[t4]", "spot"),
    ]


def test_eks_stack_without_groups_runs_the_groups_derived_from_its_endpoints():
    # 1 replica + an autoscaled endpoint up to 3 on g5.2xlarge: the derived group has desiredSize 4
    eps = [
        endpoint(instanceType="g5.2xlarge"),
        endpoint(name="f", instanceType="g5.2xlarge", autoscaling={"minReplicas": 1, "maxReplicas": 3}),
    ]
    assert cost.running_instances(cluster(mode="eks"), eps)[1:] == [
        cost.Running("ec2", "g5.2xlarge", 4, "cluster.gpuNodeGroups[g5-2xlarge]")
    ]


def test_hyperpod_stack_runs_instance_groups_as_hyperpod_instances_and_system_nodes_on_ec2():
    spec = cluster(
        mode="hyperpod",
        instanceGroups=[
            {"name": "a", "instanceType": "ml.g5.8xlarge", "instanceCount": 1},
            {"name": "b", "instanceType": "g5.12xlarge", "instanceCount": 3},
            {"name": "idle", "instanceType": "ml.g5.12xlarge", "instanceCount": 0},
        ],
    )
    assert cost.running_instances(spec, []) == [
        cost.Running("ec2", "m6i.xlarge", 2, "cluster.systemNodes"),  # the SystemNodes defaults
        cost.Running("sagemaker-hyperpod", "ml.g5.8xlarge", 1, "cluster.instanceGroups[a]"),
        cost.Running("sagemaker-hyperpod", "ml.g5.12xlarge", 3, "cluster.instanceGroups[b]"),
    ]


def test_existing_cluster_counts_one_instance_per_endpoint_replica_and_an_endpoints_only_stack_nothing():
    eps = [endpoint(instanceType="g5.xlarge", replicas=2), endpoint(name="f", instanceType="ml.g5.xlarge", replicas=0)]
    assert cost.running_instances(cluster(mode="existing"), eps) == [
        cost.Running("ec2", "g5.xlarge", 2, "endpoints[0]")
    ]
    arn = "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdef123456"
    assert cost.running_instances(cluster(mode="existing", hyperpodClusterArn=arn), eps) == [
        cost.Running("sagemaker-hyperpod", "ml.g5.xlarge", 2, "endpoints[0]")
    ]
    assert cost.running_instances(cluster(mode="eks"), eps, platform_stack="staging") == []


def test_bill_sums_counts_per_type_and_leaves_unpriced_types_out_of_the_total():
    running = [
        cost.Running("ec2", "m6i.xlarge", 2, "cluster.systemNodes"),
        cost.Running("ec2", "g5.2xlarge", 2, "a"),
        cost.Running("ec2", "g5.2xlarge", 1, "b", "spot"),
        cost.Running("sagemaker-hyperpod", "ml.g5.12xlarge", 3, "c"),
    ]
    prices = {("ec2", "m6i.xlarge"): 0.192, ("ec2", "g5.2xlarge"): 1.212}
    bill = cost.bill(running, lambda service, itype: prices.get((service, itype)))
    assert [(b.instance_type, b.count, b.per_hour, b.billing) for b in bill.lines] == [
        ("m6i.xlarge", 2, 0.384, ("on-demand",)),
        ("g5.2xlarge", 3, pytest.approx(3.636), ("on-demand", "spot")),
        ("ml.g5.12xlarge", 3, None, ("on-demand",)),
    ]
    # 2 × 0.192 + 3 × 1.212 = 4.02 $/h; × 730 h = 2,934.60 $/month; the 3 HyperPod instances have no price
    assert bill.per_hour == pytest.approx(4.02)
    assert bill.per_month == pytest.approx(2934.6)
    assert [b.instance_type for b in bill.unpriced] == ["ml.g5.12xlarge"]
