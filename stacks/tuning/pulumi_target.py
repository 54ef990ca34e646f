"""Trials as Pulumi stacks through the Automation API.

Each trial is its own small stack of this project (the endpoint only), configured from the base
stack's config with the trial's endpoint entry, on a local file backend by default. The Automation
API drives the `pulumi` CLI in a subprocess per operation, so trials can run in parallel threads
without sharing the Python SDK's global state.

`StackRunner` is the one small interface over the Automation API; the driver is tested against a
double of it, and `AutomationStackRunner` is exercised by an integration test where the CLI exists.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from benchmarks.secrets import scrub
from components.rules import ConfigError, Problem
from components.rules.endpoint import resolve
from components.rules.spec import ClusterSpec, EndpointSpec, PlatformSpec

from .. import config as stack_config
from .. import yamlio
from ..live import DEFAULT_TIMEOUT
from ..live.outputs import register_keys
from . import leftovers
from .deploy import DeployError, Endpoint, Status, wait_until_ready
from .grid import GridSpec, PulumiTarget
from .incluster import target_for


class StackRunner(Protocol):
    def up(self, stack: str, config: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
        """Create or select `stack`, set its config, run `up`; return the stack outputs."""
        ...

    def destroy(self, stack: str, log: Callable[[str], None]) -> None:
        """Destroy the stack's resources and remove the stack. Safe when the stack does not exist."""
        ...

    def endpoint_status(self, stack: str, outputs: dict[str, Any]) -> Status:
        """The endpoint's real state, read live from the cluster (HyperPod: the InferenceEndpointConfig's
        `status.state`), never from stack outputs (see `live_status`)."""
        ...


def live_status(outputs: dict[str, Any], timeout: float = DEFAULT_TIMEOUT) -> Status:
    """G15: the trial endpoint's state read from the cluster with the stack's kubeconfig.
    Not `refresh()` then `outputs()`: a refresh does not re-run the program, so the exported `state`
    keeps its value from `up` (https://github.com/pulumi/pulumi/issues/2710)."""
    endpoints = outputs.get("endpoints") or {}
    if not isinstance(endpoints, dict) or not endpoints:
        raise DeployError("the trial stack exports no `endpoints`; the program declared no endpoint")
    if not outputs.get("kubeconfig"):
        raise DeployError(
            "neither the trial stack nor the base stack exports `kubeconfig`; Fix: set pulumi.baseStack to the platform stack"
        )
    from components.kube_reader import KubeReader, LiveError, Unreachable  # the live reads: only when a trial waits

    from ..live.reader import read_endpoint

    name, entry = next(iter(endpoints.items()))
    try:
        with KubeReader(outputs["kubeconfig"], "the `kubeconfig` stack output", timeout) as kube:
            live = read_endpoint(kube, name, entry if isinstance(entry, dict) else {})
    except Unreachable as exc:  # a slow API server is not the endpoint's failure: the deadline decides
        return Status("pending", str(exc))
    except (LiveError, ValueError) as exc:
        raise DeployError(str(exc)) from None
    return Status(live.readiness, live.detail)


def live_url(outputs: dict[str, Any], entry: dict[str, Any], timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """The endpoint's URL from the live status of the Ingress or Service its `urlSource` names (G16)."""
    from components.kube_reader import KubeReader, LiveError, Unreachable

    from ..live.reader import live_url as read_url

    if not outputs.get("kubeconfig") or not entry.get("urlSource"):
        return None
    try:
        with KubeReader(outputs["kubeconfig"], "the `kubeconfig` stack output", timeout) as kube:
            return read_url(kube, entry)[0]
    except (Unreachable, LiveError) as exc:
        raise DeployError(f"the endpoint is ready but its URL could not be read: {exc}") from None


@dataclass
class StackHandle:
    key: str
    spec: EndpointSpec
    stack: str
    log_path: Path
    outputs: dict[str, Any] | None = None


def load_base(target: PulumiTarget) -> tuple[str, dict[str, Any]]:
    """The project name and the base stack's config (empty without a base stack)."""
    project_dir = Path(target.project_dir)
    try:
        project = _project_name(project_dir / "Pulumi.yaml")
        if not target.base_stack:
            return project, {}
        path = project_dir / f"Pulumi.{target.base_stack}.yaml"
        if not path.exists():
            raise DeployError(
                f"base stack file {path} not found (pulumi.baseStack = {target.base_stack!r}); create it or fix pulumi.baseStack"
            )
        doc = yamlio.load_file(path) or {}
    except yamlio.YamlInputError as exc:
        raise DeployError(str(exc)) from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config or {}, dict):
        raise DeployError(
            f"{path}: `config` must be a map of keys to values; Fix: write `config:` followed by `key: value` lines"
        )
    return project, config or {}


def _project_name(path: Path) -> str:
    doc = yamlio.load_file(path) if path.exists() else {"name": "llm-serving"}
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise DeployError(f"{path}: no project `name`; Fix: add `name: <project>` to Pulumi.yaml")
    return doc["name"]


# Without a base stack (dry runs only): an adopted HyperPod cluster, the product's primary target.
STAND_IN_CLUSTER = {
    "mode": "existing",
    "name": "tuning",
    "hyperpodClusterArn": "arn:aws:sagemaker:us-east-1:000000000000:cluster/stand-in",
}


def with_cluster_context(grid: GridSpec) -> GridSpec:
    """The cluster trials run on (the base stack's), so pruning applies the backend rules too."""
    if grid.target != "pulumi" or grid.cluster is not None:
        return grid
    project, base = load_base(grid.pulumi)
    cluster = base_stack_config(base, project).get(f"{project}:cluster") or STAND_IN_CLUSTER
    platform = base.get(f"{project}:platform")
    where = f"Pulumi.{grid.pulumi.base_name}.yaml" if grid.pulumi.base_stack else "the stand-in cluster"
    try:
        return grid.model_copy(
            update={
                "cluster": ClusterSpec.model_validate(cluster),
                "platform": PlatformSpec.model_validate(platform) if platform else None,
            }
        )
    except ValidationError as exc:
        raise DeployError(
            f"{where}: the cluster or platform config does not parse ({exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}); run `python -m stacks plan --stack {grid.pulumi.base_name}`"
        ) from None


def base_problems(target: PulumiTarget) -> list[Problem]:
    """The base stack's errors as the driver brings it up (`base_stack_config`, under its own name): a base that
    does not pass its own checks fails every trial, so it is judged once, before any point."""
    if not target.base_stack:
        return []
    project, base = load_base(target)
    values = base_stack_config(base, project)
    own = {
        k.removeprefix(f"{project}:"): v
        for k, v in values.items()
        if k.startswith(f"{project}:") and k != f"{project}:kubeconfig"
    }
    try:
        stack_config.parse(own, values.get("aws:region"), target.base_name, Path(target.project_dir))
    except ConfigError as exc:
        return list(exc.problems)
    return []


def line_writer(path: Path) -> Callable[[str], None]:
    """Append Pulumi's output lines to a log file (the Automation API may call from several threads)."""
    lock = threading.Lock()

    def write(line: str) -> None:
        line = scrub(line)
        with lock, path.open("a") as f:
            f.write(line if line.endswith("\n") else line + "\n")

    return write


def base_stack_config(base_config: dict[str, Any], project: str = "llm-serving") -> dict[str, Any]:
    """The platform half only: the base stack declares cluster and add-ons, never a trial's endpoint. The GPU
    groups its own endpoints derive are written out, so the base keeps the groups its file promises (and the
    grid checks trials against) without those endpoints."""
    config = {k: v for k, v in base_config.items() if not k.endswith(":endpoints")}
    cluster = stack_config.deployed_cluster(base_config, project)
    if cluster is not None and isinstance(config.get(f"{project}:cluster"), dict):
        key = "instanceGroups" if cluster.mode == "hyperpod" else "gpuNodeGroups"
        groups = cluster.model_dump(mode="json", by_alias=True, exclude_defaults=True).get(key)
        if groups and not config[f"{project}:cluster"].get(key):
            config[f"{project}:cluster"] = {**config[f"{project}:cluster"], key: groups}
    return config


def trial_config(
    base_config: dict[str, Any], spec: EndpointSpec, extra: dict[str, Any], project: str, base_stack: str | None = None
) -> dict[str, Any]:
    """The base stack's config with the trial's endpoint as the only endpoint. With a base stack the
    trial is an endpoints-only stack (`platformStack`): it reuses that cluster and operator and
    never declares its own, so a trial's `up` and `destroy` touch one endpoint and nothing else.
    The base's tenant gateway stays with the base: a trial measures its endpoint directly."""
    config = {k: v for k, v in base_stack_config(base_config, project).items() if not k.endswith(":gateway")}
    config[f"{project}:endpoints"] = [spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)]
    if base_stack:
        config[f"{project}:platformStack"] = base_stack
    config.update(extra)
    return config


class PulumiDeployer:
    def __init__(
        self,
        target: PulumiTarget,
        runner: StackRunner,
        log_dir: Path,
        run: str,
        poll_interval: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.target = target
        self.clock = clock
        self.runner = runner
        self.log_dir = log_dir
        self.run = run
        self.poll_interval = poll_interval
        self.project, self.base_config = load_base(target)
        self._base_lock = threading.Lock()
        self._base_ready = False
        self._base_outputs: dict[str, Any] = {}

    def _ensure_base_stack(self) -> None:
        """Create or select the base (platform) stack once per run; `up` on an unchanged stack is a no-op."""
        if not self.target.base_stack:
            return
        with self._base_lock:
            if self._base_ready:
                return
            log_path = self.log_dir / f"base-{self.target.base_stack}.log"
            self.log_dir.mkdir(parents=True, exist_ok=True)
            try:
                self._base_outputs = (
                    self.runner.up(
                        self.target.base_stack, base_stack_config(self.base_config, self.project), line_writer(log_path)
                    )
                    or {}
                )
            except Exception as exc:
                raise DeployError(
                    f"pulumi up of the base stack {self.target.base_stack} failed: {exc} (log: {log_path})"
                ) from exc
            self._base_ready = True

    def _log(self, handle: StackHandle) -> Callable[[str], None]:
        return line_writer(handle.log_path)

    def start(self, key: str, spec: EndpointSpec) -> StackHandle:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stack = self.target.trial_stack(self.run, key)
        handle = StackHandle(key, spec, stack, self.log_dir / f"trial-{key}.log")
        if spec.kubernetes.routing == "inferencePool":
            # Its traffic goes through the trial's gateway (x-api-key of a tenant), which this driver does not call yet:
            # measuring the endpoint's own URL would time the Service's round robin and call it the pool's.
            raise DeployError(
                f"trial {key}: kubernetes.routing: inferencePool is measured through the tenant gateway, which the tuning driver does not call yet; "
                "Fix: tune the engine with routing: service, then load the gateway URL with `python -m benchmarks --api-keys` (docs/gateway.md, Pool routing)"
            )
        self._ensure_base_stack()
        config = trial_config(self.base_config, spec, self.target.config, self.project, self.target.base_stack)
        try:
            leftovers.record(self.log_dir, key, {"stack": stack})  # before `up`: a run killed during it is cleaned up
            handle.outputs = self.runner.up(stack, config, self._log(handle))
            register_keys(handle.outputs)
        except Exception as exc:  # the Automation API raises CommandError and friends
            raise DeployError(f"pulumi up of {stack} failed: {exc}", handle) from exc
        return handle

    def wait_ready(self, handle: StackHandle, timeout: float, stop: threading.Event) -> Endpoint:
        outputs = handle.outputs or {}
        # An endpoints-only trial (platformStack) exports no kubeconfig: the base stack's reaches the cluster.
        live = (
            {"kubeconfig": self._base_outputs.get("kubeconfig"), **outputs}
            if not outputs.get("kubeconfig")
            else outputs
        )
        what = f"endpoint in stack {handle.stack}"
        wait_until_ready(
            lambda: self.runner.endpoint_status(handle.stack, live), timeout, stop, self.poll_interval, what, self.clock
        )
        endpoint = _endpoint_output(outputs, handle.spec)
        # Null at `up` when the address came later (the operator's ALB): read it from its Ingress now.
        url = str(endpoint.get("url") or live_url(live, endpoint) or "")
        base = url.split("/v1/")[0] if "/v1/" in url else url
        if not base:
            raise DeployError(f"stack {handle.stack} has no endpoint url output (G16: read from the Ingress status)")
        params = resolve(handle.spec).params
        gpus = int(params.get("tensor_parallel_size", 1)) * max(handle.spec.replicas, 1)
        # Keys are exported apart from `endpoints` (a secret would make the whole map secret).
        api_key = (outputs.get("apiKeys") or {}).get(resolve(handle.spec).name) if handle.spec.api_key else None
        # benchmark.clients > 1 loads from pods calling the in-cluster Service (stacks/tuning/incluster.py).
        in_cluster = target_for(handle.spec, self._platform(), live.get("kubeconfig"), handle.stack)
        return Endpoint(base, handle.spec.model, api_key, gpus, in_cluster=in_cluster)

    def _platform(self) -> PlatformSpec | None:
        raw = self.base_config.get(f"{self.project}:platform")
        try:
            return PlatformSpec.model_validate(raw) if isinstance(raw, dict) else None
        except ValidationError:
            return None  # the base stack's own checks report it

    def stop(self, handle: StackHandle | None) -> None:
        if handle is not None:
            self.runner.destroy(handle.stack, self._log(handle))
            leftovers.remove(self.log_dir, handle.key)

    def log_path(self, handle: StackHandle | None) -> str | None:
        return str(handle.log_path) if handle else None

    def describe(self, handle: StackHandle | None) -> str | None:
        return handle.stack if handle else None

    def cleanup(self, described: str) -> None:
        self.runner.destroy(described, lambda line: None)

    def cleanup_leftovers(self) -> list[str]:
        """Trial stacks an earlier run created and never destroyed (it was killed during `up`, or its
        database failed); a stack that no longer exists is skipped by `destroy`."""
        notes = []
        for key, started in leftovers.orphans(self.log_dir):
            stack = started.get("stack") if isinstance(started, dict) else None
            if isinstance(stack, str) and stack:
                try:
                    self.runner.destroy(stack, lambda line: None)
                except Exception as exc:
                    notes.append(f"trial {key}: could not destroy stack {stack} left by an earlier run: {exc}")
                    continue
                notes.append(f"trial {key}: tore down stack {stack}, left by an earlier run")
            leftovers.remove(self.log_dir, key)
        return notes


def _endpoint_output(outputs: dict[str, Any], spec: EndpointSpec) -> dict[str, Any]:
    endpoints = outputs.get("endpoints") or {}
    entry = endpoints.get(resolve(spec).name) if isinstance(endpoints, dict) else None
    if entry is None and isinstance(endpoints, dict) and len(endpoints) == 1:
        entry = next(iter(endpoints.values()))
    return entry or {}


class AutomationStackRunner:
    """The real thing: `pulumi.automation` over this project's program, on a local file backend."""

    def __init__(
        self,
        project_dir: Path,
        backend_url: str,
        passphrase: str | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
    ):
        self.request_timeout = request_timeout
        self.project_dir = Path(project_dir).resolve()
        self.env = {
            "PULUMI_BACKEND_URL": backend_url,
            "PULUMI_CONFIG_PASSPHRASE": passphrase
            if passphrase is not None
            else os.environ.get("PULUMI_CONFIG_PASSPHRASE", ""),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }
        if backend_url.startswith("file://"):
            Path(backend_url[len("file://") :]).mkdir(parents=True, exist_ok=True)

    def _stack(self, name: str) -> Any:
        from pulumi import automation as auto

        return auto.create_or_select_stack(
            stack_name=name, work_dir=str(self.project_dir), opts=auto.LocalWorkspaceOptions(env_vars=self.env)
        )

    def up(self, stack: str, config: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
        from pulumi import automation as auto

        s = self._stack(stack)
        s.set_all_config(
            {k: auto.ConfigValue(v if isinstance(v, str) else json.dumps(v)) for k, v in config.items()}, path=False
        )
        result = s.up(on_output=log)
        return {k: v.value for k, v in result.outputs.items()}

    def destroy(self, stack: str, log: Callable[[str], None]) -> None:
        from pulumi import automation as auto

        try:
            s = auto.select_stack(
                stack_name=stack, work_dir=str(self.project_dir), opts=auto.LocalWorkspaceOptions(env_vars=self.env)
            )
        except auto.StackNotFoundError:
            return
        s.destroy(on_output=log)
        s.workspace.remove_stack(stack)

    def endpoint_status(self, stack: str, outputs: dict[str, Any]) -> Status:
        """Live from the cluster (G15); `outputs` are the ones `up` returned, for the kubeconfig and object names."""
        return live_status(outputs, self.request_timeout)
