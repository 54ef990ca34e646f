"""The plan's speed as a property of its structure (the timings are in
benchmarks/experiments/plan_speed.py; these tests pin the structure that gives them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks import plan as plan_cmd
from stacks.mocks import PlanMonitor, Registration

PROGRAM = """
import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap("settings", metadata={"name": "settings", "namespace": "x"}, data={"a": "1"})
"""


def test_plan_registers_resources_without_walking_the_python_stack(tmp_path: Path, monkeypatch):
    frames: list[int] = []
    register = PlanMonitor.RegisterResource

    def recording(self, request):
        frames.append(len(request.stackTrace.frames))
        return register(self, request)

    monkeypatch.setattr(PlanMonitor, "RegisterResource", recording)
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM)
    mocks, _ = plan_cmd.run_program("speed", {}, "llm-serving", program=program)
    assert [r.name for r in mocks.registrations if r.type_ == "kubernetes:core/v1:ConfigMap"] == ["settings"]
    assert frames and set(frames) == {0}


def test_plan_writes_block_yaml_in_the_objects_own_key_order(tmp_path: Path):
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "team-a", "labels": {"app": "x"}},
        "data": {"zeta": "1", "alpha": "a long value: with a colon", "ports": "[8080]", "empty": "", "yes": "yes"},
    }
    obj = plan_cmd.PlannedObject(1, Registration("kubernetes:core/v1:ConfigMap", "settings", {}, "", True), manifest)
    plan = plan_cmd.Plan("speed", [], [obj], [], None, "none")
    project = tmp_path / "project"
    project.mkdir()
    plan_cmd.write_objects(plan, tmp_path / "out", project)
    assert (tmp_path / "out" / "001-configmap-team-a-settings.yaml").read_text() == (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: settings\n"
        "  namespace: team-a\n"
        "  labels:\n"
        "    app: x\n"
        "data:\n"
        "  zeta: '1'\n"
        "  alpha: 'a long value: with a colon'\n"
        "  ports: '[8080]'\n"
        "  empty: ''\n"
        "  'yes': 'yes'\n"
    )


def test_plan_keeps_the_programs_info_messages_and_not_the_sdks_debug_channel(tmp_path: Path):
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi\n" + PROGRAM + 'pulumi.log.info("G19 -> kept")\npulumi.log.debug("registration noise")\n'
    )
    _, logs = plan_cmd.run_program("speed", {}, "llm-serving", program=program)
    assert ("info", "G19 -> kept") in logs
    assert [message for level, message in logs if level == "debug"] == []


CRD = """apiVersion: apiextensions.k8s.io/v1
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
        openAPIV3Schema: {type: object, properties: {spec: {type: object}}}
"""


def test_crd_registry_reads_each_file_once_and_remembers_a_missing_kind(tmp_path: Path, monkeypatch):
    from stacks.schemas import CrdRegistry

    (tmp_path / "example.com_widgets.yaml").write_text(CRD)
    (tmp_path / "notes.yaml").write_text("kind: ConfigMap\n" + "# padding\n" * 5000)
    reads: list[str] = []
    from benchmarks import inputs

    open_ = inputs.open_regular  # every read of a file goes through the one reader's open
    monkeypatch.setattr(
        inputs, "open_regular", lambda path, *a, **k: reads.append(Path(path).name) or open_(path, *a, **k)
    )
    registry = CrdRegistry(tmp_path)
    for _ in range(3):
        assert registry.schema("example.com", "v1", "Gadget") is None
    assert registry.schema("example.com", "v1", "Widget") is not None
    assert registry.schema("example.com", "v1", "Widget") is not None
    # One look at each file for the missing Gadget, then the Widget file's head and body once each.
    assert sorted(reads) == [
        "example.com_widgets.yaml",
        "example.com_widgets.yaml",
        "example.com_widgets.yaml",
        "notes.yaml",
    ]


def test_program_runs_with_the_cyclic_collector_paused_and_gets_it_back(tmp_path: Path):
    import gc

    program = tmp_path / "__main__.py"
    program.write_text(
        "import gc\nimport pulumi\n" + PROGRAM + 'pulumi.log.info(f"collector enabled: {gc.isenabled()}")\n'
    )
    assert gc.isenabled()
    _, logs = plan_cmd.run_program("speed", {}, "llm-serving", program=program)
    assert ("info", "collector enabled: False") in logs
    assert gc.isenabled()


def test_gateway_objects_wait_in_one_chain_not_on_every_earlier_object():
    """Each gateway object named every endpoint component and every earlier gateway object in depends_on;
    Pulumi's cycle check (resource_cycle_breaker) then walked the graph once per pair: 50 s of CPU in a
    50-endpoint eks plan. One chain gives the same order."""
    from tests.example_stacks import user_plan

    plan = user_plan("eks")
    groups = ("gateway.networking.k8s.io", "gateway.envoyproxy.io", "aigateway.envoyproxy.io")
    chain = [
        r
        for r in plan.resources
        if r.name.startswith("gateway-")
        and r.name != "gateway-redis-auth"
        and (r.type_ == "kubernetes:core/v1:Secret" or r.type_.split(":")[1].rpartition("/")[0] in groups)
    ]
    assert len(chain) > 10
    endpoint_urns = {r.urn for r in plan.resources if r.name.startswith("inference/")}
    key_input = {
        r.urn for r in plan.resources if r.name == "inference/qwen3-4b-vllm-api-key-key"
    }  # an input is a dependency too
    assert endpoint_urns & set(chain[0].graph.dependencies)  # the first waits for the endpoints
    for before, obj in zip(chain, chain[1:]):
        deps = set(obj.graph.dependencies)
        assert before.urn in deps and not {o.urn for o in chain if o is not before} & deps, obj.name
        assert not (endpoint_urns - key_input) & deps, obj.name
    (ingress,) = [r for r in plan.resources if r.name == "gateway-ingress"]
    assert chain[-1].urn in ingress.graph.dependencies and not {r.urn for r in chain[:-1]} & set(
        ingress.graph.dependencies
    )


def test_crd_file_is_parsed_once_into_a_json_copy_keyed_by_its_content(tmp_path: Path, monkeypatch):
    from stacks import schemas

    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "example.com_widgets.yaml").write_text(CRD)
    monkeypatch.setattr(schemas, "PARSED_DIR", tmp_path / "parsed")
    assert schemas.CrdRegistry(crds).schema("example.com", "v1", "Widget") is not None
    (copy,) = (tmp_path / "parsed").glob("*.json")
    load_all = schemas.yaml.load_all
    monkeypatch.setattr(schemas.yaml, "load_all", lambda *a, **k: pytest.fail("the YAML was parsed again"))
    assert schemas.CrdRegistry(crds).schema("example.com", "v1", "Widget") is not None
    # An edited file is new content: parsed again, and a copy that cannot be read is parsed again too.
    monkeypatch.setattr(schemas.yaml, "load_all", load_all)
    (crds / "example.com_widgets.yaml").write_text(CRD.replace("Widget", "Gadget"))
    assert schemas.CrdRegistry(crds).schema("example.com", "v1", "Gadget") is not None
    copy.write_text("{not json")
    (crds / "example.com_widgets.yaml").write_text(CRD)
    assert schemas.CrdRegistry(crds).schema("example.com", "v1", "Widget") is not None
    assert len(list((tmp_path / "parsed").glob("*.json"))) == 2
