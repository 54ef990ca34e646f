"""Load from inside the cluster: `benchmark.clients: N` on the pulumi target (docs/tuning.md, "In-cluster load").

The driver renders a ConfigMap (the load generator's own files and the run's config) and an Indexed Job of N
pods (components/rules/load_job.py, rule L1) in the endpoint's namespace, creates both through the live-cluster
writer (components/kube_jobs.py), waits (bounded by the Job's own deadline), reads each pod's raw records from
its log, merges them exactly (benchmarks/merge.py) and deletes both. The pods call the endpoint's in-cluster
Service, never its ALB.

Why pod logs and not an emptyDir read by the driver: reading a file out of a pod needs `pods/exec` (a websocket
stream, and a permission a tuning identity should not need), while the log API is a plain GET any reader of
pods has; the price is the kubelet's log rotation (`containerLogMaxSize`, 10 MiB by default), so the records
travel gzip'd, framed with their size and SHA-256, and a rotated or cut log is a named failure, never a
silently smaller sample.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import incluster as pod
from benchmarks import merge as merging
from benchmarks import raw
from benchmarks.loadgen import BenchmarkConfig, LevelResult
from benchmarks.loadgen import ConfigError as LoadgenConfigError
from components.rules import Problem, load_job
from components.rules.endpoint import resolve
from components.rules.gateway.config import upstream
from components.rules.spec import EndpointSpec, PlatformSpec

from .deploy import Interrupted

PACKAGE = Path(__file__).resolve().parents[2] / "benchmarks"
SETUP_S = 180.0  # scheduling, image pull and pip install before the first level: the pods' common start time
POLL_S = 5.0
FAIL_FAST = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
}
NOT_IN_POD = {"dataset": "benchmark.dataset", "trace": "benchmark.trace", "api_keys": "benchmark.apiKeys"}


class InClusterFailed(Exception):
    """The in-cluster load produced no merged result: one line naming the Job, the pod and the fix."""


@dataclass(frozen=True)
class InCluster:
    """Where the load pods run and what they call (carried on the trial's Endpoint)."""

    kubeconfig: Any
    namespace: str  # the endpoint's: the Job and the key Secret live there
    service_url: str  # http://<service>.<namespace>.svc.cluster.local:<port>
    api_key_secret: str | None
    reference_url: str  # a URL behind the same Service whose Date header is the pods' common clock reference
    name: str  # the trial, for the Job's name


def target_for(spec: EndpointSpec, platform: PlatformSpec | None, kubeconfig: Any, trial: str) -> InCluster | None:
    """The endpoint's in-cluster Service (the one the gateway would call), or None where the stack knows none."""
    up = upstream(spec, platform or PlatformSpec())
    if up is None or not kubeconfig:
        return None
    r = resolve(spec)
    base = f"http://{up.host}:{up.port}"
    return InCluster(kubeconfig, r.namespace, base, up.api_key_secret, base + r.health_path, trial)


def client_problems(clients: int, target: str, bench: Any) -> list[Problem]:
    """What `benchmark.clients` > 1 cannot do, as grid problems (checked where the grid is read)."""
    if clients <= 1:
        return []
    problems = []
    if target != "pulumi":
        problems.append(
            Problem(
                "benchmark.clients",
                clients,
                "CONFIG",
                "load pods run in the trial's cluster, which only target pulumi has",
                "use clients: 1 with target local",
            )
        )
    for field, key in NOT_IN_POD.items():
        if getattr(bench, field, None):
            problems.append(
                Problem(
                    key,
                    getattr(bench, field),
                    "CONFIG",
                    f"a file on this machine is not in the load pods (benchmark.clients: {clients})",
                    "use benchmark.clients: 1 with it",
                )
            )
    small = [c for c in getattr(bench, "concurrency", []) if c < clients]
    if small:
        problems.append(
            Problem(
                "benchmark.concurrency",
                small,
                "CONFIG",
                f"a level below the {clients} clients leaves some pod without a share",
                f"use levels of at least {clients}, or fewer clients",
            )
        )
    if getattr(bench, "max_requests", clients) < clients:
        problems.append(
            Problem(
                "benchmark.maxRequests",
                bench.max_requests,
                "CONFIG",
                f"fewer requests than the {clients} clients",
                f"use at least {clients}",
            )
        )
    return problems


def package_files(root: Path = PACKAGE) -> dict[str, str]:
    """The load generator's files as the pods import them: `benchmarks/...py` -> text."""
    return {
        f"benchmarks/{p.relative_to(root).as_posix()}": p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def deadline_s(config: BenchmarkConfig, setup_s: float = SETUP_S) -> int:
    """The Job's activeDeadlineSeconds: setup, the warm-up, every level with its drain, and a minute."""
    levels = max(len(config.concurrency or config.request_rates), 1)
    return int(
        setup_s + (config.timeout if config.warmup else 0) + levels * (config.level_seconds() + config.timeout) + 60
    )


def job_document(config: BenchmarkConfig, target: InCluster, clients: int, start_at: float) -> dict[str, Any]:
    """The pods' config file: the whole load (totals) against the Service; no key (it comes by secretKeyRef)."""
    values = asdict(config)
    values.update(
        url=target.service_url,
        api_key=None,
        metrics_url=None,
        slo=dict(config.slo),
        concurrency=list(config.concurrency),
        request_rates=list(config.request_rates),
    )
    return {"config": values, "clients": clients, "start_at": start_at, "reference": target.reference_url}


@dataclass
class Rendered:
    config_map: dict[str, Any]
    job: dict[str, Any]


def render(
    config: BenchmarkConfig,
    target: InCluster,
    clients: int,
    start_at: float,
    suffix: str | None = None,
    files: dict[str, str] | None = None,
) -> Rendered:
    name = load_job.job_name(f"load-{target.name}-{suffix or uuid.uuid4().hex[:6]}")
    files = package_files() if files is None else files
    doc = job_document(config, target, clients, start_at)
    cm = load_job.render_config_map(name, target.namespace, files, json.dumps(doc, indent=1))
    job = load_job.render(
        load_job.LoadJob(
            name, target.namespace, clients, name, load_job.items_for(files), deadline_s(config), target.api_key_secret
        )
    )
    problems = load_job.check(job)
    if problems:  # the renderer is the rule's own: a problem here is a bug, never a Job to create
        raise InClusterFailed(str(problems[0]))
    return Rendered(cm, job)


def _state(job: dict[str, Any] | None) -> str | None:
    for c in ((job or {}).get("status") or {}).get("conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return f"{c['type']}" + (f" ({c.get('reason')}: {c.get('message')})" if c["type"] == "Failed" else "")
    return None


def _stuck(pods: list[Any]) -> str | None:
    """A pod that cannot start (image, Secret): why, at once, rather than at the deadline."""
    for p in pods:
        for cs in (p.get("status") or {}).get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAIL_FAST:
                return f"pod {p['metadata']['name']}: {waiting['reason']}: {waiting.get('message', '')}".strip()
    return None


def run_in_cluster(
    target: InCluster,
    config: BenchmarkConfig,
    clients: int,
    stop: threading.Event,
    *,
    kube_factory: Callable[..., Any] | None = None,
    clock: Callable[[], float] = time.time,
    poll: float = POLL_S,
    setup_s: float = SETUP_S,
    suffix: str | None = None,
) -> tuple[list[LevelResult], dict[str, Any]]:
    """The merged levels and the merge's statement (clock offsets, start spread per level)."""
    try:
        for k in range(clients):
            pod.share(config, k, clients)  # a load that cannot be split fails before anything is created
    except LoadgenConfigError as exc:
        raise InClusterFailed(f"benchmark.clients {clients}: {exc}") from None
    if kube_factory is None:
        from components.kube_jobs import KubeJobs

        kube_factory = KubeJobs
    rendered = render(config, target, clients, clock() + setup_s, suffix)
    ns, name = target.namespace, rendered.job["metadata"]["name"]
    what = f"load Job {ns}/{name}"
    from components.kube_reader import LiveError, Unreachable

    kube: Any
    with kube_factory(target.kubeconfig, "the `kubeconfig` stack output") as kube:
        try:
            kube.create(rendered.config_map)
            kube.create(rendered.job)
            deadline = clock() + deadline_s(config, setup_s) + 60
            state = None
            while state is None:
                if stop.is_set():
                    raise Interrupted(f"stopped while the {what} ran")
                try:
                    state = _state(kube.job(ns, name))
                    stuck = None if state else _stuck(kube.pods(ns, f"job-name={name}"))
                except Unreachable:  # a slow API server is not the load's failure: the deadline decides
                    stuck = None
                if stuck:
                    raise InClusterFailed(
                        f"{what}: {stuck}; Fix: check the image can be pulled from the cluster and the key Secret {target.api_key_secret} exists in {ns}"
                    )
                if state is None:
                    if clock() > deadline:
                        raise InClusterFailed(
                            f"{what} did not finish by its deadline ({deadline_s(config, setup_s)} s); Fix: see `kubectl -n {ns} logs job/{name}`"
                        )
                    stop.wait(poll)
            files = _collect(kube, ns, name, clients, what)
        except (LiveError, Unreachable) as exc:
            raise InClusterFailed(f"{what}: {exc}") from None
        finally:
            for kind in ("Job", "ConfigMap"):
                try:
                    kube.delete(kind, ns, name)
                except Exception:
                    pass
    merged = merging.merge(files)
    if merged.result.aborted:
        raise InClusterFailed(f"{what}: {merged.result.aborted}")
    return merged.result.levels, merged.merge


def _collect(kube: Any, ns: str, name: str, clients: int, what: str) -> list[raw.RawFile]:
    by_index: dict[int, raw.RawFile] = {}
    problems = []
    for p in kube.pods(ns, f"job-name={name}"):
        podname = p["metadata"]["name"]
        log = kube.pod_log(ns, podname, load_job.CONTAINER)
        try:
            index, data = pod.extract(log or "", f"pod {podname}")
            by_index[index] = raw.parse(data, f"pod {podname}")
        except (pod.FrameError, raw.RawError) as exc:
            problems.append(str(exc))
    missing = sorted(set(range(clients)) - set(by_index))
    if missing:
        raise InClusterFailed(
            f"{what}: no records from client(s) {missing}"
            + (f" ({problems[0]})" if problems else "")
            + f"; Fix: see `kubectl -n {ns} logs job/{name}`"
        )
    return [by_index[k] for k in range(clients)]


def level_note(note: dict[str, Any], clock: dict[str, Any]) -> dict[str, Any]:
    """What a trial record keeps of the merge, per level (in its `workload`)."""
    return {
        "clients": note["processes"],
        "start_spread_s": note["start_spread_s"],
        "window_uncertainty_s": note["window_uncertainty_s"],
        "alignment": clock["alignment"],
        "wall_clock_spread_s": clock.get("wall_clock_spread_s"),
        "per_client_requests": [p["requests"] for p in note["per_process"]],
    }


def bench_in_cluster(
    endpoint: Any, config: BenchmarkConfig, clients: int, stop: threading.Event, **kw: Any
) -> list[LevelResult]:
    """Measurer's hook: the merged levels, each carrying the merge's statement in `workload["in_cluster"]`."""
    target = getattr(endpoint, "in_cluster", None)
    if target is None:
        raise InClusterFailed(
            f"benchmark.clients {clients}: the stack names no in-cluster Service for this endpoint (a HyperPod endpoint "
            "without intelligentRouting, or OME); Fix: use benchmark.clients: 1"
        )
    levels, note = run_in_cluster(target, config, clients, stop, **kw)
    for level, per in zip(levels, note["levels"]):
        level.workload = {**level.workload, "in_cluster": level_note(per, note["clocks"])}
    return levels
