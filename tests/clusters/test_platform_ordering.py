"""Controllers start only after what they need from AWS and from each other."""

from __future__ import annotations

import pytest

from tests.clusters.helpers import run_stack, stack_values

HYPERPOD = {"mode": "hyperpod", "name": "ml-dev"}


@pytest.fixture(scope="module", params=["pod-identity", "irsa"])
def run(request):
    # A TLS bucket the managed policy does not cover (not hyperpod-tls*): the operator gets an inline policy too.
    _, seen, _ = run_stack(
        stack_values(HYPERPOD, [], platform={"workloadIdentity": request.param, "tlsCertificateBucket": "my-tls-certs"})
    )
    return request.param, seen


def urn_of(seen, suffix: str) -> str:
    (reg,) = [r for r in seen.values() if r.name.endswith(suffix)]
    return reg.urn


def deps_of(seen, suffix: str) -> set[str]:
    (reg,) = [r for r in seen.values() if r.name.endswith(suffix)]
    return set(reg.dependencies)


@pytest.mark.parametrize(
    "chart, role", [("platform-load-balancer-controller", "platform-lbc"), ("platform-keda", "platform-keda")]
)
def test_a_controller_chart_waits_for_its_role_policy_and_pod_identity_association(run, chart, role):
    mode, seen = run
    deps = deps_of(seen, chart)
    assert urn_of(seen, f"{role}-role") in deps
    if mode == "pod-identity":
        # EKS injects Pod Identity credentials when a pod is created: an earlier pod never gets any.
        assert urn_of(seen, f"{role}-pod-identity") in deps
    if role == "platform-lbc":
        assert urn_of(seen, f"{role}-policy") in deps


def test_the_operator_add_on_waits_for_its_role_policy(run):
    _, seen = run
    assert {urn_of(seen, "platform-operator-role"), urn_of(seen, "platform-operator-policy")} <= deps_of(
        seen, "platform-hyperpod-operator"
    )


@pytest.mark.parametrize("chart", ["platform-cert-manager", "platform-metrics-server", "platform-keda"])
def test_charts_that_create_services_wait_for_the_load_balancer_controllers_webhook(run, chart):
    # The controller's Service webhook fails closed (chart 1.13.2: serviceMutatorWebhookConfig.failurePolicy
    # Fail): a Service created before its pods are ready is refused.
    _, seen = run
    assert urn_of(seen, "platform-load-balancer-controller") in deps_of(seen, chart)


def test_install_order_puts_the_controller_before_every_service_creator():
    from components.rules import addons
    from components.rules.spec import PlatformSpec

    # With an endpoint on each operator's backend, so that their operators (whose charts create Services) are installed too.
    order = addons.install_order(addons.resolve_addons("hyperpod", PlatformSpec(), addons.OPERATOR_ADDONS))
    for addon in addons.CREATES_SERVICES:
        assert order.index("load_balancer_controller") < order.index(addon)


def test_a_deployment_waits_as_long_as_its_model_may_load():
    # pulumi-kubernetes gives up on a Deployment after 10 minutes by default; the endpoint's own
    # budget is maxDeploySeconds (also the Deployment's progressDeadlineSeconds).
    eks = {"mode": "eks", "name": "llm", "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.12xlarge"}]}
    endpoint = {
        "name": "big",
        "model": "org/big-model",
        "engine": "vllm",
        "instanceType": "g5.12xlarge",
        "maxDeploySeconds": 5400,
        "modelSource": {"type": "s3", "bucket": "models", "path": "big/"},
    }
    _, seen, _ = run_stack(stack_values(eks, [endpoint]))
    (deployment,) = [r for r in seen.values() if r.type_ == "kubernetes:apps/v1:Deployment"]
    assert deployment.timeouts == {"create": "6000s", "update": "6000s"}


@pytest.mark.parametrize(
    "addon, role", [("platform-s3-csi", "platform-s3-csi-role"), ("platform-fsx-csi", "platform-fsx-csi-role")]
)
def test_csi_add_ons_get_their_role_through_irsa_as_upstream_installs_them(addon, role):
    # AWS's setup for the inference operator installs both with --service-account-role-arn (IRSA);
    # whether each add-on takes a Pod Identity association is not verified, so upstream's way is kept
    # even when the stack's workloadIdentity is pod-identity.
    plan, seen, _ = run_stack(stack_values(HYPERPOD, [], platform={"workloadIdentity": "pod-identity"}))
    (reg,) = [r for r in plan.resources if r.type_ == "aws:eks/addon:Addon" and r.name.endswith(addon)]
    assert "serviceAccountRoleArn" in reg.inputs and not reg.inputs.get("podIdentityAssociations")
    (trust,) = [r for r in plan.resources if r.type_ == "aws:iam/role:Role" and r.name.endswith(role)]
    assert "sts:AssumeRoleWithWebIdentity" in trust.inputs["assumeRolePolicy"]


def _addons_and_charts(values):
    plan, seen, _ = run_stack(values)
    addons = {r.inputs["addonName"]: r for r in plan.resources if r.type_ == "aws:eks/addon:Addon"}
    charts = {r.inputs.get("chart") for r in plan.resources if r.type_ == "kubernetes:helm.sh/v4:Chart"}
    return plan, seen, addons, charts


def test_dependency_add_ons_cert_manager_and_metrics_server_are_eks_add_ons_before_the_operator_in_mode_hyperpod():
    """AWS's setup page ("Install the dependency EKS Add-Ons", sagemaker-hyperpod-model-deployment-setup): the
    inference operator fails to install without metrics-server and cert-manager, listed as EKS add-ons with
    minimum versions v0.7.2-eksbuild.4 and v1.18.2-eksbuild.2; AWS's Terraform installs both with aws_eks_addon.
    The stack installed both as Helm charts."""
    plan, seen, addons, charts = _addons_and_charts(stack_values(HYPERPOD, []))
    assert addons["cert-manager"].inputs["addonVersion"] == "v1.18.2-eksbuild.2"
    assert addons["metrics-server"].inputs["addonVersion"] == "v0.7.2-eksbuild.4"
    assert not {"cert-manager", "metrics-server"} & charts
    assert not [
        r for r in plan.resources if r.type_ == "kubernetes:core/v1:Namespace" and r.name == "platform-ns-cert-manager"
    ]  # the add-on makes it
    operator = deps_of(seen, "platform-hyperpod-operator")
    assert {urn_of(seen, "platform-cert-manager"), urn_of(seen, "platform-metrics-server")} <= operator
    assert urn_of(seen, "platform-cert-manager") in deps_of(seen, "platform-keda")  # KEDA's Certificates


def test_dependency_add_ons_stay_helm_charts_in_mode_eks():
    # No HyperPod operator there; KEDA, KServe and HPAs need the APIs only.
    _, _, addons, charts = _addons_and_charts(stack_values({"mode": "eks", "name": "llm"}, []))
    assert {"cert-manager", "metrics-server"} <= charts
    assert not {"cert-manager", "metrics-server"} & set(addons)


def test_dependency_add_on_versions_are_the_setup_pages_minimums_as_aws_pins_them(upstream_dir):
    import re

    from components.rules import addons

    setup = (
        upstream_dir / "aws-docs-history/docs/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-setup.md"
    ).read_text()
    minimums = dict(re.findall(r"\*\*(Metrics Server|Cert Manager)\*\* \(minimum version: (v[\w.-]+)\)", setup))
    assert addons.HYPERPOD_EKS_ADDON_VERSIONS == {
        "metrics_server": minimums["Metrics Server"],
        "cert_manager": minimums["Cert Manager"],
    }
    assert [addons.EKS_ADDONS[a][0] for a in ("metrics_server", "cert_manager")] == re.findall(
        r"--addon-name (metrics-server|cert-manager) \\", setup
    )
    tf = (
        upstream_dir
        / "awsome-distributed-training/1.architectures/7.sagemaker-hyperpod-eks/terraform-modules/hyperpod-eks-tf/modules"
    )
    assert 'addon_name   = "metrics-server"' in (tf / "hyperpod_inference_operator/main.tf").read_text()
    assert 'addon_name    = "cert-manager"' in (tf / "hyperpod_cluster/cert_manager.tf").read_text()
    assert (
        f'default     = "{addons.HYPERPOD_EKS_ADDON_VERSIONS["cert_manager"]}"'
        in (tf / "hyperpod_cluster/variables.tf").read_text()
    )
    migration = (
        upstream_dir
        / "sagemaker-hyperpod-cli/helm_chart/HyperPodHelmChart/charts/inference-operator/migration/helm_to_addon.sh"
    ).read_text()
    for addon in ("metrics_server", "cert_manager"):
        assert re.search(
            rf"--addon-name {addons.EKS_ADDONS[addon][0]} \\\n\s+--addon-version {re.escape(addons.HYPERPOD_EKS_ADDON_VERSIONS[addon])}",
            migration,
        ), addon
