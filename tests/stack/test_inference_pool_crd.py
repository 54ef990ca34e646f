"""The rendered InferencePool against its pinned CRD in the offline plan's schema and CEL checks
(kubernetes-sigs/gateway-api-inference-extension@v1.0.2 config/crd/bases/inference.networking.k8s.io_inferencepools.yaml,
pinned in stacks/crd_sources.json): the rendered pool passes, and a pool that breaks one of the CRD's rules comes
back with the CRD's own message."""

from __future__ import annotations

import copy

from components.rules import inference_pool as ip
from components.rules.spec import EndpointSpec

SPEC = EndpointSpec.model_validate(
    {
        "name": "qwen3-4b",
        "model": "Qwen/Qwen3-4B-Instruct-2507",
        "engine": "vllm",
        "instanceType": "g5.2xlarge",
        "namespace": "inference",
        "modelSource": {"type": "huggingface"},
        "backend": "kubernetes",
        "kubernetes": {"routing": "inferencePool"},
    }
)


def test_the_rendered_pool_passes_the_v1_0_2_crd_schema_and_cel_rules(schema_validator):
    result = schema_validator.validate(ip.pool(SPEC))
    assert result.status == "passed", (result.errors, [str(v) for v in result.cel.violations])
    assert "InferencePool.v1.gie-v1.0.2.crd.yaml" in result.source
    assert result.cel.counts.evaluated == 1 and result.cel.counts.violated == 0


def test_a_picker_reference_without_a_port_breaks_the_crds_cel_rule(schema_validator):
    pool = copy.deepcopy(ip.pool(SPEC))
    del pool["spec"]["endpointPickerRef"]["port"]
    result = schema_validator.validate(pool)
    assert result.status == "failed"
    assert [(v.problem.path, v.problem.rule) for v in result.cel.violations] == [("spec.endpointPickerRef", "CEL")]
    assert "port is required when kind is 'Service' or unspecified" in result.cel.violations[0].problem.message


def test_two_target_ports_break_the_crds_schema(schema_validator):
    pool = copy.deepcopy(ip.pool(SPEC))
    pool["spec"]["targetPorts"] = [{"number": 8000}, {"number": 8001}]
    result = schema_validator.validate(pool)
    assert result.status == "failed" and any("is too long" in e for e in result.errors), result.errors
