"""Issue 14 item 9: the plan's speed as a property of its structure (the timings are in
benchmarks/plan_speed.py; these tests pin the structure that gives them)."""

from __future__ import annotations

from pathlib import Path

from stacks import plan as plan_cmd
from stacks.mocks import PlanMonitor, Registration

PROGRAM = '''
import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap("settings", metadata={"name": "settings", "namespace": "x"}, data={"a": "1"})
'''


def test_item9_plan_registers_resources_without_walking_the_python_stack(tmp_path: Path, monkeypatch):
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


def test_item9_plan_writes_block_yaml_in_the_objects_own_key_order(tmp_path: Path):
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


def test_item9_plan_keeps_the_programs_info_messages_and_not_the_sdks_debug_channel(tmp_path: Path):
    program = tmp_path / "__main__.py"
    program.write_text("import pulumi\n" + PROGRAM + 'pulumi.log.info("G19 -> kept")\npulumi.log.debug("registration noise")\n')
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


def test_item9_crd_registry_reads_each_file_once_and_remembers_a_missing_kind(tmp_path: Path, monkeypatch):
    from stacks.schemas import CrdRegistry

    (tmp_path / "example.com_widgets.yaml").write_text(CRD)
    (tmp_path / "notes.yaml").write_text("kind: ConfigMap\n" + "# padding\n" * 5000)
    reads: list[str] = []
    open_ = Path.open  # read_bytes and read_text open through it
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: reads.append(self.name) or open_(self, *a, **k))
    registry = CrdRegistry(tmp_path)
    for _ in range(3):
        assert registry.schema("example.com", "v1", "Gadget") is None
    assert registry.schema("example.com", "v1", "Widget") is not None
    assert registry.schema("example.com", "v1", "Widget") is not None
    # One look at each file for the missing Gadget, then the Widget file's head and body once each.
    assert sorted(reads) == ["example.com_widgets.yaml", "example.com_widgets.yaml", "example.com_widgets.yaml", "notes.yaml"]


def test_item9_program_runs_with_the_cyclic_collector_paused_and_gets_it_back(tmp_path: Path):
    import gc

    program = tmp_path / "__main__.py"
    program.write_text("import gc\nimport pulumi\n" + PROGRAM + 'pulumi.log.info(f"collector enabled: {gc.isenabled()}")\n')
    assert gc.isenabled()
    _, logs = plan_cmd.run_program("speed", {}, "llm-serving", program=program)
    assert ("info", "collector enabled: False") in logs
    assert gc.isenabled()
