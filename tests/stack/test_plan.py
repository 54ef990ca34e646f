"""The offline plan: the real program under mocks, schema-validated, guardrail-checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from rich.console import Console

from stacks import plan as plan_cmd
from stacks.__main__ import main as cli

PROJECT = Path(plan_cmd.__file__).resolve().parent.parent


def console():
    return Console(record=True, width=200)


def test_dev_stack_plans_clean_and_declares_vllm_and_sglang(tmp_path):
    plan = plan_cmd.build_plan("dev")
    assert not plan.failed
    endpoints = [o for o in plan.objects if o.kind == "InferenceEndpointConfig"]
    engines = {o.manifest["spec"]["worker"]["command"][2] for o in endpoints}
    assert engines == {"vllm.entrypoints.openai.api_server", "sglang.launch_server"}
    for obj in plan.objects:
        assert obj.schema.status in ("passed", "unchecked"), (obj.kind, obj.name, obj.schema)


def test_dev_stack_custom_resources_pass_their_crd_schemas(crd_dir):
    plan = plan_cmd.build_plan("dev", crd_dir=str(crd_dir))
    endpoints = [o for o in plan.objects if o.kind == "InferenceEndpointConfig"]
    assert endpoints and all(o.schema.status == "passed" for o in endpoints), [(o.name, o.schema) for o in endpoints]


def test_dev_plan_cli_writes_one_redacted_file_per_object(tmp_path):
    out = tmp_path / "out"
    code = cli(["plan", "--stack", "dev", "--out", str(out)])
    assert code == 0
    files = sorted(out.glob("*.yaml"))
    docs = [yaml.safe_load(f.read_text()) for f in files]
    assert len(files) >= 3 and all(d["kind"] and d["metadata"]["name"] for d in docs)
    text = "".join(f.read_text() for f in files)
    assert "<<secret>>" not in text and "[secret]" in text


def make_project(tmp_path: Path, stack_yaml: str) -> Path:
    shutil.copy(PROJECT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(PROJECT / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "Pulumi.broken.yaml").write_text(stack_yaml)
    return tmp_path


BROKEN = """
config:
  aws:region: us-east-1
  llm-serving:cluster: {mode: hyperpod, name: ml-dev}
  llm-serving:endpoints:
    - name: qwen-sglang
      model: Qwen/Qwen3-4B-Instruct-2507
      engine: sglang
      instanceType: ml.g5.8xlarge
      modelSource: {type: s3, bucket: my-models, path: q/}
      publicAlb: true
      kvCache: {l1: true}
      engineArgs: {tensorParallelSize: 2, maxNumSeq: 8}
"""


def test_broken_stack_file_fails_with_one_line_per_problem_and_no_traceback(tmp_path):
    project = make_project(tmp_path, BROKEN)
    out = console()
    code = plan_cmd.run("broken", str(tmp_path / "out"), None, "1.33", False, out, project)
    text = out.export_text()
    assert code == 2
    assert "Traceback" not in text
    for expected in ("endpoints[0].engineArgs.maxNumSeq = 8: [CONFIG] unknown key",):
        assert expected in text
    assert not (tmp_path / "out").exists()  # nothing planned


def test_semantic_problems_listed_together(tmp_path):
    project = make_project(tmp_path, BROKEN.replace(", maxNumSeq: 8", ""))
    out = console()
    assert plan_cmd.run("broken", str(tmp_path / "out"), None, "1.33", False, out, project) == 2
    text = out.export_text()
    for line in (
        "endpoints[0].publicAlb = True: [G8]",
        "endpoints[0].hyperpod.kvCache = ",
        "[G21]",
        "endpoints[0].engineArgs.tensorParallelSize = 2: [G11]",
    ):
        assert line in text


def test_unknown_stack_names_the_stacks_that_exist():
    out = console()
    assert plan_cmd.run("nope", None, None, "1.33", False, out) == 2
    assert "Pulumi.nope.yaml not found; stacks here: " in out.export_text()


HAND_DECLARED = """
import pulumi_kubernetes as k8s
from stacks.program import main
main()
k8s.apiextensions.CustomResource(
    "hand-made",
    api_version="inference.sagemaker.aws.amazon.com/v1",
    kind="InferenceEndpointConfig",
    metadata={"name": "Hand_Made", "namespace": "default"},
    spec={"modelName": "m", "instanceType": "ml.g5.xlarge",
          "modelSourceConfig": {"modelSourceType": "s3", "s3Storage": {"bucketName": "b", "region": "us-east-1"}},
          "worker": {"image": "vllm/vllm-openai:v0.11.0", "args": ["--served-model-name", "m"],
                     "modelInvocationPort": {"containerPort": 8000}, "modelVolumeMount": {"name": "m"},
                     "resources": {}}},
)
"""


def test_plan_applies_the_registered_transform_to_hand_declared_resources(tmp_path):
    project = make_project(tmp_path, (PROJECT / "Pulumi.dev.yaml").read_text())
    (project / "Pulumi.broken.yaml").rename(project / "Pulumi.dev.yaml")
    (project / "__main__.py").write_text(HAND_DECLARED)
    plan = plan_cmd.build_plan("dev", project)
    (obj,) = [o for o in plan.objects if o.registration.name == "hand-made"]
    assert obj.name == "hand-made"
    assert obj.manifest["spec"]["worker"]["command"][2] == "vllm.entrypoints.openai.api_server"
    assert any("hand-made: [G" in message for _, message in plan.logs)
    # The transform fixes the object itself; its place in the graph it cannot fix: declared without
    # depends_on, it would be created before the operator that installs its CRD (O3) and, now that
    # the transform gave it a GPU limit, before the device plugin (O4); and on destroy it would outlive
    # the ingress drain guard, so its operator-made ALB Ingress would outlive the controller (O6).
    assert sorted(p.rule for p in obj.errors) == ["O3", "O4", "O6"] and plan.failed


def test_hand_declared_resource_fixed_by_the_transform_passes_its_crd_schema(tmp_path, crd_dir):
    project = make_project(tmp_path, (PROJECT / "Pulumi.dev.yaml").read_text())
    (project / "Pulumi.broken.yaml").rename(project / "Pulumi.dev.yaml")
    (project / "__main__.py").write_text(HAND_DECLARED)
    plan = plan_cmd.build_plan("dev", project, crd_dir=str(crd_dir))
    (obj,) = [o for o in plan.objects if o.registration.name == "hand-made"]
    assert obj.schema.status == "passed", obj.schema


def test_unknown_kind_is_unchecked_never_passed(tmp_path):
    from stacks.schemas import Validator, find_crd_dir

    validator = Validator(find_crd_dir()[0])
    result = validator.validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert result.status == "unchecked"
    assert Validator(None).validate({"apiVersion": "ome.io/v1beta1", "kind": "InferenceService"}).status == "unchecked"


def test_plan_lists_resources_in_declaration_order_the_same_every_run():
    first, second = plan_cmd.build_plan("dev"), plan_cmd.build_plan("dev")
    assert [(r.type_, r.name) for r in first.resources] == [(r.type_, r.name) for r in second.resources]
    assert [(o.kind, o.name) for o in first.objects] == [(o.kind, o.name) for o in second.objects]
    position = {(r.type_, r.name): i for i, r in enumerate(first.resources)}
    types = [r.type_ for r in first.resources]
    # Dependency order: cluster before the provider built from its kubeconfig, the provider before
    # every Kubernetes object, a namespace before what lives in it.
    provider = types.index("pulumi:providers:kubernetes")
    assert types.index("eks:index:Cluster") < provider
    assert all(i > provider for i, t in enumerate(types) if t.startswith("kubernetes:"))
    namespace = position[("kubernetes:core/v1:Namespace", "ns-inference")]
    assert all(
        position[(o.registration.type_, o.registration.name)] > namespace
        for o in first.objects
        if o.namespace == "inference"
    )


def test_declaration_order_sorts_registrations_by_constructor_order():
    from stacks.mocks import Registration

    regs = [
        Registration("t:b", "b", {}, "", True),
        Registration("t:a", "a", {}, "", True),
        Registration("t:x", "x", {}, "", True),
    ]
    ordered = plan_cmd.declaration_order(regs, [("t:a", "a"), ("t:b", "b")])
    assert [r.name for r in ordered] == ["a", "b", "x"]  # x was never seen declared: last


def test_plan_json_is_the_declared_graph_in_preview_json_shape(tmp_path):
    """Every resource with its URN, type, parent, dependencies, custom
    timeouts and inputs; secrets redacted; unknowns marked."""
    import json

    from tests.example_stacks import user_project

    project = user_project(tmp_path, "eks")
    assert (
        cli(
            [
                "plan",
                "--stack",
                "eks",
                "--project-dir",
                str(project),
                "--out",
                str(tmp_path / "out"),
                "--json",
                str(tmp_path / "plan.json"),
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "plan.json").read_text())
    steps = {s["urn"].rsplit("::", 1)[-1]: s for s in doc["steps"]}
    assert doc["changeSummary"] == {"create": len(doc["steps"])} and all(s["op"] == "create" for s in doc["steps"])
    deployment = next(s["newState"] for s in doc["steps"] if s["newState"]["type"] == "kubernetes:apps/v1:Deployment")
    assert deployment["customTimeouts"] == {"create": "4200s", "update": "4200s"}  # maxDeploySeconds 3600 + 600
    assert deployment["parent"].endswith("llm-serving:endpoints:KubernetesEndpoint::inference/qwen3-4b-vllm")
    assert deployment["dependencies"], "waits for its namespace, the controller, the GPU nodes"
    secrets = [s["newState"]["inputs"] for s in doc["steps"] if s["newState"]["type"] == "kubernetes:core/v1:Secret"]
    assert secrets and all(v == "[secret]" for s in secrets for v in s["stringData"].values())
    assert "<<secret>>" not in (tmp_path / "plan.json").read_text()
    assert steps["platform-load-balancer-controller"]["newState"]["type"] == "kubernetes:helm.sh/v4:Chart"


def test_plan_json_to_a_directory_is_refused_before_the_plan(tmp_path, capsys):
    assert cli(["plan", "--stack", "dev", "--out", str(tmp_path / "out"), "--json", str(tmp_path)]) == 2
    assert (
        "is a directory; nothing was changed. Fix: give a file path, e.g." in capsys.readouterr().out
        and not (tmp_path / "out").exists()
    )


def test_plan_json_marks_values_pulumi_does_not_know_yet():
    from types import SimpleNamespace

    from stacks import plan_json
    from stacks.mocks import Registration

    reg = Registration(
        "aws:iam/rolePolicy:RolePolicy",
        "p",
        {"role": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "policy": "{}"},
        "",
        True,
        urn="urn:p",
    )
    doc = plan_json.document(SimpleNamespace(resources=[reg], objects=[], other_violations=[], duplicate_urns=[]))
    assert doc["steps"][0]["newState"]["inputs"] == {"role": "<unknown>", "policy": "{}"}


# ---------------------------------------------------------------- the cost lines


def test_dev_plan_prints_its_cost_and_names_the_hyperpod_instances_it_has_no_price_for(tmp_path, monkeypatch):
    import datetime as dt
    import functools

    from stacks import cost_summary

    # The snapshots' own date: a later run would (rightly) call them stale after 180 days.
    monkeypatch.setattr(cost_summary, "lines", functools.partial(cost_summary.lines, today=dt.date(2026, 12, 6)))
    out = console()
    assert plan_cmd.run("dev", str(tmp_path / "out"), None, "1.33", False, out) == 0
    text = out.export_text()
    lines = text.splitlines()
    start = lines.index(
        "Cost at on-demand prices (stacks/prices/us-east-1.json, 2026-12-06): 2 x m6i.xlarge (ec2) at $0.192/h [price-list-file]"
    )
    # 2 system nodes x $0.192 = $0.384/h (shown $0.38); x 730 h = $280.32
    assert (
        lines[start + 1]
        == "  = $0.38 per hour, $280.32 per month (730 h) for the priced instances; not counted: the EKS control plane, NAT gateways, load balancers, volumes, ElastiCache"
    )
    assert lines[start + 2].startswith(
        "  no price in stacks/prices/us-east-1.json for 1 x ml.g5.8xlarge (sagemaker-hyperpod), 3 x ml.g5.12xlarge (sagemaker-hyperpod): left out of the total"
    )
    assert lines[start + 3].startswith("Wrote ")  # the cost block is 3 lines, before the files line


def test_eks_example_cost_lines_sum_its_node_groups_at_desired_size():
    import datetime as dt

    from stacks import cost_summary
    from tests.example_stacks import user_values

    cfg = plan_cmd.parse_stack_config(user_values("eks"), plan_cmd.project_name(), "eks")
    assert cost_summary.lines(cfg, today=dt.date(2026, 12, 6)) == [
        "Cost at on-demand prices (stacks/prices/us-east-1.json, 2026-12-06): 2 x m6i.xlarge (ec2) at $0.192/h [price-list-file] "
        "+ 2 x g5.2xlarge (ec2) at $1.212/h [price-list-file] + 1 x g4dn.xlarge (ec2) at $0.526/h [price-list-file]",
        # 0.384 + 2.424 + 0.526 = $3.334/h; x 730 = $2,433.82
        "  = $3.33 per hour, $2,433.82 per month (730 h); not counted: the EKS control plane, NAT gateways, load balancers, volumes, ElastiCache",
    ]


def test_cost_lines_name_a_missing_or_stale_snapshot_and_an_endpoints_only_stack(tmp_path):
    import datetime as dt

    from stacks import cost_summary
    from tests.example_stacks import user_values

    cfg = plan_cmd.parse_stack_config(user_values("eks"), plan_cmd.project_name(), "eks")
    assert cost_summary.lines(cfg, directory=tmp_path) == [
        f"Cost: not computed: {tmp_path}/us-east-1.json: no price snapshot for region us-east-1. Fix: run `python -m stacks prices refresh --region us-east-1`"
    ]
    assert len(cost_summary.lines(cfg, today=dt.date(2027, 6, 4))) == 2  # 180 days after 2026-12-06: still used
    stale = cost_summary.lines(cfg, today=dt.date(2027, 6, 5))
    assert len(stale) == 1 and stale[0].startswith("Cost: not computed: ")
    assert stale[0].endswith(
        "stacks/prices/us-east-1.json: dated 2026-12-06, 181 days old (limit 180): prices change. Fix: run `python -m stacks prices refresh --region us-east-1`"
    )
    assert cost_summary.lines(cfg.__class__(**{**cfg.__dict__, "platform_stack": "staging"})) == [
        "Cost: this stack creates no instances; its endpoints run on the nodes of platform stack staging (its plan shows their cost)"
    ]
