"""The CRDs' own CEL rules (`x-kubernetes-validations`) in the offline plan and `stacks check`.

Each rendered gateway kind is broken against one rule of its upstream CRD (Envoy Gateway v1.8.1, Envoy AI
Gateway v1.1.0, Gateway API v1.5.1 in the schema folder) and the rule's own message must come back as a
schema failure. The API server's behaviour followed here is read from kubernetes/apiextensions-apiserver@v0.33.13
pkg/apiserver/schema/cel/validation.go (messages, fieldPath, oldSelf, per-element rules),
pkg/apiserver/schema/defaulting/algorithm.go (defaults before validation) and kubernetes/apiserver@v0.33.13
pkg/cel/common/values.go, pkg/cel/escaping.go, pkg/cel/library/ip.go.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from components.rules.gateway import config as gw_config
from components.rules.gateway import render as gw_render
from components.rules.spec import PlatformSpec
from stacks import check as check_cmd
from stacks import crd_cel
from stacks import plan as plan_cmd
from stacks.crd_cel import CelCounts
from stacks.schemas import Validator
from tests.example_stacks import user_plan
from tests.gateway.helpers import endpoints as gateway_endpoints
from tests.gateway.helpers import gateway as gateway_spec


def _rendered_by_kind() -> dict[str, dict]:
    """The first object of each kind the gateway's pure renderer makes (what the plan declares), so the
    rules run against what the project renders today, not a copy of it."""
    spec = gateway_spec()
    routes = gw_config.upstreams(gateway_endpoints(), PlatformSpec())
    keys = [f"sk-{t.name}" for t in spec.tenants]
    out: dict[str, dict] = {}
    for obj in gw_render.render(spec, routes, keys, {"qwen3-4b-vllm": "sk-upstream"}):
        if obj["kind"] != "Secret":
            out.setdefault(obj["kind"], obj)
    return out


BY_KIND = _rendered_by_kind()
RENDERED = list(BY_KIND.values())


def broken(obj: dict, path: str, value) -> dict:
    """A copy of `obj` with the dotted `path` (list indexes as numbers) set to `value`."""
    out = copy.deepcopy(obj)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = out
    for part in parents:
        node = node[part]
    node[last] = value
    return out


@pytest.mark.parametrize("obj", RENDERED, ids=[o["kind"] for o in RENDERED])
def test_rendered_gateway_objects_pass_their_crds_cel_rules(schema_validator, obj):
    result = schema_validator.validate(obj)
    assert result.status == "passed", (result.errors, [str(v) for v in result.cel.violations])
    assert result.cel.counts.violated == 0 and result.cel.counts.unchecked == 0


BREAKS = [
    # (object, path set, value, path reported, the rule's own message)
    (
        BY_KIND["EnvoyProxy"],
        "spec.provider.kubernetes.envoyService.loadBalancerIP",
        "10.0.0.9",
        "spec.provider.kubernetes.envoyService",
        "loadBalancerIP can only be set for LoadBalancer type",
    ),
    (
        BY_KIND["Gateway"],
        "spec.listeners",
        [{"name": "http", "protocol": "HTTP", "port": 80}, {"name": "http", "protocol": "HTTP", "port": 8080}],
        "spec.listeners",
        "Listener name must be unique within the Gateway",
    ),
    (
        BY_KIND["Backend"],
        "spec.type",
        "DynamicResolver",
        "spec",
        "DynamicResolver type cannot have endpoints specified",
    ),
    (
        BY_KIND["AIServiceBackend"],
        "spec.backendRef",
        {"name": "qwen3-4b-vllm", "kind": "Service", "group": "", "port": 80},
        "spec.backendRef",
        "BackendRef must be a Backend resource of Envoy Gateway",
    ),
    (
        BY_KIND["AIGatewayRoute"],
        "spec.rules.0.name",
        "route-not-found",
        "spec.rules[0]",
        "rule name route-not-found is reserved",
    ),
    (
        BY_KIND["BackendSecurityPolicy"],
        "spec.targetRefs",
        [{"group": "", "kind": "Service", "name": "qwen3-4b-vllm"}],
        "spec.targetRefs",
        "targetRefs must reference AIServiceBackend or InferencePool resources",
    ),
    (
        BY_KIND["SecurityPolicy"],
        "spec.targetRefs.0.group",
        "aigateway.envoyproxy.io",
        "spec",
        "this policy can only have a targetRefs[*].group of gateway.networking.k8s.io",
    ),
    (
        BY_KIND["ClientTrafficPolicy"],
        "spec.targetRefs.0.kind",
        "HTTPRoute",
        "spec",
        "this policy can only have a targetRefs[*].kind of Gateway",
    ),
    (
        BY_KIND["BackendTrafficPolicy"],
        "spec.rateLimit.global.rules.0.cost.request.metadata",
        {"namespace": "io.envoy.ai_gateway", "key": "llm_input_token"},
        "spec.rateLimit.global.rules[0].cost.request",
        "only one of number or metadata can be specified",
    ),
]


@pytest.mark.parametrize("obj, path, value, reported, message", BREAKS, ids=[b[0]["kind"] for b in BREAKS])
def test_a_broken_cel_rule_of_each_rendered_gateway_kind_is_a_schema_failure_with_the_rules_message(
    schema_validator, obj, path, value, reported, message
):
    result = schema_validator.validate(broken(obj, path, value))
    assert result.status == "failed" and result.errors == ()
    assert [(v.problem.path, v.problem.rule) for v in result.cel.violations if message in v.problem.message] == [
        (reported, "CEL")
    ]
    (violation,) = [v for v in result.cel.violations if message in v.problem.message]
    assert violation.rule in violation.problem.fix  # the rule text is in the line
    assert result.failures == len(result.cel.violations)


def test_defaults_are_applied_before_the_rules_run(schema_validator):
    # Backend's rule reads self.type, which the rendered object leaves to the CRD default (Endpoints):
    # without defaulting, the rule would end in "no such key: type".
    assert "type" not in BY_KIND["Backend"]["spec"]
    result = schema_validator.validate(BY_KIND["Backend"])
    assert result.status == "passed" and result.cel.counts.evaluated == 4


def test_transition_rule_reading_oldself_is_skipped_and_counted_never_passed(schema_validator):
    # GatewayClass's only rule is `self == oldSelf` on spec.controllerName: a create has no old object.
    result = schema_validator.validate(broken(BY_KIND["GatewayClass"], "spec.controllerName", "example.com/other"))
    assert result.cel.counts == CelCounts(evaluated=0, violated=0, unchecked=0, skipped=1)


def test_hyperpod_inference_endpoint_config_crd_carries_no_cel_rules(crd_dir):
    """The HyperPod operator's CRD (aws/sagemaker-hyperpod-cli@011ca927 inference-operator chart) has no
    x-kubernetes-validations; when a release adds some, its objects are counted here and this test asks
    for a break test like the gateway kinds'."""
    text = (crd_dir / "hyperpod" / "InferenceEndpointConfig.v1+v1alpha1.crd.yaml").read_text()
    assert "x-kubernetes-validations" not in text


# ---------------------------------------------------------------- the API server's semantics, on a small CRD

WIDGET_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-validations:
            - rule: "self.metadata.name.startsWith('w-')"
              message: name must start with w-
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              x-kubernetes-validations:
                - rule: "self.replicas <= self.maxReplicas"
                  messageExpression: "'replicas ' + string(self.replicas) + ' above maxReplicas ' + string(self.maxReplicas)"
                  fieldPath: .replicas
                  reason: FieldValueForbidden
                - rule: "!has(self.host) || !isIP(self.host)"
                  message: host must be a name, not an address
                - rule: "!has(self.url) || url(self.url).getScheme() == 'https'"
                  message: url must be https
                - rule: "!has(self.mode) || self.mode == oldSelf.mode"
                  message: mode is immutable
                - rule: "type(self.ratio) == double && type(self.port) == string && has(self.owner.__namespace__)"
                  message: values typed as the API server types them
              properties:
                replicas: {type: integer}
                maxReplicas: {type: integer, default: 4}
                host: {type: string}
                url: {type: string}
                mode: {type: string}
                ratio: {type: number}
                port: {x-kubernetes-int-or-string: true}
                owner:
                  type: object
                  properties: {namespace: {type: string}, name: {type: string}}
                size: {type: string, enum: [small, large]}
                ports:
                  type: array
                  items:
                    type: integer
                    x-kubernetes-validations:
                      - rule: "self > 1024"
                        message: ports must be above 1024
                labels:
                  type: object
                  additionalProperties:
                    type: string
                    x-kubernetes-validations:
                      - rule: "self.lowerAscii() == self"
                        message: label values are lowercase
                note:
                  x-kubernetes-int-or-string: true
                  x-kubernetes-validations:
                    - rule: "string(self).size() < 5"
                      message: note too long
"""

GOOD_SPEC = {"replicas": 2, "ratio": 1, "port": "8080", "owner": {"namespace": "team-a", "name": "o"}}


@pytest.fixture
def widgets(tmp_path: Path) -> Validator:
    (tmp_path / "example.com_widgets.yaml").write_text(WIDGET_CRD)
    return Validator(tmp_path)


def widget(name: str = "w-1", **spec) -> dict:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {**GOOD_SPEC, **spec},
    }


def messages(result) -> list[tuple[str, str]]:
    return [(v.problem.path, v.problem.message) for v in result.cel.violations]


def test_a_widget_within_every_rule_passes_with_its_counts(widgets):
    result = widgets.validate(widget(mode="a", url="https://x.example.com"))
    # root 1 + spec 3 (replicas, host, types); the url() rule is unchecked, the oldSelf rule skipped.
    assert result.status == "passed"
    assert result.cel.counts == CelCounts(evaluated=4, violated=0, unchecked=1, skipped=1)


def test_an_unknown_function_leaves_its_rule_unchecked_not_passed(widgets):
    result = widgets.validate(widget(url="http://plain.example.com"))  # would fail the rule if it could run
    assert result.cel.counts.unchecked == 1 and result.cel.violations == ()
    (line,) = result.cel.unchecked
    assert (
        line.startswith("spec: \"!has(self.url) || url(self.url).getScheme() == 'https'\"") and "getScheme, url" in line
    )


def test_message_expression_field_path_and_reason_make_the_message(widgets):
    result = widgets.validate(widget(replicas=9))  # maxReplicas comes from its default, 4
    assert messages(result) == [("spec.replicas", "replicas 9 above maxReplicas 4 (FieldValueForbidden)")]


def test_root_rule_sees_metadata_name(widgets):
    assert messages(widgets.validate(widget(name="gadget"))) == [("(root)", "name must start with w-")]


def test_items_and_additional_properties_rules_run_per_element_with_its_path(widgets):
    result = widgets.validate(widget(ports=[8080, 80, 443], labels={"team": "a", "tier": "Gold"}))
    assert messages(result) == [
        ("spec.ports[1]", "ports must be above 1024"),
        ("spec.ports[2]", "ports must be above 1024"),
        ("spec.labels[tier]", "label values are lowercase"),
    ]


def test_kubernetes_isip_refuses_an_address_where_a_name_is_required(widgets):
    assert messages(widgets.validate(widget(host="10.0.0.7"))) == [("spec", "host must be a name, not an address")]
    assert messages(widgets.validate(widget(host="api.example.com"))) == []


def test_values_are_typed_from_the_schema_and_names_escaped(widgets):
    # number -> double even when written 1; int-or-string as given; `namespace` reads as __namespace__.
    assert widgets.validate(widget()).status == "passed"
    result = widgets.validate(widget(port=8080))
    assert messages(result) == [("spec", "values typed as the API server types them")]


def test_a_null_value_runs_no_rule(widgets):
    assert widgets.validate(widget(note=None)).cel.counts.evaluated == 4
    assert messages(widgets.validate(widget(note="far too long"))) == [("spec.note", "note too long")]


def test_an_evaluation_error_is_a_violation_naming_the_rule(widgets):
    obj = widget()
    del obj["spec"]["replicas"]  # self.replicas: no such key
    (violation,) = widgets.validate(obj).cel.violations
    assert (
        violation.problem.path == "spec"
        and "replicas" in violation.problem.message
        and "evaluating rule: self.replicas <= self.maxReplicas" in violation.problem.message
    )


def test_schema_errors_that_stop_the_api_servers_rules_leave_them_unchecked(widgets):
    result = widgets.validate(widget(size="medium", replicas=9))  # enum error: the API server runs no rule
    assert result.status == "failed" and result.errors and result.cel.violations == ()
    assert result.cel.counts.evaluated == 0 and result.cel.counts.unchecked == 5


def test_each_rule_is_compiled_once_per_process(widgets, monkeypatch):
    original = crd_cel._env()
    calls: list[str] = []
    monkeypatch.setattr(crd_cel, "_CACHE", {})
    monkeypatch.setattr(
        crd_cel, "_ENV", type("Env", (), {"compile": lambda self, text: calls.append(text) or original.compile(text)})()
    )
    widgets.validate(widget())
    first = len(calls)
    widgets.validate(widget(replicas=3))
    widgets.validate(widget(ports=[2000]))
    widgets.validate(widget(ports=[3000, 4000]))
    assert first == 6 and calls[first:] == ["self > 1024"]  # the six rules met first, then the one not seen before


# ---------------------------------------------------------------- the library functions, on upstream's examples


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("127.0.0.256", False),
        (":::1", False),  # ip.go's own examples
        ("::ffff:1.2.3.4", False),
        ("fe80::1%eth0", False),
        ("192.168.00.1", False),
        ("example.com", False),
    ],
)
def test_is_ip_as_kubernetes_defines_it(text, expected):
    assert crd_cel.is_ip(text) is expected


@pytest.mark.parametrize(
    "name, escaped",
    [
        ("namespace", "__namespace__"),
        ("a-b", "a__dash__b"),
        ("a.b", "a__dot__b"),
        ("a/b", "a__slash__b"),
        ("a__b", "a__underscores__b"),
        ("plain_name", "plain_name"),
        ("1st", None),
        ("a b", None),
    ],
)
def test_property_names_are_escaped_as_kubernetes_escapes_them(name, escaped):
    assert crd_cel.escape(name) == escaped


@pytest.mark.parametrize(
    "text, seconds",
    [("1h30m", 5400), ("300ms", 0.3), ("-1.5h", -5400), ("0", 0), ("1m0.5s", 60.5), ("1.h", 3600), (".5s", 0.5)],
)
def test_go_durations(text, seconds):
    assert crd_cel.go_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "+", "1", "1d", "h", ".s"])
def test_go_durations_refused(text):
    with pytest.raises(ValueError):
        crd_cel.go_duration(text)


# ---------------------------------------------------------------- the plan and `stacks check`


@pytest.mark.parametrize(
    "stack", sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in plan_cmd.PROJECT_DIR.glob("Pulumi.*.yaml"))
)
def test_every_example_stack_passes_its_crds_cel_rules(crd_dir, stack):
    plan = user_plan(stack, crd_dir=str(crd_dir))
    failing = [f"{o.label}: {v}" for o in plan.objects if o.schema for v in o.schema.cel.violations]
    assert failing == [] and plan.cel.unchecked == 0, failing


BROKEN_PROGRAM = """
import pulumi_kubernetes as k8s
k8s.apiextensions.CustomResource(
    "broken-backend",
    api_version="gateway.envoyproxy.io/v1alpha1",
    kind="Backend",
    metadata={"name": "qwen3-4b-vllm", "namespace": "llm-gateway"},
    spec={"type": "DynamicResolver", "endpoints": [{"fqdn": {"hostname": "qwen3-4b-vllm.inference.svc.cluster.local", "port": 80}}]},
)
"""


def test_plan_reports_a_cel_violation_as_a_schema_failure_with_object_path_message_and_rule(tmp_path, crd_dir):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        (project / name).write_text((plan_cmd.PROJECT_DIR / name).read_text())
    (project / "__main__.py").write_text(BROKEN_PROGRAM)
    console = Console(record=True, width=400)
    assert plan_cmd.run("dev", str(tmp_path / "out"), str(crd_dir), "1.33", False, console, project) == 1
    text = console.export_text()
    assert "failed (1)" in text
    assert (
        "CRD rules (x-kubernetes-validations, CEL): 4 evaluated, 1 violated, 0 unchecked, 0 skipped (oldSelf)" in text
    )
    assert "schema Backend/qwen3-4b-vllm (llm-gateway): spec = " in text
    assert (
        "[CEL] DynamicResolver type cannot have endpoints specified. Fix: change the object so that the CRD's rule holds: self.type != 'DynamicResolver' || !has(self.endpoints)"
        in text
    )


def test_check_prints_the_violation_and_json_counts_the_rules(tmp_path, crd_dir):
    manifest = broken(BY_KIND["Backend"], "spec.type", "DynamicResolver")
    path = tmp_path / "backend.yaml"
    path.write_text(yaml.safe_dump(manifest))
    out = io.StringIO()
    assert check_cmd.main([str(path)], crd_dir=str(crd_dir), out=out) == 1
    text = out.getvalue()
    assert f"{path}:1: Backend llm-gateway/qwen3-4b-vllm: mandatory schema: spec = " in text
    assert "[CEL] DynamicResolver type cannot have endpoints specified." in text
    assert (
        "CRD rules (x-kubernetes-validations, CEL): 4 evaluated, 1 violated, 0 unchecked, 0 skipped (oldSelf)" in text
    )
    out = io.StringIO()
    check_cmd.main([str(path)], as_json=True, crd_dir=str(crd_dir), out=out)
    report = json.loads(out.getvalue())
    assert report["celRules"] == {"evaluated": 4, "violated": 1, "unchecked": 0, "skipped": 0}
    (violation,) = report["documents"][0]["schema"]["celViolations"]
    assert violation["path"] == "spec" and violation["rule"] == "self.type != 'DynamicResolver' || !has(self.endpoints)"
    assert violation["message"] == "DynamicResolver type cannot have endpoints specified"
