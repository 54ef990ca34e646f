"""Every network read ends by a wall-clock deadline its caller sets, however the server behaves. The
hostile server here answers one byte per second from the status line on: every socket read gets
data, so per-read timeouts (the kubernetes client's `_request_timeout`, urllib's and botocore's
timeouts) never fire and only a deadline on the whole answer ends the wait. Before the deadlines,
`stacks status --timeout 3` against it took minutes.

One test over a table of network reads: add rows, not tests."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests import k8s_server as k
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
# Seconds past the deadline a row may take: a command's Python start-up with the stacks imports on a busy
# CI machine, or the first import in this process. Tighter than any per-read timeout a row used before.
SUBPROCESS_SLACK = 8.0
IN_PROCESS_SLACK = 3.0
HARD_TIMEOUT = 60


class DripServer(LoopbackServer):
    """A loopback HTTP server whose every GET answer comes one byte per `interval` seconds until close()."""

    def __init__(self, interval: float = 1.0) -> None:
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = b"vllm:num_requests_running 1\n"
                whole = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(body),
                    body,
                )
                try:
                    for i in range(len(whole)):
                        if server.released.wait(interval):
                            return
                        self.wfile.write(whole[i : i + 1])
                except OSError:
                    pass

        self._serve(Handler)


@pytest.fixture
def drip():
    server = DripServer()
    yield server
    server.close()


# ---------------------------------------------------------------- the reads (each returns its code and text)


def status_command(tmp_path: Path, kube_api: k.K8sServer, drip: DripServer, deadline: float) -> tuple[int, str]:
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.DRIP)
    kube_api.answer(k.IEC.format(ns="inference", name="qwen"), k.DRIP)  # not asked: the first read used the deadline
    entry = {
        "backend": "hyperpod",
        "namespace": "inference",
        "resourceName": "llama",
        "url": "https://x/v1",
        "urlKind": "alb",
    }
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "kubeconfig": kube_api.kubeconfig(),
                "endpoints": {"llama": entry, "qwen": {**entry, "resourceName": "qwen"}},
            }
        )
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "stacks", "status", "--timeout", f"{deadline:g}", "--outputs", str(outputs)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=HARD_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"stacks status --timeout {deadline:g} did not end within {HARD_TIMEOUT} s")
    return done.returncode, done.stdout + done.stderr


def tuning_wait(tmp_path: Path, kube_api: k.K8sServer, drip: DripServer, deadline: float) -> tuple[int, str]:
    from stacks.tuning.pulumi_target import live_status

    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.DRIP)
    entry = {"backend": "hyperpod", "namespace": "inference", "resourceName": "llama"}
    status = live_status({"kubeconfig": kube_api.kubeconfig(), "endpoints": {"llama": entry}}, deadline)
    return (0 if status.state == "pending" else 1), status.detail


def metrics_scrape(tmp_path: Path, kube_api: k.K8sServer, drip: DripServer, deadline: float) -> tuple[int, str]:
    import aiohttp

    from benchmarks.engine_metrics import Scraper

    async def scrape() -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            scraper = Scraper(session, f"{drip.url}/metrics", timeout=deadline)  # the run's --timeout
            snapshot = await scraper.scrape()
            return (0 if snapshot is None else 1), scraper.warning or ""

    return asyncio.run(scrape())


def pinned_download(tmp_path: Path, kube_api: k.K8sServer, drip: DripServer, deadline: float) -> tuple[int, str]:
    from stacks.pinned import FetchError, PinnedFile, fetch_pinned, urlopen

    file = PinnedFile(f"{drip.url}/crd.yaml", "0" * 40, tmp_path / "crd.yaml", "crd.yaml")
    try:
        fetch_pinned([file], lambda url: urlopen(url, timeout=deadline), lambda reason: f"CRDs not fetched ({reason})")
    except FetchError as exc:
        return 1, str(exc)
    return 0, "fetched"


class _StalledPricing:
    """A Price List client whose paginator never finishes a page (botocore's own timeouts bound each read)."""

    def __init__(self, released: threading.Event) -> None:
        self.released = released

    def get_paginator(self, name: str) -> _StalledPricing:
        return self

    def paginate(self, **kwargs: Any):
        self.released.wait(HARD_TIMEOUT)
        return iter(())


def prices_refresh(tmp_path: Path, kube_api: k.K8sServer, drip: DripServer, deadline: float) -> tuple[int, str]:
    from rich.console import Console

    from stacks.prices import refresh

    out = io.StringIO()
    code = refresh.main(
        "us-east-1",
        Console(file=out, width=400),
        tmp_path,
        client_factory=lambda: _StalledPricing(drip.released),
        timeout=deadline,
    )
    return code, out.getvalue()


# Each row: (the read, its deadline in seconds, slack, the exit code, what its one line says).
READS: dict[str, tuple[Callable[..., tuple[int, str]], float, float, int, str]] = {
    "stacks status --timeout 3 (Kubernetes API, each endpoint)": (
        status_command,
        3.0,
        SUBPROCESS_SLACK,
        1,
        "llama: reading inferenceendpointconfigs.inference.sagemaker.aws.amazon.com inference/llama: the API server did not answer within 3 s",
    ),
    "tuning wait (Kubernetes API)": (tuning_wait, 1.0, IN_PROCESS_SLACK, 0, "the API server did not answer within 1 s"),
    # The scrape's own cap is 5 s: a --timeout of 0.5 s must bound it.
    "load generator /metrics scrape": (metrics_scrape, 0.5, IN_PROCESS_SLACK, 0, "engine metrics off: "),
    "crds/charts fetch (pinned download)": (
        pinned_download,
        1.0,
        IN_PROCESS_SLACK,
        1,
        "CRDs not fetched (downloading http://127.0.0.1:",
    ),
    "prices refresh (Price List API)": (
        prices_refresh,
        1.0,
        IN_PROCESS_SLACK,
        1,
        "read AmazonEC2 prices for us-east-1 from the Price List API: no complete answer within 1 s",
    ),
}


@pytest.mark.timeout(HARD_TIMEOUT * 2)
@pytest.mark.parametrize("row", sorted(READS))
def test_network_deadlines(tmp_path, kube_api, drip, row):
    read, deadline, slack, code, phrase = READS[row]
    kube_api.drip_interval = 1.0
    start = time.monotonic()
    got, text = read(tmp_path, kube_api, drip, deadline)
    elapsed = time.monotonic() - start
    assert "Traceback" not in text
    assert got == code, text
    assert len([line for line in text.splitlines() if phrase in line]) == 1, text
    assert deadline <= elapsed + 0.05 and elapsed < deadline + slack, (elapsed, text)
