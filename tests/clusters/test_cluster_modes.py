"""Clusters, platform and endpoint wiring under Pulumi mocks, one test module for the three modes:
what is declared, parents, the one Kubernetes provider, dependencies (G20), secrets (G9), URL (G16)."""

from __future__ import annotations

import copy
import json

import pytest

from tests.clusters.helpers import BASE_ENDPOINT, resolve, run_stack, stack_values

HYPERPOD = {"mode": "hyperpod", "name": "ml-dev"}
EKS = {
    "mode": "eks",
    "name": "llm-staging",
    "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.12xlarge", "maxSize": 2, "diskSize": 300}],
}
# An adopted HyperPod cluster (the ARN says the operator runs there): its endpoints default to hyperpod.
EXISTING = {
    "mode": "existing",
    "name": "adopted",
    "hyperpodClusterArn": "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcd1234efgh",
}


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"


@pytest.fixture(scope="module")
def hyperpod_run():
    public = {**BASE_ENDPOINT, "name": "public", "publicAlb": True, "namespace": "team-a"}
    return run_stack(
        stack_values(HYPERPOD, [BASE_ENDPOINT, public], platform={"ingress": {"certificateArn": CERTIFICATE}})
    )  # S2


@pytest.fixture(scope="module")
def eks_run():
    return run_stack(stack_values(EKS, [], platform={"workloadIdentity": "irsa"}))


@pytest.fixture(scope="module")
def existing_run():
    return run_stack(stack_values(EXISTING))


def by_type(seen, type_):
    return [r for r in seen.values() if r.type_ == type_]


def test_every_kubernetes_resource_uses_the_one_provider_built_from_the_cluster_kubeconfig(
    hyperpod_run, eks_run, existing_run
):
    for plan, seen, _ in (hyperpod_run, eks_run, existing_run):
        k8s_resources = [r for r in seen.values() if r.type_.startswith("kubernetes:")]
        assert k8s_resources
        for r in k8s_resources:
            assert "pulumi:providers:kubernetes::k8s::" in r.provider, (r.name, r.provider)
        (provider,) = [reg for reg in plan.resources if reg.type_ == "pulumi:providers:kubernetes"]
        assert provider.inputs["kubeconfig"]  # from the cluster, never the ambient ~/.kube/config
        assert provider.inputs.get("enableServerSideApply") in (True, "true")


def test_hyperpod_mode_declares_eks_control_plane_and_hyperpod_cluster_with_its_instance_groups(hyperpod_run):
    plan, seen, _ = hyperpod_run
    regs = {r.name: r for r in plan.resources}
    eks = regs["cluster-eks"]
    assert eks.inputs["authenticationMode"] == "API" and eks.inputs["createOidcProvider"] is True
    assert eks.inputs["skipDefaultNodeGroup"] is True and eks.inputs["name"] == "ml-dev"
    hp = regs["hyperpod-cluster"]
    assert hp.type_ == "aws-native:sagemaker:Cluster"
    assert hp.inputs["orchestrator"]["eks"]["clusterArn"] == "arn:aws:eks:us-east-1:123456789012:cluster/ml-dev"
    assert hp.inputs["nodeRecovery"] == "Automatic"
    (group,) = hp.inputs["instanceGroups"]
    assert (
        group["instanceType"] == "ml.g5.8xlarge" and group["instanceCount"] == 2
    )  # derived: two endpoints, one replica each
    assert group["onStartDeepHealthChecks"] == ["InstanceStress", "InstanceConnectivity"]
    assert group["executionRole"].startswith("arn:aws:iam::")
    assert group["kubernetesConfig"]["labels"]["nvidia.com/gpu.present"] == "true"
    assert "pulumi:pulumi:Stack$llm-serving:cluster:HyperPodCluster::hyperpod" in seen["hyperpod-cluster"].parent
    assert any("eks:index:Cluster::cluster-eks" in d for d in seen["hyperpod"].dependencies)


def test_components_parent_their_children(hyperpod_run):
    _, seen, _ = hyperpod_run
    expectations = {
        "cluster-eks": "EksCluster::cluster",
        "cluster-system": "EksCluster::cluster",
        "network-vpc": "Network::network",
        "platform-hyperpod-operator": "Platform::platform",
        "platform-cert-manager": "Platform::platform",
        # Endpoint resources are named <namespace>/<name> (G2: a name may repeat across namespaces).
        "default/qwen3-4b-api-key-default": "EndpointApiKey::default/qwen3-4b-api-key",
        # Only the public endpoint has the stack's Ingress (the internal one uses the operator's ALB).
        "team-a/public-ingress": "EndpointIngress::team-a/public-ingress",
    }
    for name, parent in expectations.items():
        assert seen[name].parent.endswith(parent), (name, seen[name].parent)


def test_G20_operator_addon_waits_for_its_prerequisites_and_has_its_configuration(hyperpod_run):
    plan, seen, _ = hyperpod_run
    op = seen["platform-hyperpod-operator"]
    deps = " ".join(op.dependencies)
    for prereq in (
        "platform-cert-manager",
        "platform-load-balancer-controller",
        "platform-s3-csi",
        "platform-fsx-csi",
        "platform-metrics-server",
        "platform-keda",
    ):
        assert f"::{prereq}" in deps, prereq
    reg = {r.name: r for r in plan.resources}["platform-hyperpod-operator"]
    assert reg.inputs["addonName"] == "amazon-sagemaker-hyperpod-inference"
    config = json.loads(reg.inputs["configurationValues"])
    assert config["executionRoleArn"].split("/")[-1].startswith("SageMakerHyperPodInference")
    assert config["hyperpodClusterArn"].startswith("arn:aws:sagemaker:")
    assert config["tlsCertificateS3Bucket"].startswith("hyperpod-tls-")
    assert config["alb"] == {"enabled": False} and config["keda"] == {"enabled": False}  # the stack owns them


def test_G20_endpoint_custom_resources_and_key_secrets_depend_on_the_operator_that_installs_their_crd(hyperpod_run):
    _, seen, _ = hyperpod_run
    for name in (
        "default/qwen3-4b",
        "team-a/public",
        "team-a/public-api-key-hyperpod-inference-system",
        "default/qwen3-4b-api-key-default",
    ):
        reg = seen[name]  # the CustomResource / Secret itself, not only its component
        assert reg.type_.startswith("kubernetes:")
        assert any(d.endswith("::platform-hyperpod-operator") for d in reg.dependencies), name


def test_G9_key_secret_in_both_namespaces_from_one_source_and_no_plaintext_output(hyperpod_run):
    plan, seen, outputs = hyperpod_run
    secrets = [
        r
        for r in plan.resources
        if r.type_ == "kubernetes:core/v1:Secret" and r.name.startswith("team-a/public-api-key")
    ]
    assert sorted(s.inputs["metadata"]["namespace"] for s in secrets) == ["hyperpod-inference-system", "team-a"]
    values = {s.inputs["stringData"]["api-key"] for s in secrets}
    assert len(values) == 1 and all(s.secret for s in secrets)
    key, key_secret = resolve(outputs["apiKeys"]["public"])
    assert key_secret and key in values
    endpoints, _ = resolve(outputs["endpoints"])
    assert key not in json.dumps(endpoints)  # no plaintext key in any other output
    assert "$API_KEY" in endpoints["public"]["curl"]
    kubeconfig, kube_secret = resolve(outputs["kubeconfig"])
    assert kube_secret and kubeconfig
    # The endpoint CR carries the same key for the router (G9: the operator copies no secretKeyRef).
    (cr,) = [r for r in plan.resources if r.type_.endswith(":InferenceEndpointConfig") and r.name == "team-a/public"]
    env = {e["name"]: e for e in cr.inputs["spec"]["worker"]["environmentVariables"]}
    assert env["VLLM_API_KEY"]["value"] in values


def test_G8_G16_G17_ingress_scheme_fixed_at_creation_url_from_final_status(hyperpod_run):
    plan, seen, outputs = hyperpod_run
    ingresses = {r.name: r for r in plan.resources if r.type_ == "kubernetes:networking.k8s.io/v1:Ingress"}
    public = ingresses["team-a/public-ingress"].inputs
    assert "default/qwen3-4b-ingress" not in ingresses  # internal: the operator's own ALB, no second one
    assert public["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert public["metadata"]["namespace"] == "hyperpod-inference-system"
    assert public["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] == "/health"  # vLLM's route
    assert any(d.endswith("::platform-load-balancer-controller") for d in seen["team-a/public-ingress"].dependencies)
    endpoints, _ = resolve(outputs["endpoints"])
    # The internal endpoint's URL is the operator's Ingress's, read live; the public one's follows its status.
    assert endpoints["qwen3-4b"]["url"] is None and endpoints["qwen3-4b"]["urlKind"] == "operator-alb"
    assert endpoints["public"]["url"].startswith("https://k8s-") and endpoints["public"]["url"].endswith(
        "/v1/chat/completions"
    )  # S2: the stack's ALBs have a certificate
    assert public["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"] == CERTIFICATE
    assert endpoints["public"]["servedModelName"] == "Qwen3-4B-Instruct-2507"
    assert endpoints["public"]["namespace"] == "team-a" and endpoints["public"]["apiKeySecret"] == "public-api-key"


def test_ingress_manifest_passes_the_kubernetes_schema(hyperpod_run):
    import kubernetes_validate

    plan, _, _ = hyperpod_run
    for obj in plan.objects:
        if obj.kind == "Ingress":
            kubernetes_validate.validate(obj.manifest, "1.33", strict=True)


def test_eks_mode_gpu_node_group_inputs(eks_run):
    plan, seen, outputs = eks_run
    regs = {r.name: r for r in plan.resources}
    gpu = regs["cluster-g5"]
    assert gpu.type_ == "eks:index:ManagedNodeGroup"
    assert gpu.inputs["amiType"] == "AL2023_x86_64_NVIDIA"  # the API string (pulumi-eks #1578)
    assert gpu.inputs["instanceTypes"] == ["g5.12xlarge"] and gpu.inputs["diskSize"] == 300
    assert gpu.inputs["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 1}
    assert gpu.inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert gpu.inputs["labels"]["llm-serving/instance-type"] == "g5.12xlarge"
    system = regs["cluster-system"]
    assert system.inputs["amiType"] == "AL2023_x86_64_STANDARD" and "taints" not in system.inputs
    assert "aws-native:sagemaker:Cluster" not in {r.type_ for r in plan.resources}
    assert "amazon-sagemaker-hyperpod-inference" not in json.dumps([r.inputs for r in plan.resources], default=str)
    # Node groups wait for the network (NAT routes) before they are created.
    # (depends_on a component expands to its children: the private subnets' route associations)
    assert any(
        d.endswith("routeTableAssociation:RouteTableAssociation::network-private-0")
        for d in seen["cluster-g5"].dependencies
    )
    cluster, secret = resolve(outputs["cluster"])
    assert cluster["nodeGroups"] == ["llm-staging-system", "llm-staging-g5"] and not secret
    # IRSA: the load balancer controller's role trusts the cluster's OIDC provider.
    trust = json.loads(regs["platform-lbc-role"].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"


def test_capacity_reservation_moves_disk_to_a_launch_template():
    cluster = copy.deepcopy(EKS)
    cluster["gpuNodeGroups"][0]["capacityReservationId"] = "cr-0123456789abcdef0"
    plan, _, _ = run_stack(stack_values(cluster, []))
    regs = {r.name: r for r in plan.resources}
    lt = regs["cluster-g5-lt"]
    assert (
        lt.inputs["capacityReservationSpecification"]["capacityReservationTarget"]["capacityReservationId"]
        == "cr-0123456789abcdef0"
    )
    assert "diskSize" not in regs["cluster-g5"].inputs and regs["cluster-g5"].inputs["launchTemplate"]


def test_existing_mode_declares_no_cluster_and_no_addons_by_default(existing_run):
    plan, _, outputs = existing_run
    types = {r.type_ for r in plan.resources}
    assert not types & {
        "eks:index:Cluster",
        "aws:ec2/vpc:Vpc",
        "aws-native:sagemaker:Cluster",
        "aws:eks/addon:Addon",
        "kubernetes:helm.sh/v4:Chart",
    }
    kubeconfig, secret = resolve(outputs["kubeconfig"])
    assert secret and json.loads(kubeconfig)["users"][0]["user"]["exec"]["args"][:4] == [
        "eks",
        "get-token",
        "--cluster-name",
        "adopted",
    ]


def test_existing_mode_with_kubeconfig_file(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\n")
    plan, _, outputs = run_stack(stack_values({**EXISTING, "kubeconfigPath": str(path)}))
    assert resolve(outputs["kubeconfig"]) == ("apiVersion: v1\nkind: Config\n", True)


def test_endpoints_only_stack_reads_the_platform_stack_and_declares_no_platform():
    plan, seen, outputs = run_stack(stack_values(HYPERPOD, platformStack="organization/llm-serving/dev"))
    types = [r.type_ for r in plan.resources]
    assert "pulumi:pulumi:StackReference" in types
    assert not {"eks:index:Cluster", "aws:eks/addon:Addon", "kubernetes:helm.sh/v4:Chart"} & set(types)
    assert any(t.endswith(":InferenceEndpointConfig") for t in types)
    assert all("::k8s::" in r.provider for r in seen.values() if r.type_.startswith("kubernetes:"))


def test_api_key_from_secrets_manager_generates_nothing():
    ep = {**BASE_ENDPOINT, "apiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-key-AbCdEf"}
    plan, _, outputs = run_stack(stack_values(HYPERPOD, [ep]))
    assert "random:index/randomPassword:RandomPassword" not in {r.type_ for r in plan.resources}
    value, secret = resolve(outputs["apiKeys"]["qwen3-4b"])
    assert secret and value
    secrets = [r for r in plan.resources if r.type_ == "kubernetes:core/v1:Secret"]
    assert {s.inputs["stringData"]["api-key"] for s in secrets} == {value}
