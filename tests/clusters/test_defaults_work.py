"""A default is never an error. A minimal eks-mode stack, as a new user writes it (no
gpuNodeGroups, no loadBalancer), plans cleanly with one endpoint of each backend eks mode runs; the derived
node groups are announced in the plan, and with derivation off one line names the group to add."""

from __future__ import annotations

import shutil
from pathlib import Path

from components.rules import backends, clusters
from components.rules.spec import ClusterSpec, EndpointSpec, GpuNodeGroup, PlatformSpec
from stacks import plan as plan_cmd

MINIMAL_EKS = """\
config:
  aws:region: us-east-1
  llm-serving:cluster:
    mode: eks
    name: llm-mini
    publicAccessCidrs: ["34.201.17.8/32"]
  llm-serving:endpoints:
    - name: qwen-kube
      model: Qwen/Qwen3-0.6B
      engine: vllm
      instanceType: g5.2xlarge
      modelSource: {type: huggingface}
      autoscaling: {minReplicas: 1, maxReplicas: 3}
    - name: qwen-ome
      backend: ome
      model: Qwen/Qwen3-0.6B
      engine: sglang
      instanceType: g5.2xlarge
      modelSource: {type: huggingface}
    - name: qwen-kserve
      backend: kserve
      model: Qwen/Qwen3-0.6B
      engine: vllm
      instanceType: g6.xlarge
      modelSource: {type: huggingface}
"""


def _project(tmp_path: Path, stack: str, text: str) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(plan_cmd.PROJECT_DIR / name, tmp_path / name)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def _ep(**kw) -> EndpointSpec:
    return EndpointSpec(
        **{
            "name": "qwen",
            "model": "Qwen/Qwen3-0.6B",
            "engine": "vllm",
            "instance_type": "g5.2xlarge",
            "model_source": {"type": "huggingface"},
            **kw,
        }
    )


def test_g11_a_minimal_eks_mode_stack_with_one_endpoint_of_each_backend_plans_cleanly(tmp_path):
    # Before: the OME endpoint failed on its default loadBalancer: alb, and every endpoint failed G11 (no node group).
    project = _project(tmp_path, "mini", MINIMAL_EKS)
    plan = plan_cmd.build_plan("mini", project_dir=project)
    errors = [str(p) for o in plan.objects for p in o.errors] + [m for level, m in plan.logs if level == "error"]
    assert errors == [] and not plan.failed
    assert {e.backend for e in plan.config.endpoints} == {"kubernetes", "ome", "kserve"}
    groups = [
        r.inputs
        for r in plan.resources
        if r.type_ == "eks:index:ManagedNodeGroup" and r.inputs.get("nodeGroupName") != "llm-mini-system"
    ]
    by_name = {g["nodeGroupName"]: g for g in groups}
    assert set(by_name) == {"llm-mini-g5-2xlarge", "llm-mini-g6-xlarge"}
    g5 = by_name["llm-mini-g5-2xlarge"]
    assert g5["instanceTypes"] == ["g5.2xlarge"] and g5["amiType"] == "AL2023_x86_64_NVIDIA"
    assert g5["scalingConfig"] == {"minSize": 0, "desiredSize": 4, "maxSize": 4}  # 3 (autoscaling max) + 1 (ome)
    assert g5["labels"]["llm-serving/instance-type"] == "g5.2xlarge"
    assert g5["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    announced = [m for _, m in plan.logs if m.startswith("[G11] cluster.gpuNodeGroups: [] ->")]
    assert len(announced) == 1 and "'g5.2xlarge'" in announced[0] and "derived from the endpoints" in announced[0]
    assert (
        "[BACKEND] endpoints[1].loadBalancer: None -> 'none' (unset: the ome backend's default (OME creates the engine Service itself))"
        in [m for _, m in plan.logs]
    )


def test_g11_hyperpod_mode_derived_instance_groups_are_announced_too():
    cluster = ClusterSpec(mode="hyperpod", name="c")
    (change,) = clusters.derived_groups(cluster, [_ep(instance_type="ml.g5.12xlarge", replicas=2)])
    assert (change.path, change.old, change.new) == (
        "cluster.instanceGroups",
        [],
        [{"name": "g5-12xlarge", "instanceType": "ml.g5.12xlarge", "instanceCount": 2}],
    )
    explicit = cluster.model_copy(
        update={"instance_groups": clusters.with_default_groups(cluster, [_ep()]).instance_groups}
    )
    assert clusters.derived_groups(explicit, [_ep()]) == []


def test_backend_default_load_balancer_is_none_for_ome_and_alb_for_kubernetes_and_kserve():
    # Before: every backend defaulted to alb, which the ome backend refuses.
    eks, platform = ClusterSpec(mode="eks", name="c"), PlatformSpec()
    ome, kube, kserve = backends.resolve([_ep(backend="ome"), _ep(), _ep(backend="kserve")], eks, platform)
    assert (ome.load_balancer, kube.load_balancer, kserve.load_balancer) == ("none", "alb", "alb")
    assert backends.validate_backends([ome], eks, platform) == []
    # An explicit choice is kept, and still judged.
    (explicit,) = backends.resolve([_ep(backend="ome", load_balancer="alb")], eks, platform)
    assert [p.path for p in backends.validate_backends([explicit], eks, platform)] == ["endpoints[0].loadBalancer"]


def test_g11_eks_mode_with_explicit_groups_names_the_node_group_to_add():
    cluster = ClusterSpec(mode="eks", name="c", gpu_node_groups=[GpuNodeGroup(name="g6", instance_type="g6.xlarge")])
    eps = [_ep(instance_type="g5.12xlarge", replicas=2)]
    (problem,) = [p for p in clusters.validate_cluster(cluster, PlatformSpec(), eps) if p.rule == "G11"]
    assert problem.path == "endpoints[0].instanceType"
    assert problem.fix.startswith(
        "add {name: g5-12xlarge, instanceType: g5.12xlarge, minSize: 0, desiredSize: 2, maxSize: 2} to cluster.gpuNodeGroups"
    )


def test_g11_eks_mode_derivation_sizes_each_instance_type_for_its_endpoints():
    cluster = ClusterSpec(mode="eks", name="c")
    eps = [
        _ep(instance_type="ml.g5.12xlarge", replicas=2),
        _ep(name="b", instance_type="g5.12xlarge", autoscaling={"maxReplicas": 5}),
    ]
    (group,) = clusters.with_default_groups(cluster, eps).gpu_node_groups
    assert (group.name, group.instance_type, group.min_size, group.desired_size, group.max_size, group.ami_type) == (
        "g5-12xlarge",
        "g5.12xlarge",
        0,
        7,
        7,
        "AL2023_x86_64_NVIDIA",
    )
    assert [p for p in clusters.validate_cluster(cluster, PlatformSpec(), eps) if p.rule == "G11"] == []
