"""Issue 15 findings 4 and 5: controllers start only after what they need from AWS and from each other."""

from __future__ import annotations

import pytest

from tests.clusters.helpers import run_stack, stack_values

HYPERPOD = {"mode": "hyperpod", "name": "ml-dev"}


@pytest.fixture(scope="module", params=["pod-identity", "irsa"])
def run(request):
    # A TLS bucket the managed policy does not cover (not hyperpod-tls*): the operator gets an inline policy too.
    _, seen, _ = run_stack(stack_values(HYPERPOD, [], platform={"workloadIdentity": request.param, "tlsCertificateBucket": "my-tls-certs"}))
    return request.param, seen


def urn_of(seen, suffix: str) -> str:
    (reg,) = [r for r in seen.values() if r.name.endswith(suffix)]
    return reg.urn


def deps_of(seen, suffix: str) -> set[str]:
    (reg,) = [r for r in seen.values() if r.name.endswith(suffix)]
    return set(reg.dependencies)


@pytest.mark.parametrize("chart, role", [("platform-load-balancer-controller", "platform-lbc"), ("platform-keda", "platform-keda")])
def test_finding5_a_controller_chart_waits_for_its_role_policy_and_pod_identity_association(run, chart, role):
    mode, seen = run
    deps = deps_of(seen, chart)
    assert urn_of(seen, f"{role}-role") in deps
    if mode == "pod-identity":
        # EKS injects Pod Identity credentials when a pod is created: an earlier pod never gets any.
        assert urn_of(seen, f"{role}-pod-identity") in deps
    if role == "platform-lbc":
        assert urn_of(seen, f"{role}-policy") in deps


def test_finding5_the_operator_add_on_waits_for_its_role_policy(run):
    _, seen = run
    assert {urn_of(seen, "platform-operator-role"), urn_of(seen, "platform-operator-policy")} <= deps_of(seen, "platform-hyperpod-operator")


@pytest.mark.parametrize("chart", ["platform-cert-manager", "platform-metrics-server", "platform-keda"])
def test_finding4_charts_that_create_services_wait_for_the_load_balancer_controllers_webhook(run, chart):
    # The controller's Service webhook fails closed (chart 1.13.2: serviceMutatorWebhookConfig.failurePolicy
    # Fail): a Service created before its pods are ready is refused.
    _, seen = run
    assert urn_of(seen, "platform-load-balancer-controller") in deps_of(seen, chart)


def test_finding4_install_order_puts_the_controller_before_every_service_creator():
    from components.rules import addons
    from components.rules.spec import PlatformSpec

    order = addons.install_order(addons.resolve_addons("hyperpod", PlatformSpec()))
    for addon in addons.CREATES_SERVICES:
        assert order.index("load_balancer_controller") < order.index(addon)


def test_finding7_a_deployment_waits_as_long_as_its_model_may_load():
    # pulumi-kubernetes gives up on a Deployment after 10 minutes by default; the endpoint's own
    # budget is maxDeploySeconds (also the Deployment's progressDeadlineSeconds).
    eks = {"mode": "eks", "name": "llm", "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.12xlarge"}]}
    endpoint = {"name": "big", "model": "org/big-model", "engine": "vllm", "instanceType": "g5.12xlarge", "maxDeploySeconds": 5400,
                "modelSource": {"type": "s3", "bucket": "models", "path": "big/"}}
    _, seen, _ = run_stack(stack_values(eks, [endpoint]))
    (deployment,) = [r for r in seen.values() if r.type_ == "kubernetes:apps/v1:Deployment"]
    assert deployment.timeouts == {"create": "6000s", "update": "6000s"}


@pytest.mark.parametrize("addon, role", [("platform-s3-csi", "platform-s3-csi-role"), ("platform-fsx-csi", "platform-fsx-csi-role")])
def test_finding9_csi_add_ons_get_their_role_through_irsa_as_upstream_installs_them(addon, role):
    # AWS's setup for the inference operator installs both with --service-account-role-arn (IRSA);
    # whether each add-on takes a Pod Identity association is not verified, so upstream's way is kept
    # even when the stack's workloadIdentity is pod-identity.
    plan, seen, _ = run_stack(stack_values(HYPERPOD, [], platform={"workloadIdentity": "pod-identity"}))
    (reg,) = [r for r in plan.resources if r.type_ == "aws:eks/addon:Addon" and r.name.endswith(addon)]
    assert "serviceAccountRoleArn" in reg.inputs and not reg.inputs.get("podIdentityAssociations")
    (trust,) = [r for r in plan.resources if r.type_ == "aws:iam/role:Role" and r.name.endswith(role)]
    assert "sts:AssumeRoleWithWebIdentity" in trust.inputs["assumeRolePolicy"]
