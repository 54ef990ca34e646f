"""The router Service behind a public HyperPod ALB is found, not guessed: AWS documents neither its name nor its
port, and the operator is closed source. What is known (crowecawcaw/aws-docs-history@87e331ad
docs/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-dpd.md): the router Deployment is
`<name>-<namespace>-router` (the same page also lists pods `<name>-router-...`), its container
`router-container`, its Service `<name>-<namespace>-routing-service` on port 443. So `up` waits for the
InferenceEndpointConfig to report DeploymentComplete (bounded by maxDeploySeconds), then for the Service tied
to the router (owner reference, selector on the router's pods, a label naming it), falling back to
platform.ingress.routerService. Loopback Kubernetes API."""

from __future__ import annotations

import pytest

from components.endpoints.router_check import _Provider, check_router
from components.rules.backends import router as router_rules
from tests import k8s_server as k

OPERATOR_NS = "hyperpod-inference-system"
SERVICES = k.SERVICES.format(ns=OPERATOR_NS)
DEPLOYMENTS = k.DEPLOYMENTS.format(ns=OPERATOR_NS)
IEC = k.IEC.format(ns="inference", name="llama")


def iec(state, message="", uid="uid-llama"):
    obj = k.iec(state, message=message)
    obj["metadata"]["uid"] = uid
    return obj


def router_deployment(name, app, ports=({"name": "http", "containerPort": 8081},)):
    containers = [
        {"name": "router-container", "ports": list(ports)},
        {"name": "otel-collector", "ports": [{"name": "metrics", "containerPort": 8889}]},
    ]
    return {
        "metadata": {"name": name, "namespace": OPERATOR_NS},
        "spec": {"template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": containers}}},
    }


def service(name, selector=None, ports=({"name": "https", "port": 443, "targetPort": 8081},), labels=None, owners=None):
    meta = {
        "name": name,
        "namespace": OPERATOR_NS,
        **({"labels": labels} if labels else {}),
        **({"ownerReferences": owners} if owners else {}),
    }
    return {"metadata": meta, "spec": {"selector": selector or {}, "ports": list(ports)}}


def props(kubeconfig, router_service="llama-router", router_port=None, max_deploy=600):
    return {
        "kubeconfig": kubeconfig,
        "endpointName": "llama",
        "endpointNamespace": "inference",
        "routerService": router_service,
        "template": "{name}-router",
        "routerPort": router_port,
        "maxDeploySeconds": max_deploy,
        "serviceWaitSeconds": 120,
    }


def run(kube_api, **kw):
    clock = k.FakeClock()
    return check_router(props(kube_api.kubeconfig(), **kw), clock=clock, sleep=clock.sleep), clock


@pytest.mark.parametrize(
    "deployment, app",
    [
        ("llama-inference-router", "llama-inference-router"),  # <name>-<namespace>-router (AWS DPD page)
        ("llama-router", "llama-router"),  # <name>-router (the same page's pod listing)
    ],
)
def test_both_router_names_seen_are_found_by_the_services_selector_with_the_port_that_targets_the_router(
    kube_api, deployment, app
):
    kube_api.answer(IEC, iec("DeploymentComplete"))
    kube_api.answer_lists(DEPLOYMENTS, [router_deployment(deployment, app)])
    routing = service(
        "llama-inference-routing-service",
        selector={"app": app},
        ports=[
            {"name": "https", "port": 443, "targetPort": "http"},
            {"name": "metrics", "port": 9090, "targetPort": 8889},
        ],
    )
    unrelated = service("other-inference-routing-service", selector={"app": "other-inference-router"})
    kube_api.answer_lists(SERVICES, [unrelated, routing])
    found, clock = run(kube_api)
    assert (found.name, found.port) == ("llama-inference-routing-service", 443)
    assert (
        found.how
        == f"selects the pods of the router Deployment {deployment}; port 443: the port that targets router-container"
    )
    assert clock.now == 0.0


def test_an_owner_reference_to_the_endpoint_beats_a_service_of_the_configured_name(kube_api):
    kube_api.answer(IEC, iec("DeploymentComplete", uid="uid-42"))
    kube_api.answer_lists(DEPLOYMENTS, [])
    owned = service(
        "llama-routing",
        ports=[{"name": "http", "port": 8000}],
        owners=[{"kind": "InferenceEndpointConfig", "name": "x", "uid": "uid-42"}],
    )
    kube_api.answer_lists(SERVICES, [service("llama-router", ports=[{"port": 8080}]), owned])
    found, _ = run(kube_api)
    assert (found.name, found.port, found.how) == (
        "llama-routing",
        8000,
        "owned by InferenceEndpointConfig llama; port 8000: its only port",
    )


def test_a_label_naming_the_router_ties_a_service_when_no_deployment_is_readable(kube_api):
    kube_api.answer(IEC, iec("DeploymentComplete"))
    kube_api.answer_lists(DEPLOYMENTS, [])
    kube_api.answer_lists(
        SERVICES, [service("svc-1", labels={"app": "llama-inference-router"}, ports=[{"port": 8443}])]
    )
    found, _ = run(kube_api)
    assert (found.name, found.port, found.how) == (
        "svc-1",
        8443,
        "selects or carries app=llama-inference-router; port 8443: its only port",
    )


def test_the_configured_name_and_port_are_the_fallback_and_the_override(kube_api):
    kube_api.answer(IEC, iec("DeploymentComplete"))
    kube_api.answer_lists(DEPLOYMENTS, [])
    kube_api.answer_lists(
        SERVICES, [service("llama-router", ports=[{"name": "a", "port": 8080}, {"name": "b", "port": 9000}])]
    )
    found, _ = run(kube_api, router_port=9000)
    assert (found.name, found.port, found.how) == (
        "llama-router",
        9000,
        "platform.ingress.routerService; port 9000: platform.ingress.routerPort",
    )


def test_a_service_that_appears_late_is_waited_for_after_deployment_complete(kube_api):
    kube_api.answer(IEC, iec("DeploymentComplete"))
    kube_api.answer_lists(DEPLOYMENTS, [], [router_deployment("llama-inference-router", "llama-inference-router")])
    late = service("llama-inference-routing-service", selector={"app": "llama-inference-router"})
    kube_api.answer_lists(SERVICES, [], [], [late])
    found, clock = run(kube_api)
    assert (found.name, found.port) == ("llama-inference-routing-service", 443)
    assert clock.now == 20.0  # two polls before the operator had made it
    assert kube_api.hits[IEC] == 1 and kube_api.hits[SERVICES] == 3


def test_the_wait_starts_only_when_the_endpoint_goes_from_pending_to_complete(kube_api):
    kube_api.answer(
        IEC,
        (404, {"kind": "Status", "code": 404}),
        iec("DeploymentPending"),
        iec("DeploymentInProgress"),
        iec("DeploymentComplete"),
    )
    kube_api.answer_lists(DEPLOYMENTS, [router_deployment("llama-inference-router", "llama-inference-router")])
    kube_api.answer_lists(
        SERVICES, [service("llama-inference-routing-service", selector={"app": "llama-inference-router"})]
    )
    found, clock = run(kube_api)
    assert found.name == "llama-inference-routing-service"
    assert clock.now == 30.0 and kube_api.hits[IEC] == 4
    assert kube_api.hits[SERVICES] == 1  # Services are not read before DeploymentComplete


def test_a_failed_deployment_fails_at_once_with_the_objects_message(kube_api):
    kube_api.answer(
        IEC,
        iec("DeploymentInProgress"),
        iec("DeploymentFailed", message="Insufficient nvidia.com/gpu: 0/3 nodes are available"),
    )
    with pytest.raises(RuntimeError) as err:
        run(kube_api)
    message = str(err.value)
    assert message.startswith(
        "InferenceEndpointConfig inference/llama reports DeploymentFailed: Insufficient nvidia.com/gpu: 0/3 nodes are available;"
    )
    assert "kubectl describe inferenceendpointconfig llama -n inference" in message
    assert SERVICES not in kube_api.hits


def test_a_deployment_that_never_completes_fails_after_max_deploy_seconds_and_the_margin(kube_api):
    kube_api.answer(IEC, iec("DeploymentInProgress", message="waiting for model download"))
    clock = k.FakeClock()
    with pytest.raises(RuntimeError) as err:
        check_router(props(kube_api.kubeconfig(), max_deploy=600), clock=clock, sleep=clock.sleep)
    assert clock.now == 600 + router_rules.DEPLOY_MARGIN_SECONDS
    message = str(err.value)
    assert (
        "did not report DeploymentComplete within maxDeploySeconds (600 s) + 600 s; last: DeploymentInProgress: waiting for model download"
        in message
    )
    assert "raise the endpoint's maxDeploySeconds" in message


def test_no_service_tied_to_the_router_fails_after_the_short_wait_naming_the_keys_and_the_check(kube_api):
    kube_api.answer(IEC, iec("DeploymentComplete"))
    kube_api.answer_lists(DEPLOYMENTS, [router_deployment("llama-inference-router", "llama-inference-router")])
    kube_api.answer_lists(SERVICES, [service("llama-metrics-exporter", selector={"app": "exporter"})])
    clock = k.FakeClock()
    with pytest.raises(RuntimeError) as err:
        check_router(props(kube_api.kubeconfig()), clock=clock, sleep=clock.sleep)
    message = str(err.value)
    assert clock.now == 120.0 and message.endswith("(waited 120 s after DeploymentComplete)")
    assert (
        "no Service in hyperpod-inference-system is tied to the router of endpoint inference/llama (router Deployment llama-inference-router;"
        in message
    )
    assert (
        "platform.ingress.routerService ('{name}-router') names llama-router, which does not exist; Services there named after the endpoint: llama-metrics-exporter"
        in message
    )
    assert "kubectl get svc -n hyperpod-inference-system" in message


def test_two_services_selecting_the_router_are_refused_unless_the_configured_name_picks_one():
    routers = [
        router_deployment(
            "llama-inference-router",
            "llama-inference-router",
            ports=[{"name": "http", "containerPort": 8081}, {"name": "admin", "containerPort": 9000}],
        )
    ]
    a = service("llama-a", selector={"app": "llama-inference-router"}, ports=[{"port": 443, "targetPort": 8081}])
    b = service("llama-b", selector={"app": "llama-inference-router"}, ports=[{"port": 9000}])
    found, why = router_rules.find_router_service([a, b], routers, "llama", "inference", "llama-router")
    assert (
        found is None
        and "more than one Service in hyperpod-inference-system is tied to the router of endpoint inference/llama: llama-a, llama-b"
        in why
    )
    found, _ = router_rules.find_router_service([a, b], routers, "llama", "inference", "llama-b")
    assert found is not None and (found.name, found.port) == ("llama-b", 9000)


def test_a_service_whose_router_port_is_unclear_asks_for_router_port():
    routers = [router_deployment("llama-router", "llama-router", ports=[])]
    svc = service("llama-routing", selector={"app": "llama-router"}, ports=[{"port": 443}, {"port": 8080}])
    found, why = router_rules.find_router_service([svc], routers, "llama", "inference", "llama-router")
    assert found is None
    assert why.startswith(
        "router Service hyperpod-inference-system/llama-routing (selects the pods of the router Deployment llama-router): it has ports [443, 8080]"
    )
    assert "set platform.ingress.routerPort" in why
    found, why = router_rules.find_router_service(
        [svc], routers, "llama", "inference", "llama-router", configured_port=8081
    )
    assert found is None and "it has ports [443, 8080], not platform.ingress.routerPort 8081" in why


def test_the_lookup_inputs_decide_replacement_and_the_found_outputs_do_not():
    provider = _Provider()
    news = {
        "endpointName": "llama",
        "endpointNamespace": "inference",
        "routerService": "llama-router",
        "routerPort": None,
        "service": "llama-router",
        "port": 8080,
        "maxDeploySeconds": 600,
    }
    olds = {
        **news,
        "service": "llama-inference-routing-service",
        "port": 443,
        "found": "selects ...",
        "maxDeploySeconds": 3600,
    }
    assert provider.diff("id", olds, news).changes is False
    assert provider.diff("id", olds, {**news, "routerPort": 443}).replaces == ["routerPort"]
    # State written before the lookup existed (no endpointNamespace): replaced once, so the Service is found.
    before = {"endpointName": "llama", "service": "llama-router", "port": 8080, "template": "{name}-router"}
    assert provider.diff("id", before, news).replaces == ["endpointNamespace", "routerService"]


def test_the_public_ingress_forwards_to_the_service_and_port_the_lookup_found(monkeypatch, make_endpoint):
    from components.endpoints.hyperpod import EndpointIngress, EndpointIngressArgs
    from components.rules.spec import IngressSpec
    from stacks.mocks import PlanMocks
    from tests.stack import pulumi_harness

    found = {"service": "llama-inference-routing-service", "port": 443}
    mocks = PlanMocks(outputs={"pulumi-python:dynamic:Resource": lambda args: found})
    monkeypatch.setattr(pulumi_harness, "PlanMocks", lambda: mocks)
    spec = make_endpoint(name="llama", intelligentRouting=True, publicAlb=True)
    pulumi_harness.run(
        lambda: EndpointIngress(
            "llama-ingress",
            EndpointIngressArgs(spec, "llama", "inference", IngressSpec(), "/health", kubeconfig={"clusters": [{}]}),
        )
    )
    (ingress,) = [r for r in mocks.registrations if r.type_ == "kubernetes:networking.k8s.io/v1:Ingress"]
    assert ingress.inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "llama-inference-routing-service",
        "port": {"number": 443},
    }
