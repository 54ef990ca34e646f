"""L1: the in-cluster load Job (components/rules/load_job.py). The Job controller sets JOB_COMPLETION_INDEX on
every container of an Indexed Job (kubernetes/kubernetes@037091284e pkg/controller/job/indexed_job_utils.go
addCompletionIndexEnvVariable), so the pod needs no downward-API volume of its own."""

from __future__ import annotations

import copy
import importlib.metadata
import json

import pytest

from components.rules import catalog, load_job
from stacks.schemas import Validator

FILES = {"benchmarks/__init__.py": "", "benchmarks/workloads/base.py": "x = 1\n"}


def _job(**kw) -> dict:
    spec = {
        "name": "load-tune-qwen-a1b2c3",
        "namespace": "inference",
        "clients": 3,
        "config_map": "load-tune-qwen-a1b2c3",
        "items": load_job.items_for(FILES),
        "active_deadline_seconds": 900,
        "api_key_secret": "qwen-api-key",
    }
    spec.update(kw)
    return load_job.render(load_job.LoadJob(**spec))


def test_l1_rendered_job_is_indexed_with_one_pod_per_client_all_at_once():
    job = _job()
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["spec"]["completionMode"] == "Indexed"
    assert (job["spec"]["completions"], job["spec"]["parallelism"], job["spec"]["backoffLimit"]) == (3, 3, 0)
    assert job["spec"]["activeDeadlineSeconds"] == 900 and job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert load_job.check(job) == []
    assert load_job.fix(job) == (job, [])


def test_l1_api_key_comes_from_the_endpoints_secret_never_a_plain_value():
    env = _job()["spec"]["template"]["spec"]["containers"][0]["env"]
    key = [e for e in env if e["name"] == "LOADGEN_API_KEY"]
    assert key == [
        {"name": "LOADGEN_API_KEY", "valueFrom": {"secretKeyRef": {"name": "qwen-api-key", "key": "api-key"}}}
    ]
    assert all("value" not in e or e["name"] != "LOADGEN_API_KEY" for e in env)
    assert not [
        e
        for e in _job(api_key_secret=None)["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"] == "LOADGEN_API_KEY"
    ]


def test_l1_pod_runs_unprivileged_with_its_own_cpu_and_memory():
    pod = _job()["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "fsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert c["resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def test_l1_image_is_pinned_by_digest_and_pip_installs_pinned_wheels_only():
    c = _job()["spec"]["template"]["spec"]["containers"][0]
    assert (
        c["image"]
        == "python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0"
    )
    script = c["command"][2]
    assert (
        "--require-hashes --no-deps --only-binary=:all: --target /work/deps -r /opt/loadgen/requirements.txt" in script
    )
    requirements = load_job.render_config_map("x", "inference", FILES, "{}")["data"]["requirements.txt"].splitlines()
    assert requirements[0] == (
        "aiohttp==3.14.5 --hash=sha256:20f085697d7e911f1f73c43ed03fafbed1e7121797e2eb5428efa80398060584 "
        "--hash=sha256:abfda5cb094a829f7bc25216a32f7db2e85cc65bd59910f8e7b40b3d9b224764"
    )  # x86_64, aarch64
    assert len(requirements) == 13 and all(" --hash=sha256:" in line for line in requirements)
    assert ("requirements.txt", "requirements.txt") in load_job.items_for(FILES)
    assert script.rstrip().endswith(
        "exec python -m benchmarks.incluster --config /opt/loadgen/config.json --out /work/raw.jsonl"
    )


def test_l1_pip_pins_are_the_versions_this_project_runs():
    """The pods run the load generator on the same third-party versions as its tests here."""
    for pin in load_job.REQUIREMENTS:
        name, version = pin.split("==")
        assert importlib.metadata.version(name) == version, pin


def test_l1_the_pod_entry_imports_nothing_the_pins_leave_out():
    """What `python -m benchmarks.incluster` imports beyond the standard library is installed by the pod's pip."""
    import subprocess
    import sys

    code = (
        "import sys, benchmarks.incluster, benchmarks.eventloop as e; e.loop_factory(); "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    third_party = {m for m in out if not m.startswith("_") and m not in ("benchmarks", "cython_runtime")}
    provided = {
        "aiohttp",
        "aiohappyeyeballs",
        "aiosignal",
        "attr",
        "frozenlist",
        "multidict",
        "propcache",
        "yarl",
        "idna",
        "typing_extensions",
        "orjson",
        "prometheus_client",
        "uvloop",
    }
    assert third_party <= provided, third_party - provided
    assert {pin.split("==")[0] for pin in load_job.REQUIREMENTS} == (provided - {"attr"}) | {"attrs"}


BREAKS = [
    (("spec", "completionMode"), "NonIndexed", "spec.completionMode"),
    (("spec", "backoffLimit"), 6, "spec.backoffLimit"),
    (("spec", "parallelism"), 1, "spec.parallelism"),
    (("spec", "completions"), 65, "spec.completions"),
    (("spec", "activeDeadlineSeconds"), None, "spec.activeDeadlineSeconds"),
    (("spec", "ttlSecondsAfterFinished"), 0, "spec.ttlSecondsAfterFinished"),
    (("spec", "template", "spec", "restartPolicy"), "OnFailure", "spec.template.spec.restartPolicy"),
    (
        ("spec", "template", "spec", "automountServiceAccountToken"),
        True,
        "spec.template.spec.automountServiceAccountToken",
    ),
    (
        ("spec", "template", "spec", "securityContext", "runAsNonRoot"),
        False,
        "spec.template.spec.securityContext.runAsNonRoot",
    ),
]


@pytest.mark.parametrize("path, value, where", BREAKS, ids=[b[2] for b in BREAKS])
def test_l1_each_break_is_reported_once(path, value, where):
    job = _job()
    node = job
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    problems = load_job.check(job)
    assert [p.path for p in problems] == [where] and problems[0].rule == catalog.L1


@pytest.mark.parametrize(
    "key, value", [("allowPrivilegeEscalation", True), ("readOnlyRootFilesystem", False), ("capabilities", {})]
)
def test_l1_container_privileges_are_reported_and_fixed(key, value):
    job = _job()
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"][key] = value
    assert [p.path.split(".")[-1] for p in load_job.check(job)] == [key if key != "capabilities" else "drop"]
    fixed, changes = load_job.fix(job)
    assert load_job.check(fixed) == [] and len(changes) == 1 and changes[0].rule == "L1"


def test_l1_fix_sets_what_follows_from_the_rule_and_leaves_the_rest_to_check():
    job = _job()
    job["spec"].update(completionMode="NonIndexed", backoffLimit=4, parallelism=1)
    del job["spec"]["activeDeadlineSeconds"]
    fixed, changes = load_job.fix(job)
    assert (fixed["spec"]["completionMode"], fixed["spec"]["backoffLimit"], fixed["spec"]["parallelism"]) == (
        "Indexed",
        0,
        3,
    )
    assert [p.path for p in load_job.check(fixed)] == ["spec.activeDeadlineSeconds"]
    assert {c.path for c in changes} == {"spec.completionMode", "spec.backoffLimit", "spec.parallelism"}


def test_l1_a_plain_secret_value_in_env_is_reported_without_its_value():
    job = _job()
    job["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "OPENAI_API_KEY", "value": "sk-live-abcdefghijklmnop"}
    )
    problems = load_job.check(job)
    assert len(problems) == 1 and problems[0].path.endswith(".value") and "secretKeyRef" in problems[0].fix
    assert "sk-live" not in str(problems[0])


@pytest.mark.parametrize(
    "image, pinned",
    [
        ("python:3.12-slim", False),
        ("python", False),
        ("python:latest", False),
        ("python:3.12.8-slim-bookworm", True),
        ("registry.example.com/loadgen@sha256:" + "a" * 64, True),
    ],
)
def test_l1_image_must_be_a_digest_or_an_exact_version(image, pinned):
    problems = load_job.check(_job(image=image))
    assert (problems == []) is pinned


def test_l1_job_and_config_map_pass_the_kubernetes_schemas():
    """Strict kubernetes-validate schemas (stacks/schemas.py) of the Kubernetes version the plan defaults to."""
    validator = Validator(None)
    cm = load_job.render_config_map("load-tune-qwen-a1b2c3", "inference", FILES, json.dumps({"clients": 3}))
    for obj in (_job(), cm):
        result = validator.validate(obj)
        assert result.status == "passed", (obj["kind"], result)
    typo = _job()
    typo["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    assert validator.validate(typo).status == "failed"  # strict: an unknown field is an error


def test_l1_the_real_package_fits_one_config_map():
    """A ConfigMap holds at most 1 MiB (etcd's object limit is 1.5 MiB): the load generator's files must fit."""
    from stacks.tuning.incluster import package_files

    files = package_files()
    cm = load_job.render_config_map("x", "inference", files, "{}")
    size = sum(len(k) + len(v.encode()) for k, v in cm["data"].items())
    assert "benchmarks/incluster.py" in files and "benchmarks/workloads/base.py" in files
    assert size < 1024 * 1024
    items = {p: k for k, p in load_job.items_for(files)}
    assert items["benchmarks/workloads/base.py"] == "benchmarks__workloads__base.py"


def test_l1_long_trial_names_leave_room_for_the_pod_suffix():
    name = load_job.job_name("load-" + "tune-a-very-long-grid-name-" * 4 + "abc123")
    assert len(name) <= 52 and name == load_job.job_name("load-" + "tune-a-very-long-grid-name-" * 4 + "abc123")
    mutated = copy.deepcopy(_job(name="x" * 80))
    assert len(mutated["metadata"]["name"]) <= 52
