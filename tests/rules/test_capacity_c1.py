"""C1, the capacity contract: maxReplicas × the capacity's lower bound ≥ peak × (1 +
headroom), with a capacity file measured for the endpoint; `autoscaling.target: fromCapacity` derives each
backend's per-replica target. Config and offline plan of a tmp stack."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from components.rules import ConfigError, capacity, capacity_autoscaling
from components.rules.backends import hyperpod
from stacks import config as stack_config
from stacks import plan as plan_cmd

PROJECT = Path(plan_cmd.__file__).resolve().parent.parent
SLO = {"ttftP90": 1.0, "tpotP90": 0.05}
WORKLOAD = "N(1024,256)/(256,64)"


def capacity_doc(**over):
    doc = {
        "schemaVersion": 1,
        "model": "Qwen/Qwen3-4B",
        "engine": "vllm",
        "instanceType": "g5.xlarge",
        "engineArgs": {"maxModelLen": 4096, "maxNumSeqs": 16},
        "workload": WORKLOAD,
        "slo": SLO,
        "capacity": {
            "unit": "concurrency",
            "value": 12,
            "lowerBound": 10,
            "lowerBoundRule": "min over repeats",
            "values": [12, 10, 12],
            "source": "capacity search",
        },
        "requestRate": {"value": 4.4, "lowerBound": 4.0, "values": [4.0, 4.6, 4.6]},
        "measured": "2026-11-28",
        "run": "qwen3-4b-g5",
        "trial": "abc",
        "source": {"database": "runs.db"},
        "cost": None,
    }
    doc.update(over)
    return doc


def endpoint(**over):
    ep = {
        "name": "qwen3-4b",
        "model": "Qwen/Qwen3-4B",
        "engine": "vllm",
        "instanceType": "ml.g5.xlarge",
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "q/"},
        "engineArgs": {"maxModelLen": 4096, "maxNumSeqs": 16},
        "load": {"peakRequestsPerSecond": 20, "workload": WORKLOAD},
        "slo": SLO,
        "capacity": "capacity/qwen3-4b-g5.json",
        "autoscaling": {
            "minReplicas": 1,
            "maxReplicas": 3,
            "cloudwatch": {"metricName": "Invocations", "targetValue": 300},
        },
    }
    ep.update(over)
    return ep


def project(tmp_path: Path, doc=None) -> Path:
    (tmp_path / "capacity").mkdir(exist_ok=True)
    (tmp_path / "capacity" / "qwen3-4b-g5.json").write_text(json.dumps(doc or capacity_doc()))
    return tmp_path


AMP = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234abcd-5678"


def parse(tmp_path, ep, doc=None, cluster=None, platform=None):
    values = {
        "cluster": cluster or {"mode": "hyperpod", "name": "ml-dev"},
        "endpoints": [ep],
        **({"platform": platform} if platform else {}),
    }
    return stack_config.parse(values, "us-east-1", "prod", project(tmp_path, doc))


def problems(tmp_path, ep, doc=None, cluster=None):
    try:
        cfg = parse(tmp_path, ep, doc, cluster)
    except ConfigError as exc:
        return [str(p) for p in exc.problems if p.rule == "C1"], "error"
    return [str(p) for p in cfg.warnings if p.rule == "C1"], "warning"


def test_c1_too_few_replicas_for_the_peak_fails_with_the_numbers_and_the_fix(tmp_path):
    found, level = problems(tmp_path, endpoint())
    assert level == "error"
    assert found == [
        "endpoints[0].autoscaling.maxReplicas = 3: [C1] 3 × 4 requests/s per replica (lower bound, capacity/qwen3-4b-g5.json) = 12 < peak 20 × (1 + headroom 0.2) = 24: "
        "needs 6 replicas, has 3. Fix: set autoscaling.maxReplicas: 6"
    ]


def test_c1_enough_replicas_pass(tmp_path):
    assert problems(
        tmp_path,
        endpoint(
            autoscaling={
                "minReplicas": 1,
                "maxReplicas": 6,
                "cloudwatch": {"metricName": "Invocations", "targetValue": 300},
            }
        ),
    ) == ([], "warning")


def test_c1_headroom_is_a_key_and_fixed_replicas_count(tmp_path):
    ep = endpoint(
        autoscaling=None, replicas=5, load={"peakRequestsPerSecond": 20, "workload": WORKLOAD, "headroom": 0.0}
    )
    assert problems(tmp_path, ep) == ([], "warning")
    found, level = problems(
        tmp_path,
        endpoint(
            autoscaling=None, replicas=4, load={"peakRequestsPerSecond": 20, "workload": WORKLOAD, "headroom": 0.0}
        ),
    )
    assert level == "error" and found[0].endswith("needs 5 replicas, has 4. Fix: set replicas: 5")


def test_c1_without_a_capacity_file_is_advisory(tmp_path):
    found, level = problems(tmp_path, endpoint(capacity=None))
    assert level == "warning" and len(found) == 1
    assert found[0].startswith("endpoints[0].load.peakRequestsPerSecond = 20.0: [C1] no capacity file is set")


def test_c1_a_file_measured_on_the_stand_in_engine_warns_and_the_contract_still_runs(tmp_path):
    doc = capacity_doc(source={"database": "tour.db", "target": "local", "standIn": True})
    found, level = problems(tmp_path, endpoint(), doc)
    assert level == "error" and "needs 6 replicas, has 3" in found[0]  # the stand-in's numbers, judged as numbers
    enough = endpoint(
        autoscaling={
            "minReplicas": 1,
            "maxReplicas": 6,
            "cloudwatch": {"metricName": "Invocations", "targetValue": 300},
        }
    )
    assert problems(tmp_path, enough, doc) == (
        [
            "endpoints[0].capacity = 'capacity/qwen3-4b-g5.json': [C1] the capacity file was measured on the stand-in engine (local.engine: stand-in), "
            "a script that serves no model: its numbers say nothing about Qwen/Qwen3-4B on g5.xlarge. "
            "Fix: measure the model on its engine (stacks tune with local.engine: real, or target: pulumi) and export that file"
        ],
        "warning",
    )
    assert problems(tmp_path, enough, capacity_doc(source={"database": "runs.db", "target": "local"})) == (
        [],
        "warning",
    )


@pytest.mark.parametrize(
    "field, mine, theirs, path",
    [
        ("slo", SLO, {"ttftP90": 2.0}, "endpoints[0].slo"),
        ("workload", WORKLOAD, "D(256,64)", "endpoints[0].load.workload"),
        ("instanceType", "g5.xlarge", "g5.12xlarge", "endpoints[0].instanceType"),
        ("engine", "vllm", "sglang", "endpoints[0].engine"),
        (
            "engineArgs",
            {"maxModelLen": 4096, "maxNumSeqs": 16},
            {"maxModelLen": 4096, "maxNumSeqs": 64},
            "endpoints[0].engineArgs",
        ),
    ],
)
def test_c1_a_file_measured_under_something_else_does_not_match_and_names_the_field(
    tmp_path, field, mine, theirs, path
):
    found, level = problems(tmp_path, endpoint(), capacity_doc(**{field: theirs}))
    assert level == "warning"  # no matching file: the contract is advisory
    assert found[0] == (
        f"{path} = {mine!r}: [C1] the capacity file capacity/qwen3-4b-g5.json was measured with {field} {theirs!r}, not {mine!r}, so it does not describe this endpoint. "
        f"Fix: export a capacity file measured with {field} {mine!r} (stacks tune, then stacks report --export-capacity), or set {path.removeprefix('endpoints[0].')} to {theirs!r}"
    )
    assert found[1].startswith(
        "endpoints[0].load.peakRequestsPerSecond = 20.0: [C1] the capacity file capacity/qwen3-4b-g5.json does not match"
    )


def test_c1_two_differing_fields_are_two_lines(tmp_path):
    found, _ = problems(tmp_path, endpoint(), capacity_doc(engine="sglang", workload="D(1,1)"))
    assert [f.split(" = ")[0] for f in found[:2]] == ["endpoints[0].engine", "endpoints[0].load.workload"]


def test_c1_a_missing_or_broken_capacity_file_is_named(tmp_path):
    found, level = problems(tmp_path, endpoint(capacity="capacity/nope.json"))
    assert level == "error" and found[0].startswith(
        "endpoints[0].capacity = 'capacity/nope.json': [C1] no capacity file at"
    )
    found, level = problems(tmp_path, endpoint(), {"schemaVersion": 2})
    assert level == "error" and "not a capacity file of schema version 1: schemaVersion" in found[0]


def test_c1_load_and_slo_keys_are_validated(tmp_path):
    with pytest.raises(ConfigError) as exc:
        parse(tmp_path, endpoint(load={"peakRequestsPerSecond": 0, "workload": WORKLOAD}, slo={"ttftP95": 1.0}))
    lines = [str(p) for p in exc.value.problems]
    assert any(line.startswith("endpoints[0].load.peakRequestsPerSecond = 0:") for line in lines)
    assert any(line.startswith("endpoints[0].slo.ttftP95 = 1.0: [CONFIG] unknown key") for line in lines)


# ---------------------------------------------------------------- fromCapacity

FROM_CAPACITY = {"minReplicas": 1, "maxReplicas": 6, "target": "fromCapacity", "utilization": 0.7}


def test_c1_from_capacity_hyperpod_without_prometheus_sets_the_invocations_trigger_and_a1_warns(tmp_path):
    cfg = parse(tmp_path, endpoint(autoscaling=FROM_CAPACITY))
    cw = cfg.endpoints[0].autoscaling.cloudwatch
    assert (cw.metric_name, cw.target_value) == ("Invocations", 840.0)  # 4 req/s × 300 s × 0.7
    (change,) = [c for c in cfg.changes if c.rule == "C1"]
    assert change.path == "endpoints[0].autoscaling.cloudwatch"
    assert (
        "4 requests/s (lower bound, capacity/qwen3-4b-g5.json: capacity search, run qwen3-4b-g5, 2026-11-28) × 300 s × utilization 0.7"
        in change.reason
    )
    # Invocations counts InvokeEndpoint calls only, never the ALB's traffic.
    assert [(w.path, w.rule) for w in cfg.warnings] == [("endpoints[0].autoscaling.cloudwatch.metricName", "A1")]


def test_c1_from_capacity_hyperpod_with_prometheus_targets_the_engines_requests_in_flight(tmp_path):
    # With a Prometheus server the registered SageMaker endpoint does not matter: the ALB's traffic is on the engine.
    cfg = parse(tmp_path, endpoint(autoscaling=FROM_CAPACITY), platform={"prometheusServerAddress": AMP})
    prom = cfg.endpoints[0].autoscaling.prometheus
    assert (prom.query, prom.target_value, prom.server_address) == (
        'sum(vllm:num_requests_running{model_name="Qwen3-4B"}) + sum(vllm:num_requests_waiting{model_name="Qwen3-4B"})',
        7.0,
        AMP,
    )  # 10 × 0.7
    assert cfg.endpoints[0].autoscaling.cloudwatch is None and [w for w in cfg.warnings if w.rule == "A1"] == []


def test_c1_from_capacity_trigger_states_the_300_s_period_its_target_counts_over(tmp_path):
    """The target counts Invocations over 300 s, the CRD's `cloudWatchTrigger.metricCollectionPeriod` default
    (aws/sagemaker-hyperpod-cli@011ca927 ...inference-operator/config/crd/inference.sagemaker.aws.amazon.com_
    inferenceendpointconfigs.yaml); the rendered trigger says 300 itself rather than leaving it to that default."""
    cfg = parse(tmp_path, endpoint(autoscaling=FROM_CAPACITY))
    trigger = hyperpod.endpoint_config(cfg.endpoints[0], api_key="sk-test")["spec"]["autoScalingSpec"][
        "cloudWatchTrigger"
    ]
    assert (
        trigger["metricName"],
        trigger["metricStat"],
        trigger["targetValue"],
        trigger["metricCollectionPeriod"],
    ) == ("Invocations", "Sum", 840.0, 300)


def test_c1_from_capacity_prometheus_targets_requests_in_flight_for_a_concurrency_capacity(tmp_path):
    cfg = parse(tmp_path, endpoint(autoscaling=FROM_CAPACITY, sagemakerEndpoint=False))
    prom = cfg.endpoints[0].autoscaling.prometheus
    assert (prom.query, prom.target_value) == (
        'sum(vllm:num_requests_running{model_name="Qwen3-4B"}) + sum(vllm:num_requests_waiting{model_name="Qwen3-4B"})',
        7.0,
    )  # 10 × 0.7
    # No Prometheus server anywhere: the trigger points at nothing the stack knows, and A1 says so.
    assert [(w.path, w.rule) for w in cfg.warnings] == [("endpoints[0].autoscaling.prometheus.serverAddress", "A1")]


def test_c1_from_capacity_kubernetes_hpa_reads_requests_per_second(tmp_path):
    cluster = {"mode": "eks", "name": "llm", "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.xlarge"}]}
    cfg = parse(tmp_path, endpoint(autoscaling=FROM_CAPACITY, backend="kubernetes"), cluster=cluster)
    metric = cfg.endpoints[0].autoscaling.pods_metric
    assert (metric.name, metric.target_average_value) == ("vllm:request_success", 2.8)  # 4 × 0.7


def test_c1_from_capacity_sglang_in_flight_query_reads_the_totals_not_the_priority_shares(tmp_path):
    """sgl-project/sglang@v0.5.19 metrics_collector.py `_log_gauge_queue_count`: with priority scheduling the
    gauges carry the total under priority="" and a share per priority beside it; summing all would double count."""
    ep = endpoint(autoscaling=FROM_CAPACITY, sagemakerEndpoint=False, engine="sglang")
    prom = parse(tmp_path, ep, doc=capacity_doc(engine="sglang")).endpoints[0].autoscaling.prometheus
    assert (
        prom.query
        == 'sum(sglang:num_running_reqs{model_name="Qwen3-4B",priority=""}) + sum(sglang:num_queue_reqs{model_name="Qwen3-4B",priority=""})'
    )
    assert prom.target_value == 7.0  # 10 × 0.7


@pytest.mark.parametrize(
    "engine, counter, hpa_metric",
    [
        ("vllm", "vllm:request_success_total", "vllm:request_success"),
        ("sglang", "sglang:num_requests_total", "sglang:num_requests"),
    ],
)
def test_c1_hpa_metric_is_the_counter_without_total_as_prometheus_adapters_default_rules_name_it(
    engine, counter, hpa_metric
):
    """prometheus-community/helm-charts@prometheus-adapter-5.3.0 charts/prometheus-adapter/templates/configmap.yaml
    (`rules.default: true`): the rate rule takes series not matching `.*_seconds_total`, `name.matches:
    ^(.*)_total$`, `as: ""`, query `sum(rate(<<.Series>>{...}[5m]))`; kubernetes-sigs/prometheus-adapter@v0.12.0
    pkg/naming/metric_namer.go: an empty `as` with one capture group is `$1`. So the HPA asks for the counter's
    name without `_total` (no `_per_second`), and it reads the counter the rate query of the KEDA trigger reads."""
    assert not re.fullmatch(r".*_seconds_total", counter)
    assert re.fullmatch(r"^(.*)_total$", counter).group(1) == hpa_metric
    assert capacity_autoscaling.HPA_RATE_METRIC[engine] == hpa_metric
    assert f'rate({counter}{{model_name="Qwen3-4B"}}[' in capacity_autoscaling.rate_query(engine, "Qwen3-4B")


@pytest.mark.parametrize("backend", ["ome", "kserve"])
def test_c1_from_capacity_is_refused_where_no_autoscaler_reads_a_target(tmp_path, backend):
    cluster = {"mode": "eks", "name": "llm", "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.xlarge"}]}
    found, level = problems(tmp_path, endpoint(autoscaling=FROM_CAPACITY, backend=backend), cluster=cluster)
    assert level == "error" and any(
        f.startswith(
            f"endpoints[0].autoscaling.target = 'fromCapacity': [C1] the {backend} backend has no per-replica target"
        )
        for f in found
    )


def test_c1_from_capacity_without_a_matching_file_is_refused(tmp_path):
    found, level = problems(tmp_path, endpoint(autoscaling=FROM_CAPACITY, capacity=None))
    assert level == "error" and any(
        f.startswith(
            "endpoints[0].autoscaling.target = 'fromCapacity': [C1] needs a matching capacity file (capacity is unset)"
        )
        for f in found
    )


# ---------------------------------------------------------------- offline plan

STACK = """
config:
  aws:region: us-east-1
  llm-serving:cluster: {{mode: hyperpod, name: ml-cap, publicAccessCidrs: ["34.201.17.8/32"]}}
  llm-serving:endpoints:
    - name: qwen3-4b
      model: Qwen/Qwen3-4B
      engine: vllm
      instanceType: ml.g5.xlarge
      modelSource: {{type: s3, bucket: my-models, path: q/}}
      engineArgs: {{maxModelLen: 4096, maxNumSeqs: 16}}
      load: {{peakRequestsPerSecond: 20, workload: "{workload}"}}
      slo: {{ttftP90: 1.0, tpotP90: 0.05}}
      capacity: capacity/qwen3-4b-g5.json
      autoscaling: {{minReplicas: 1, maxReplicas: {max}, target: fromCapacity, utilization: 0.7}}
"""


def plan_project(tmp_path: Path, max_replicas: int, doc=None) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, tmp_path / name)
    (tmp_path / "Pulumi.cap.yaml").write_text(STACK.format(max=max_replicas, workload=WORKLOAD))
    return project(tmp_path, doc)


def test_c1_offline_plan_fails_with_the_rule_and_the_replicas_needed(tmp_path):
    out = Console(record=True, width=300)
    assert plan_cmd.run("cap", str(tmp_path / "out"), None, "1.33", False, out, plan_project(tmp_path, 3)) == 2
    text = out.export_text()
    assert "endpoints[0].autoscaling.maxReplicas = 3: [C1]" in text and "needs 6 replicas, has 3" in text


def test_c1_offline_plan_passes_with_enough_replicas_and_shows_the_derived_target(tmp_path):
    out = Console(record=True, width=300)
    code = plan_cmd.run("cap", str(tmp_path / "out"), None, "1.33", False, out, plan_project(tmp_path, 6))
    text = out.export_text()
    assert code == 0, text
    assert (
        "[C1] endpoints[0].autoscaling.cloudwatch: None -> {'metricName': 'Invocations', 'targetValue': 840.0}" in text
    )
    iec = next(p for p in (tmp_path / "out").rglob("*.yaml") if "InferenceEndpointConfig" in p.read_text())
    assert "targetValue: 840\n" in iec.read_text()
    import yaml

    annotation = yaml.safe_load(iec.read_text())["metadata"]["annotations"]["llm-serving.io/capacity-contract"]
    assert json.loads(annotation) == {
        "capacityFile": "capacity/qwen3-4b-g5.json",
        "headroom": 0.2,
        "peakRequestsPerSecond": 20.0,
        "perReplicaRequestsPerSecond": 4.0,
    }


def test_c1_contract_is_recorded_on_the_object_holding_the_replica_maximum():

    objs = [
        {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}},
        {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"}, "spec": {"maxReplicas": 2}},
    ]
    terms = {
        "peakRequestsPerSecond": 20.0,
        "headroom": 0.2,
        "perReplicaRequestsPerSecond": 4.0,
        "capacityFile": "c.json",
    }
    dep, hpa = capacity.annotate(objs, terms)
    assert "annotations" not in dep["metadata"] and "annotations" not in objs[1]["metadata"]  # the input is not changed
    assert json.loads(hpa["metadata"]["annotations"][capacity.CONTRACT_ANNOTATION]) == terms
    (problem,) = capacity.check_manifest(hpa)
    assert (problem.path, problem.value, problem.fix) == ("spec.maxReplicas", 2, "set spec.maxReplicas: 6")


def test_c1_from_capacity_prometheus_targets_requests_per_second_for_a_request_rate_capacity(tmp_path):
    doc = capacity_doc(
        capacity={
            "unit": "requests_per_second",
            "value": 5.0,
            "lowerBound": 4.5,
            "lowerBoundRule": "min over repeats",
            "values": [5.0, 4.5],
            "source": "capacity search",
        },
        requestRate=None,
    )
    cfg = parse(tmp_path, endpoint(autoscaling=FROM_CAPACITY, sagemakerEndpoint=False), doc)
    prom = cfg.endpoints[0].autoscaling.prometheus
    assert (prom.query, prom.target_value) == (
        'sum(rate(vllm:request_success_total{model_name="Qwen3-4B"}[1m]))',
        3.15,
    )  # 4.5 × 0.7


def test_c1_from_capacity_refuses_a_trigger_written_by_hand(tmp_path):
    scaling = {**FROM_CAPACITY, "cloudwatch": {"metricName": "Invocations", "targetValue": 300}}
    found, level = problems(tmp_path, endpoint(autoscaling=scaling))
    assert level == "error"
    assert found == [
        "endpoints[0].autoscaling.cloudwatch = {'metricName': 'Invocations', 'namespace': 'AWS/SageMaker', 'targetValue': 300.0}: [C1] target fromCapacity sets the trigger and its target itself. Fix: remove autoscaling.cloudwatch, or autoscaling.target"
    ]


# ---------------------------------------------------------------- $ a month at peak

PRICED = {
    "perHour": 1.006,
    "perMtokOutputAtSlo": 2.3287,
    "priceSource": "ec2 g5.xlarge us-east-1 on-demand, https://example.com/prices, taken 2026-11-28",
}


def test_c1_plan_shows_the_monthly_cost_of_the_declared_peak(tmp_path):
    doc = capacity_doc(requestRate={"value": 5.0, "lowerBound": 4.5, "values": [4.5, 5.5]}, cost=PRICED)
    cfg = parse(
        tmp_path,
        endpoint(
            autoscaling={
                "minReplicas": 1,
                "maxReplicas": 6,
                "cloudwatch": {"metricName": "Invocations", "targetValue": 300},
            }
        ),
        doc,
    )
    # peak 20 × 1.2 = 24 requests/s at 4.5 each: 5.33 -> 6 replicas × $1.006 × 730 h = $4,406.28
    assert [str(c) for c in cfg.changes if c.path == "endpoints[0].load"] == [
        "[C1] endpoints[0].load: None -> '$4,406.28 a month at peak' (6 replicas for peak 20 × (1 + headroom 0.2) requests/s at 4.5 requests/s each "
        "(lower bound, capacity/qwen3-4b-g5.json) × $1.006/h (ec2 g5.xlarge us-east-1 on-demand, https://example.com/prices, taken 2026-11-28) × 730 h)"
    ]


def test_c1_no_monthly_cost_without_a_price_or_a_matching_file(tmp_path):
    enough = endpoint(
        autoscaling={
            "minReplicas": 1,
            "maxReplicas": 6,
            "cloudwatch": {"metricName": "Invocations", "targetValue": 300},
        }
    )
    unpriced = {
        "perHour": None,
        "perMtokOutputAtSlo": None,
        "priceSource": None,
        "reason": "the trial had no price: set local.pricePerHour ($/h of this machine)",
    }
    assert [
        c for c in parse(tmp_path, enough, capacity_doc(cost=unpriced)).changes if c.path == "endpoints[0].load"
    ] == []
    other = capacity_doc(cost=PRICED, engine="sglang")  # does not match: no figure from another configuration's price
    assert [c for c in parse(tmp_path, enough, other).changes if c.path == "endpoints[0].load"] == []


def test_c1_a_cost_block_with_an_unknown_key_is_not_a_capacity_file(tmp_path):
    found, level = problems(tmp_path, endpoint(), capacity_doc(cost={**PRICED, "perDay": 24.1}))
    assert level == "error" and any(
        "not a capacity file of schema version 1: cost.perDay: Extra inputs are not permitted" in f for f in found
    )


def test_c1_offline_plan_shows_what_the_declared_peak_costs_a_month(tmp_path):
    out = Console(record=True, width=400)
    code = plan_cmd.run(
        "cap", str(tmp_path / "out"), None, "1.33", False, out, plan_project(tmp_path, 6, capacity_doc(cost=PRICED))
    )
    text = out.export_text()
    assert code == 0, text
    # peak 20 × 1.2 = 24 requests/s at 4 each: 6 replicas × $1.006 × 730 h = $4,406.28
    assert (
        "[C1] endpoints[0].load: None -> '$4,406.28 a month at peak' (6 replicas for peak 20 × (1 + headroom 0.2) requests/s at 4 requests/s each"
        in text
    )
