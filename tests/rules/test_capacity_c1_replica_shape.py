"""C1 matches what shapes a replica beyond its engine args: a capacity measured behind a request limit of 16, or
with prefill and decode disaggregated, does not describe a plain worker (and the reverse)."""

from __future__ import annotations

from tests.rules.test_capacity_c1 import capacity_doc, endpoint, problems

LIMITS = {"maxConcurrentRequests": 16}
# As the config reads it: the operator's default overflow status filled in.
DECLARED = "{'maxConcurrentRequests': 16, 'overflowStatusCode': 429}"


def test_c1_a_capacity_measured_without_a_request_limit_does_not_describe_an_endpoint_with_one(tmp_path):
    found, level = problems(tmp_path, endpoint(hyperpod={"requestLimits": LIMITS}), capacity_doc())
    assert level == "warning"  # no matching file: the contract is advisory
    assert found[0] == (
        f"endpoints[0].hyperpod.requestLimits = {DECLARED}: [C1] the capacity file "
        f"capacity/qwen3-4b-g5.json was measured with hyperpod.requestLimits unset, not {DECLARED}, "
        "so it does not describe this endpoint. Fix: export a capacity file measured with hyperpod.requestLimits "
        f"{DECLARED} (stacks tune, then stacks report --export-capacity), or remove hyperpod.requestLimits"
    )


def test_c1_a_capacity_measured_behind_a_limit_does_not_describe_a_plain_worker_nor_another_limit(tmp_path):
    doc = capacity_doc(replicaShape={"requestLimits": LIMITS})
    plain, _ = problems(tmp_path, endpoint(), doc)
    assert plain[0].startswith("endpoints[0].hyperpod.requestLimits = None: [C1] the capacity file")
    assert f"measured with hyperpod.requestLimits {DECLARED}, not unset" in plain[0]
    other, _ = problems(tmp_path, endpoint(hyperpod={"requestLimits": {"maxConcurrentRequests": 32}}), doc)
    assert other[0].startswith("endpoints[0].hyperpod.requestLimits = {'maxConcurrentRequests': 32, 'overflowStat")


def test_c1_the_same_limit_matches_and_the_contract_runs(tmp_path):
    ep = endpoint(hyperpod={"requestLimits": LIMITS}, autoscaling={"minReplicas": 1, "maxReplicas": 3})
    found, _ = problems(tmp_path, ep, capacity_doc(replicaShape={"requestLimits": LIMITS}))
    assert not any("does not describe this endpoint" in f for f in found), found


def test_c1_a_disaggregated_endpoint_does_not_match_a_capacity_of_one_worker(tmp_path):
    pd = {"prefill": {"replicas": 1}, "decode": {"replicas": 1}}
    ep = endpoint(instanceType="ml.p5.48xlarge", hyperpod={"pdSpec": pd})
    del ep["autoscaling"]  # DPD scales its roles apart (D1)
    found, _ = problems(tmp_path, ep, capacity_doc())
    (line,) = [f for f in found if f.startswith("endpoints[0].hyperpod.pdSpec = ")]
    assert "was measured with hyperpod.pdSpec unset, not {'prefill': {'replicas': 1" in line
