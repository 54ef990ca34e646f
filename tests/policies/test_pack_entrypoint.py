"""The pack loads the way the Pulumi CLI runs it (policies/__main__.py, cwd policies/, a fresh
interpreter) and answers the analyzer gRPC protocol; and it imports from the project's own code.
The CLI itself is not installable here: `pulumi preview --policy-pack policies` is the same server
driven by the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from components.rules.policy_catalog import POLICIES
from tests.policies.policy_builders import render

ROOT = Path(__file__).resolve().parents[2]
POLICIES_DIR = ROOT / "policies"


@pytest.fixture(scope="module")
def analyzer():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the entry point must find the rules itself
    env["PULUMI_STACK"] = "prod"
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=POLICIES_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = process.stdout.readline().strip()
        if not port.isdigit():
            process.kill()
            pytest.fail(f"the pack did not start: {port!r} {process.stderr.read()}")
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=20)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(timeout=10)


def struct(value: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def test_entry_point_serves_every_policy_with_its_level_and_config_schema(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "llm-serving-guardrails"
    by_name = {p.name: p for p in info.policies}
    assert set(by_name) == {p.name for p in POLICIES}
    for spec in POLICIES:
        level = {"mandatory": proto.MANDATORY, "advisory": proto.ADVISORY}[spec.enforcement]
        assert by_name[spec.name].enforcementLevel == level, spec.name
        assert by_name[spec.name].description.startswith(f"[{spec.rule}] ")
    assert "requiredTags" in json_format.MessageToDict(by_name["s6-required-tags"].configSchema)["properties"]
    assert by_name["g09-api-key-reaches-router"].policy_type == proto.PolicyType.POLICY_TYPE_STACK


def test_entry_point_analyzes_a_resource_as_the_engine_sends_it(analyzer):
    """G3 over the wire (the SGLang DLC listens on 8080): port 8080 in args, 8000 everywhere else."""
    obj = render()
    args = obj["spec"]["worker"]["args"]
    args[args.index("--port") + 1] = "8080"
    request = proto.AnalyzeRequest(
        type="kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig",
        properties=struct(obj),
        urn="urn:pulumi:prod::llm-serving::kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig::qwen3-4b",
        name="qwen3-4b",
    )
    diagnostics = analyzer.Analyze(request).diagnostics
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [("g03-one-engine-port", proto.MANDATORY)]
    assert "spec.worker.args[--port] = '8080': [G3]" in diagnostics[0].message and "Fix: " in diagnostics[0].message


def test_entry_point_takes_the_policy_pack_config(analyzer):
    """What `--policy-pack-config` sends: s6 made mandatory with a custom tag list."""
    config = proto.PolicyConfig(enforcementLevel=proto.MANDATORY, properties=struct({"requiredTags": ["team"]}))
    analyzer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={"s6-required-tags": config}))
    request = proto.AnalyzeRequest(
        type="aws:s3/bucket:Bucket", properties=struct({"tags": {"llm-serving/stack": "prod"}}), urn="urn:b", name="tls"
    )
    diagnostics = analyzer.Analyze(request).diagnostics
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [("s6-required-tags", proto.MANDATORY)]
    assert "missing required tag(s) team" in diagnostics[0].message


def test_pack_module_imports_without_starting_a_server():
    from policies import pack

    built = pack.policies()
    assert [p.name for p in built] == [p.name for p in POLICIES]
    assert len({p.name for p in built}) == len(built)


def test_requirements_pin_what_the_rule_library_imports():
    pins = (POLICIES_DIR / "requirements.txt").read_text()
    project = (ROOT / "requirements.txt").read_text()
    for package in ("pulumi-policy", "pulumi", "pydantic"):
        line = next(ln for ln in project.splitlines() if ln.startswith(f"{package}=="))
        assert line in pins.splitlines(), f"policies/requirements.txt must pin {line}"
