"""`stacks check` of a plan's directory gives the plan's verdict: the same problems on the same objects and the
same pass or fail. `stacks check plan-out/dev` exited 1 on files `plan --stack dev` had just passed
(`s2-public-alb-tls ... stack '(unknown)' is not one`): the plan now writes its stack beside its manifests."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from stacks import check as check_cmd
from stacks import plan as plan_cmd
from stacks.plan_out import MARKER
from tests.example_stacks import user_plan

STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in plan_cmd.PROJECT_DIR.glob("Pulumi.*.yaml"))


def check_report(*paths: Path, **kwargs) -> tuple[int, dict]:
    out = io.StringIO()
    code = check_cmd.main([str(p) for p in paths], as_json=True, out=out, **kwargs)
    return code, json.loads(out.getvalue())


def planned(plan: plan_cmd.Plan) -> list[tuple[str, str, str, str, str]]:
    return sorted((o.file.name, p.rule, p.path, p.severity, p.message) for o in plan.objects for p in o.problems)


def checked(report: dict) -> list[tuple[str, str, str, str, str]]:
    return sorted(
        (Path(d["file"]).name, v["rule"], v["path"], "error" if v["level"] == "mandatory" else "warning", v["message"])
        for d in report["documents"]
        for v in d["violations"]
    )


@pytest.mark.parametrize("stack", STACKS)
def test_check_of_a_plans_directory_gives_the_plans_verdict(stack, tmp_path):
    """Every example stack, its `# SET THIS` lines set: planned, written, then checked."""
    plan = user_plan(stack)
    plan_cmd.write_objects(plan, tmp_path / "plan-out")
    code, report = check_report(tmp_path / "plan-out")
    # What only the plan sees (resources that are not Kubernetes objects, duplicate URNs): none in the examples.
    assert not plan.other_violations and not plan.duplicate_urns
    assert checked(report) == planned(plan)
    assert {Path(d["file"]).name: d["schema"]["status"] for d in report["documents"]} == {
        o.file.name: o.schema.status for o in plan.objects
    }
    assert (code, report["exitCode"]) == ((1, 1) if plan.failed else (0, 0))
    assert report["stack"]["name"] == stack


def test_s2_check_of_the_dev_plan_allows_the_dev_opt_out_as_the_plan_did(tmp_path):
    plan = user_plan("dev")
    plan_cmd.write_objects(plan, tmp_path / "dev")
    marker = json.loads((tmp_path / "dev" / MARKER).read_text())
    assert (marker["stack"], marker["devStack"], marker["clusterMode"]) == ("dev", True, "hyperpod")
    code, report = check_report(tmp_path / "dev")
    assert code == 0
    assert (
        "009-ingress-hyperpod-inference-system-llm-llama-3-1-8b-vllm.yaml",
        "S2",
        "metadata.annotations.llm-serving/allow-plaintext-api-key",
        "warning",
    ) in [c[:4] for c in checked(report)]
    # The same files as another stack's: the opt-out is refused, naming the stack.
    code, report = check_report(tmp_path / "dev", stack="staging")
    assert code == 1
    (refused,) = [v for d in report["documents"] for v in d["violations"] if v["policy"] == "s2-public-alb-tls"]
    assert "stack 'staging' is not one" in refused["message"]


def test_check_names_the_plans_stack_first(tmp_path):
    plan_cmd.write_objects(user_plan("dev"), tmp_path / "dev")
    out = io.StringIO()
    assert check_cmd.main([str(tmp_path / "dev")], out=out) == 0
    assert (
        out.getvalue().splitlines()[0]
        == f"stack dev (dev stack, cluster mode hyperpod), from {tmp_path / 'dev' / MARKER}"
    )


def test_files_of_two_plans_of_different_stacks_are_refused_in_one_line(tmp_path):
    plan_cmd.write_objects(user_plan("dev"), tmp_path / "dev")
    plan_cmd.write_objects(user_plan("staging"), tmp_path / "staging")
    out = io.StringIO()
    assert check_cmd.main([str(tmp_path / "dev"), str(tmp_path / "staging")], out=out) == 2
    assert (
        out.getvalue()
        == "error: the inputs come from plans of 2 stacks (dev, staging); check one plan at a time, or pass --stack\n"
    )


def test_plan_context_of_a_marker_without_one_is_none(tmp_path):
    (tmp_path / MARKER).write_text(json.dumps({"files": []}))
    assert check_cmd.plan_context(tmp_path) is None
    (tmp_path / MARKER).write_text(json.dumps({"stack": "dev", "files": []}))  # an older plan's marker
    assert check_cmd.plan_context(tmp_path) == check_cmd.PlanContext("dev", None, None, str(tmp_path / MARKER))


def test_summary_counts_what_the_json_lists(tmp_path):
    """The summary said `0 unchecked` while --json listed two documents whose schema was unchecked."""
    plan_cmd.write_objects(user_plan("dev"), tmp_path / "dev")
    (tmp_path / "no-crds").mkdir()
    out = io.StringIO()
    check_cmd.main([str(tmp_path / "dev")], crd_dir=str(tmp_path / "no-crds"), out=out)
    assert (
        out.getvalue().splitlines()[-1]
        == "9 document(s): 0 mandatory and 3 advisory violation(s), 0 schema failure(s), 2 without a schema, 0 unchecked"
    )  # the third: G23, 21 of 128 sequences at full length
    _, report = check_report(tmp_path / "dev", crd_dir=str(tmp_path / "no-crds"))
    documents = report["documents"]
    assert [d["kind"] for d in documents if d["schema"]["status"] == "unchecked"] == [
        "InferenceEndpointConfig",
        "InferenceEndpointConfig",
    ]
    assert report["summary"]["schemaUnchecked"] == 2
    assert report["summary"]["unchecked"] == sum(d["status"] == "unchecked" for d in documents) == 0
