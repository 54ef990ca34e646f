"""Trials inherit what their base stack declares on purpose: a dev base gives dev trials, a base with a
certificate gives trials with TLS, and a trial runs only on an instance type the base's groups offer. Every
shipped grid has points to try against the base stack it names, and pruning says each cause once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.rules.dev_stacks import is_dev_stack
from components.rules.spec import ClusterSpec
from stacks import plan as plan_mod
from stacks.__main__ import main
from stacks.tuning import grid as grid_mod
from stacks.tuning.pulumi_target import base_stack_config, load_base, trial_config, with_cluster_context
from tests.example_stacks import user_project

GRIDS = Path(grid_mod.__file__).resolve().parents[1] / "grids"
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
ENDPOINT = {
    "name": "ep",
    "model": "org/m",
    "engine": "vllm",
    "instanceType": "ml.g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "models"},
}
HYPERPOD = {
    "mode": "hyperpod",
    "name": "hp",
    "instanceGroups": [{"name": "g5", "instanceType": "ml.g5.12xlarge", "instanceCount": 1}],
}
EKS = {"mode": "eks", "name": "plain", "endpointPublicAccess": False}


def project(
    tmp_path: Path, stack: str, cluster: dict, platform: dict | None = None, endpoints: list | None = None
) -> Path:
    directory = tmp_path / "project"
    directory.mkdir(exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: llm-serving\nruntime: python\n")
    config = {"aws:region": "us-east-1", "llm-serving:cluster": cluster, "llm-serving:endpoints": endpoints or []}
    if platform:
        config["llm-serving:platform"] = platform
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return directory


def grid_file(tmp_path: Path, directory: Path, stack: str, parameters: dict, base: dict | None = None) -> Path:
    doc = {
        "name": "g",
        "target": "pulumi",
        "base": base or ENDPOINT,
        "parameters": parameters,
        "pulumi": {"projectDir": str(directory), "baseStack": stack},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def points(path: Path) -> list[grid_mod.Point]:
    return grid_mod.expand(with_cluster_context(grid_mod.load(path)))


@pytest.mark.parametrize("path", sorted(GRIDS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_grid_has_points_to_try_against_the_base_stack_it_names(path, tmp_path, capsys):
    """The dry run a new user types first, against the named base stack with its `# SET THIS` lines set."""
    doc = yaml.safe_load(path.read_text())
    base = (doc.get("pulumi") or {}).get("baseStack")
    if doc.get("target") == "pulumi" and base:
        (tmp_path / "project").mkdir()
        doc["pulumi"]["projectDir"] = str(user_project(tmp_path / "project", base))
    grid = tmp_path / path.name
    grid.write_text(yaml.safe_dump(doc))
    code = main(["tune", str(grid), "--dry-run", "--db", str(tmp_path / "t.db")])
    out = capsys.readouterr().out
    counts = re.search(r"grid: (\d+) point\(s\), (\d+) pruned by the rule library, (\d+) to try", out)
    assert counts and int(counts.group(3)) > 0, out
    assert code == 0 and ", 0 failed" in out, out


def test_the_shipped_cluster_grid_tunes_on_its_base_stacks_instance_groups(tmp_path, capsys):
    """qwen3-4b-g5 on Pulumi.dev.yaml: only tensor parallelism beyond ml.g5.8xlarge's one GPU is pruned, in one line."""
    (tmp_path / "project").mkdir()
    doc = yaml.safe_load((GRIDS / "qwen3-4b-g5.yaml").read_text())
    doc["pulumi"]["projectDir"] = str(user_project(tmp_path / "project", "dev"))
    path = tmp_path / "qwen.yaml"
    path.write_text(yaml.safe_dump(doc))
    found = points(path)
    assert (len(found), sum(p.pruned for p in found)) == (144, 48)
    assert {str(problem) for p in found for problem in p.problems if problem.severity == "error"} == {
        "base.engineArgs.tensorParallelSize = 2: [G11] g5.8xlarge has 1 GPU(s); tensor-parallel size cannot exceed it. Fix: set tensorParallelSize <= 1 or pick a larger instance type",
        "base.engineArgs.tensorParallelSize = 4: [G11] g5.8xlarge has 1 GPU(s); tensor-parallel size cannot exceed it. Fix: set tensorParallelSize <= 1 or pick a larger instance type",
    }


def test_a_dev_base_gives_dev_trials_and_any_other_base_does_not():
    dev = grid_mod.PulumiTarget(baseStack="dev")
    assert dev.trial_stack("qwen3-4b-g5", "0123abcd") == "tune-qwen3-4b-g5-0123abcd-dev"
    assert is_dev_stack(grid_mod.PulumiTarget(baseStack="acme/llm-serving/dev-eu").trial_stack("r", "k"))
    assert (
        grid_mod.PulumiTarget(baseStack="staging").trial_stack("qwen3-4b-g5", "0123abcd") == "tune-qwen3-4b-g5-0123abcd"
    )
    assert not is_dev_stack(grid_mod.PulumiTarget().trial_stack("r", "k"))
    long = dev.trial_stack("r" * 120, "k")
    assert len(long) == 100 and long.endswith("-dev")


def test_s2_a_dev_bases_plaintext_opt_out_holds_for_its_trials(tmp_path, capsys):
    """The base's allowPlaintextApiKey was refused on every trial (stack 'tune-trial' is not a dev stack)."""
    directory = project(tmp_path, "dev", HYPERPOD, {"ingress": {"allowPlaintextApiKey": True}})
    path = grid_file(
        tmp_path,
        directory,
        "dev",
        {"engineArgs.maxNumSeqs": [8, 16]},
        {**ENDPOINT, "intelligentRouting": True, "publicAlb": True, "apiKey": True},
    )
    found = points(path)
    assert not any(p.pruned for p in found)
    assert {p.rule for point in found for p in point.problems} == {"S2"}  # the warning every dev plan prints
    assert main(["tune", str(path), "--dry-run"]) == 0
    assert "plans: 2 passed, 0 failed" in capsys.readouterr().out


def test_s2_a_non_dev_base_with_the_opt_out_is_refused_once_for_the_base(tmp_path, capsys):
    directory = project(tmp_path, "prod", HYPERPOD, {"ingress": {"allowPlaintextApiKey": True}})
    path = grid_file(tmp_path, directory, "prod", {"engineArgs.maxNumSeqs": [8, 16]})
    assert main(["tune", str(path), "--dry-run"]) == 2
    lines = [
        line for line in capsys.readouterr().out.splitlines() if not line.startswith("Rules: ")
    ]  # the rules footer
    assert lines[0] == "base stack prod (Pulumi.prod.yaml) has 1 problem(s); every trial runs on it:"
    assert (
        lines[1].startswith("  platform.ingress.allowPlaintextApiKey = True: [S2] stack 'prod' is not a dev stack")
        and len(lines) == 2
    )


def test_s2_a_base_with_a_certificate_gives_trials_with_tls(tmp_path):
    directory = project(tmp_path, "prod", HYPERPOD, {"ingress": {"certificateArn": ARN}})
    keyed = {**ENDPOINT, "intelligentRouting": True, "publicAlb": True, "apiKey": True}
    (point,) = points(grid_file(tmp_path, directory, "prod", {"engineArgs.maxNumSeqs": [8]}, keyed))
    assert not point.pruned
    project_name, base = load_base(grid_mod.PulumiTarget(projectDir=str(directory), baseStack="prod"))
    plan = plan_mod.build_plan_from_values("tune-g-k", trial_config(base, point.spec, {}, project_name, "prod"))
    (ingress,) = [o for o in plan.objects if o.kind == "Ingress"]
    assert ingress.manifest["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"] == ARN
    assert not plan.failed


def test_s2_without_a_certificate_the_keyed_public_trial_is_pruned(tmp_path):
    directory = project(tmp_path, "prod", HYPERPOD)
    keyed = {**ENDPOINT, "intelligentRouting": True, "publicAlb": True, "apiKey": True}
    (point,) = points(grid_file(tmp_path, directory, "prod", {"engineArgs.maxNumSeqs": [8]}, keyed))
    assert [(p.path, p.rule) for p in point.problems] == [("base.apiKey", "S2")]


def test_g11_a_trial_instance_type_no_group_of_the_base_offers_is_pruned(tmp_path):
    """With the base's instance type unchecked, 96 points of the g5 grid 'passed' on a base without a g5 group."""
    cluster = {**EKS, "gpuNodeGroups": [{"name": "g6e", "instanceType": "g6e.12xlarge"}]}
    directory = project(tmp_path, "staging", cluster)
    found = {
        p.params["instanceType"]: p
        for p in points(grid_file(tmp_path, directory, "staging", {"instanceType": ["g5.12xlarge", "g6e.12xlarge"]}))
    }
    assert not found["g6e.12xlarge"].pruned
    assert [str(p) for p in found["g5.12xlarge"].problems] == [
        "base.instanceType = 'g5.12xlarge': [G11] no GPU node group of platform stack 'staging' (cluster plain) has this instance type (have: g6e.12xlarge). "
        "Fix: add {name: g5-12xlarge, instanceType: g5.12xlarge, minSize: 0, desiredSize: 1, maxSize: 1} to Pulumi.staging.yaml:cluster.gpuNodeGroups, or change the endpoint's instanceType"
    ]


def test_g11_the_groups_a_base_derives_from_its_endpoints_stay_with_the_base(tmp_path):
    """The driver brings the base up without its endpoints; the groups those derive are written out, so they stay."""
    leftover = {**ENDPOINT, "name": "leftover", "instanceType": "g5.2xlarge", "replicas": 2}
    directory = project(tmp_path, "staging", EKS, endpoints=[leftover])
    found = {
        p.params["instanceType"]: p.pruned
        for p in points(grid_file(tmp_path, directory, "staging", {"instanceType": ["g5.2xlarge", "g6e.12xlarge"]}))
    }
    assert found == {"g5.2xlarge": False, "g6e.12xlarge": True}
    _, base = load_base(grid_mod.PulumiTarget(projectDir=str(directory), baseStack="staging"))
    config = base_stack_config(base, "llm-serving")
    assert "llm-serving:endpoints" not in config
    (group,) = ClusterSpec.model_validate(config["llm-serving:cluster"]).gpu_node_groups
    assert (group.name, group.instance_type, group.desired_size, group.max_size) == ("g5-2xlarge", "g5.2xlarge", 2, 2)


def test_a_trial_leaves_the_bases_gateway_to_the_base(make_endpoint):
    base = {
        "aws:region": "us-east-1",
        "llm-serving:cluster": {"mode": "existing", "name": "c"},
        "llm-serving:gateway": {"enabled": True},
    }
    assert "llm-serving:gateway" not in trial_config(base, make_endpoint(name="t1"), {}, "llm-serving", "base")


def test_a_dry_run_with_nothing_to_try_exits_1_with_one_line_saying_why(tmp_path, capsys):
    directory = project(
        tmp_path, "staging", {**EKS, "gpuNodeGroups": [{"name": "g6e", "instanceType": "g6e.12xlarge"}]}
    )
    path = grid_file(tmp_path, directory, "staging", {"engineArgs.maxNumSeqs": [8, 16, 32]})
    assert main(["tune", str(path), "--dry-run"]) == 1
    lines = [
        line for line in capsys.readouterr().out.splitlines() if not line.startswith("Rules: ")
    ]  # the rules footer
    assert lines[0] == "grid: 3 point(s), 3 pruned by the rule library, 0 to try"
    assert lines[1].startswith(
        "  3 point(s): base.instanceType = 'ml.g5.12xlarge': [G11] no GPU node group of platform stack 'staging'"
    )
    assert lines[2:] == [
        "nothing to try: all 3 point(s) of grid g were pruned against base stack staging (1 cause(s) above); fix them in the grid or the base stack"
    ]
