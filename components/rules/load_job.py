"""L1: the in-cluster load Job of a tuning trial with `benchmark.clients: N` (docs/tuning.md, "In-cluster load").

N load-generator pods, one `batch/v1` Indexed Job in the endpoint's namespace, call the endpoint's in-cluster
Service (no ALB between them and the engine). Each pod runs its share of the load (index from
`JOB_COMPLETION_INDEX`, which the Job controller sets on every container of an Indexed Job:
kubernetes/kubernetes@037091284e `pkg/controller/job/indexed_job_utils.go` addCompletionIndexEnvVariable) and
prints its raw records to its log, which the driver reads and merges.

Where the code comes from: the project is not published on a package index, so the load generator's own files
travel in a ConfigMap the driver builds from the checkout it runs (`render_config_map`), mounted read-only; the
pod is a public Python image pinned by digest, and installs the load generator's few third-party packages at
start, each pinned to the version this project is tested with (`REQUIREMENTS`), binary wheels only, no
dependency resolution. The pod then runs exactly the code of the driver that measures with it.

What must hold, and why (each is one problem of rule L1):
- Indexed, completions = parallelism = clients (1..MAX_CLIENTS): every share runs, all at once;
- backoffLimit 0: a retried pod would run its share again, later, so the level would not be one load;
- activeDeadlineSeconds: a pod that hangs (pip, an endpoint that never answers) ends;
- ttlSecondsAfterFinished: a Job the driver could not delete (it was killed) goes away by itself, after the
  driver had time to read the logs;
- restartPolicy Never, no service account token, non-root, no privilege escalation, all capabilities dropped,
  read-only root filesystem, RuntimeDefault seccomp, CPU and memory requests and limits (a client starved of
  CPU measures itself, not the endpoint);
- no secret as a plain env value: the API key comes from the endpoint's Secret by secretKeyRef;
- the image pinned by digest or an exact version tag.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks import secrets

from .catalog import L1
from .endpoint import API_KEY_SECRET_KEY
from .naming import fit, normalise
from .problems import Change, Problem

# python 3.12.8 slim (Debian bookworm), the multi-arch index digest; the tag alone is rebuilt when Debian updates.
LOAD_IMAGE = "python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0"
# The load generator's third-party packages at the versions requirements.txt pins (aiohttp, orjson,
# prometheus_client, uvloop) and the versions they resolved to here (tests/rules/test_load_job.py keeps them
# equal to the installed ones), with the SHA-256 of their PyPI files for CPython 3.12 on manylinux x86_64 and
# aarch64 (pure-Python packages: the one wheel). pip installs them with --require-hashes and --no-deps, binary
# wheels only: nothing unpinned, nothing built, nothing altered comes in.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "aiohttp==3.14.5": (
        "20f085697d7e911f1f73c43ed03fafbed1e7121797e2eb5428efa80398060584",
        "abfda5cb094a829f7bc25216a32f7db2e85cc65bd59910f8e7b40b3d9b224764",
    ),
    "aiohappyeyeballs==2.7.1": ("9243213661e29250eb41368e5daa826fc017156c3b8a11440826b2e3ed376472",),
    "aiosignal==1.4.0": ("053243f8b92b990551949e63930a839ff0cf0b0ebbe0597b0f3fb19e1a0fe82e",),
    "attrs==26.1.0": ("c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309",),
    "frozenlist==1.8.0": (
        "494a5952b1c597ba44e0e78113a7266e656b9794eec897b19ead706bd7074383",
        "96f423a119f4777a4a056b66ce11527366a8bb92f54e541ade21f2374433f6d4",
    ),
    "multidict==7.2.1": (
        "1fb8c1a3480c130c3a6422d5f16f3cad6552bf08c2089dd288ba7134649183b5",
        "fa0ecd064b0ae18d235283abb5adbc4e07304dba8f2aa7c0d61f28bebcc70d4c",
    ),
    "propcache==0.5.4": (
        "2814ecd8e818f487bee4b0f921bc4d1c176cc5fc71ac0f072d0fa67eda4ac14b",
        "60a64cbccaa11b7760ce705a14ada17ba459e7ca9f23ba587eb013821032d7ef",
    ),
    "yarl==1.25.1": (
        "4d781294bb815ecb5ea57ff6bbf8038e0a31a95fdf3e1788f66e0dc100d64b58",
        "c6f117789d22dce188e5754e8bc65b7e6ebf8cb73963b9fa761f672a5883769d",
    ),
    "idna==3.21": ("387ab0bbea1ee7a196ea5b24eb007bad0242cc3127fe96713939942bc9e720d7",),
    "typing_extensions==4.16.0": ("481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8",),
    "orjson==3.13.0": (
        "ae1d895cf7bbfd50ef34bb63bb727b14514f259f3e3f8dd010783bd38e864c6e",
        "bceadfd314bd238f584fc229a4bbaf0e573597e7a026dec5429fbf29fd66c641",
    ),
    "prometheus_client==0.26.0": ("fa93d06737aa02bacd05794768508bb97d2fbee28cb3bca04eaae92f0ca953d6",),
    "uvloop==0.23.0": (
        "090865d8ce7a03986755a3ce711b7dd0d4b44eb14ab74368b717f3fad1180208",
        "f7548ede3ee908cfabc0d068106e303a9a2d811af959cdf6ab85676344cedcda",
    ),
}
MAX_CLIENTS = 64  # pods of one Job; far above what a level needs (docs/tuning.md: one client's ceiling)
CONTAINER = "loadgen"
PACKAGE_DIR = "/opt/loadgen"  # the ConfigMap: the load generator's files and config.json
WORK_DIR = "/work"  # emptyDir: pip's target, temp files, the raw records file
CONFIG_KEY = "config.json"
REQUIREMENTS_KEY = "requirements.txt"
API_KEY_ENV = "LOADGEN_API_KEY"
USER_ID = 65534  # nobody: the image runs as root by default
TTL_SECONDS = 3600
WORK_SIZE = "1Gi"
LABELS = {"app.kubernetes.io/name": "llm-serving-load", "app.kubernetes.io/managed-by": "llm-serving-tune"}
MAX_NAME = 52  # pods are named <job>-<index>-<5 random>: 63 with room for a 4-digit index
_EXACT_TAG = re.compile(r":v?\d+\.\d+\.\d+[\w.-]*$")

CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": USER_ID,
    "runAsGroup": USER_ID,
    "fsGroup": USER_ID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class LoadJob:
    name: str  # becomes a valid name of at most MAX_NAME characters (job_name)
    namespace: str  # the endpoint's
    clients: int
    config_map: str  # holds the package files and config.json (render_config_map)
    items: tuple[tuple[str, str], ...]  # (ConfigMap key, path under PACKAGE_DIR)
    active_deadline_seconds: int
    api_key_secret: str | None = None  # the endpoint's key Secret, in the same namespace
    image: str = LOAD_IMAGE
    cpu: str = "1"
    memory: str = "1Gi"
    ttl_seconds_after_finished: int = TTL_SECONDS


def job_name(raw: str) -> str:
    return fit(normalise(raw), MAX_NAME)


def config_key(path: str) -> str:
    """A ConfigMap key for a file path (keys hold no `/`)."""
    return path.replace("/", "__")


def render_config_map(name: str, namespace: str, files: Mapping[str, str], config_json: str) -> dict[str, Any]:
    """The load generator's files (path -> text, e.g. `benchmarks/loadgen.py`) and the run's config."""
    data = {config_key(path): text for path, text in sorted(files.items())}
    data[CONFIG_KEY] = config_json
    data[REQUIREMENTS_KEY] = requirements_txt()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS)},
        "data": data,
    }


def items_for(files: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((config_key(path), path) for path in sorted(files)) + (
        (CONFIG_KEY, CONFIG_KEY),
        (REQUIREMENTS_KEY, REQUIREMENTS_KEY),
    )


def requirements_txt() -> str:
    return "".join(
        f"{pin} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n" for pin, hashes in REQUIREMENTS.items()
    )


def start_script() -> str:
    """pip into the emptyDir (the root filesystem is read-only), then the pod's entry point (benchmarks/incluster.py)."""
    return (
        "set -eu\n"
        f"mkdir -p {WORK_DIR}/tmp {WORK_DIR}/deps\n"
        f"python -m pip install --quiet --no-cache-dir --disable-pip-version-check --no-input --require-hashes --no-deps "
        f"--only-binary=:all: --target {WORK_DIR}/deps -r {PACKAGE_DIR}/{REQUIREMENTS_KEY} >&2\n"
        f"export PYTHONPATH={WORK_DIR}/deps:{PACKAGE_DIR}\n"
        f"exec python -m benchmarks.incluster --config {PACKAGE_DIR}/{CONFIG_KEY} --out {WORK_DIR}/raw.jsonl\n"
    )


def render(job: LoadJob) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "HOME", "value": WORK_DIR},
        {"name": "TMPDIR", "value": f"{WORK_DIR}/tmp"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "LOADGEN_CLIENTS", "value": str(job.clients)},
    ]
    if job.api_key_secret:
        env.append(
            {
                "name": API_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": job.api_key_secret, "key": API_KEY_SECRET_KEY}},
            }
        )
    resources = {"cpu": job.cpu, "memory": job.memory}
    container = {
        "name": CONTAINER,
        "image": job.image,
        "command": ["sh", "-c", start_script()],
        "env": env,
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "securityContext": copy.deepcopy(CONTAINER_SECURITY),
        "volumeMounts": [
            {"name": "loadgen", "mountPath": PACKAGE_DIR, "readOnly": True},
            {"name": "work", "mountPath": WORK_DIR},
        ],
    }
    labels = dict(LABELS)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(job.name), "namespace": job.namespace, "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": job.clients,
            "parallelism": job.clients,
            "backoffLimit": 0,
            "activeDeadlineSeconds": job.active_deadline_seconds,
            "ttlSecondsAfterFinished": job.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": copy.deepcopy(POD_SECURITY),
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "loadgen",
                            "configMap": {
                                "name": job.config_map,
                                "items": [{"key": k, "path": p} for k, p in job.items],
                            },
                        },
                        {"name": "work", "emptyDir": {"sizeLimit": WORK_SIZE}},
                    ],
                },
            },
        },
    }


# ---------------------------------------------------------------- check


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _problem(path: str, value: Any, message: str, fix: str) -> Problem:
    return Problem(path, value, L1, message, fix)


# (path under the object, wanted value, why): the settings `fix` can set itself.
FIXED: tuple[tuple[tuple[str, ...], Any, str], ...] = (
    (("spec", "completionMode"), "Indexed", "each pod needs its own index to run its share of the load"),
    (("spec", "backoffLimit"), 0, "a retried pod runs its share again, later: the level would not be one load"),
    (("spec", "template", "spec", "restartPolicy"), "Never", "a restarted container runs its share again"),
    (
        ("spec", "template", "spec", "automountServiceAccountToken"),
        False,
        "the load generator calls no Kubernetes API: no token in the pod",
    ),
    (
        ("spec", "template", "spec", "securityContext", "runAsNonRoot"),
        True,
        "the image runs as root unless told otherwise",
    ),
    (
        ("spec", "template", "spec", "securityContext", "seccompProfile"),
        {"type": "RuntimeDefault"},
        "the runtime's default syscall filter",
    ),
)
CONTAINER_FIXED: tuple[tuple[tuple[str, ...], Any, str], ...] = (
    (("securityContext", "allowPrivilegeEscalation"), False, "no setuid escalation"),
    (("securityContext", "readOnlyRootFilesystem"), True, "the pod writes only its emptyDir"),
    (("securityContext", "capabilities", "drop"), ["ALL"], "an HTTP client needs no capability"),
)


def _containers(obj: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    items = _get(obj, "spec", "template", "spec", "containers")
    return [(i, c) for i, c in enumerate(items if isinstance(items, list) else []) if isinstance(c, dict)]


def check(obj: Mapping[str, Any]) -> list[Problem]:
    """Every way this Job breaks L1, one problem each."""
    if obj.get("apiVersion") != "batch/v1" or obj.get("kind") != "Job":
        return [
            _problem(
                "kind",
                f"{obj.get('apiVersion')} {obj.get('kind')}",
                "the in-cluster load is a batch/v1 Job",
                "render it with components/rules/load_job.py:render",
            )
        ]
    problems: list[Problem] = []
    for path, wanted, why in FIXED:
        value = _get(dict(obj), *path)
        if value != wanted:
            problems.append(_problem(".".join(path), value, why, f"set it to {wanted!r}"))
    completions, parallelism = _get(dict(obj), "spec", "completions"), _get(dict(obj), "spec", "parallelism")
    if not isinstance(completions, int) or isinstance(completions, bool) or not 1 <= completions <= MAX_CLIENTS:
        problems.append(
            _problem(
                "spec.completions",
                completions,
                f"one pod per client, from 1 to {MAX_CLIENTS}",
                "set it to benchmark.clients",
            )
        )
    elif parallelism != completions:
        problems.append(
            _problem(
                "spec.parallelism",
                parallelism,
                f"not equal to completions ({completions}): the shares would not run at once",
                f"set it to {completions}",
            )
        )
    for key, why in (
        ("activeDeadlineSeconds", "a pod that hangs (pip, an endpoint that never answers) would run forever"),
        ("ttlSecondsAfterFinished", "a Job the driver could not delete would stay forever"),
    ):
        v = _get(dict(obj), "spec", key)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            problems.append(_problem(f"spec.{key}", v, why, "set a positive number of seconds"))
    for i, c in _containers(obj):
        where = f"spec.template.spec.containers[{i}]"
        for path, wanted, why in CONTAINER_FIXED:
            value = _get(c, *path)
            if value != wanted:
                problems.append(_problem(f"{where}.{'.'.join(path)}", value, why, f"set it to {wanted!r}"))
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if not _get(c, "resources", kind, res):
                    problems.append(
                        _problem(
                            f"{where}.resources.{kind}.{res}",
                            None,
                            "a client without its own CPU and memory measures its neighbours, not the endpoint",
                            "set both, as render does (1 CPU and 1Gi requested and limited)",
                        )
                    )
        image = c.get("image")
        if not isinstance(image, str) or not ("@sha256:" in image or _EXACT_TAG.search(image)):
            problems.append(
                _problem(
                    f"{where}.image",
                    image,
                    "not pinned: a moving tag runs other code in each pod over time",
                    "pin a digest (name@sha256:...) or an exact version tag",
                )
            )
        env = c.get("env")
        for j, e in enumerate(env if isinstance(env, list) else []):
            if (
                isinstance(e, dict)
                and "value" in e
                and (
                    secrets.is_secret_name(e.get("name"))
                    or (isinstance(e.get("value"), str) and secrets.SECRET_VALUE.search(e["value"]))
                )
            ):
                problems.append(
                    _problem(
                        f"{where}.env[{j}].value",
                        "(redacted)",
                        "a secret as a plain env value is readable by anyone who can read the Job",
                        f"take it from the endpoint's Secret: valueFrom.secretKeyRef (key {API_KEY_SECRET_KEY})",
                    )
                )
    return problems


def fix(obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """Sets what L1 asks where the value follows from the rule alone; the rest (deadline, resources, image, a
    secret value) stays a problem for `check`."""
    out = copy.deepcopy(dict(obj))
    changes: list[Change] = []

    def put(root: dict[str, Any], path: tuple[str, ...], wanted: Any, where: str, why: str) -> None:
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part), dict) or part not in node else node[part]
            if not isinstance(node, dict):
                return
        if node.get(path[-1]) != wanted:
            changes.append(Change(where, node.get(path[-1]), wanted, L1, why))
            node[path[-1]] = copy.deepcopy(wanted)

    if out.get("kind") != "Job":
        return out, changes
    for path, wanted, why in FIXED:
        put(out, path, wanted, ".".join(path), why)
    completions = _get(out, "spec", "completions")
    if isinstance(completions, int) and _get(out, "spec", "parallelism") != completions:
        put(out, ("spec", "parallelism"), completions, "spec.parallelism", "every share runs at once")
    for i, c in _containers(out):
        for path, wanted, why in CONTAINER_FIXED:
            put(c, path, wanted, f"spec.template.spec.containers[{i}].{'.'.join(path)}", why)
    return out, changes
