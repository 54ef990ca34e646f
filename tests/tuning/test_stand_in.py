"""The stand-in engine (stacks/local_engine/stand_in.py): an OpenAI-compatible server whose batch, queue and
/metrics page follow its engine flags, and which fails at start-up like an engine out of memory."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from benchmarks.engine_metrics import parse
from stacks.tuning.local import STAND_IN, free_port


def _start(*flags: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(STAND_IN),
            "--port",
            str(port),
            "--model",
            "m",
            "--served-model-name",
            "tiny",
            "--startup-delay",
            "0",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"stand-in not ready: {proc.communicate()[0]}")


def test_stand_in_runs_at_most_sglangs_max_running_requests_and_queues_the_rest_on_its_metrics_page():
    proc, url = _start("--max-running-requests", "2")
    try:

        def stream() -> None:
            body = {
                "model": "tiny",
                "messages": [{"role": "user", "content": "a b c"}],
                "max_tokens": 150,
                "stream": True,
            }
            with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=20) as response:
                assert response.status_code == 200
                text = "".join(response.iter_text())
            assert (
                text.count('"content": "tok "') == 150
                and '"completion_tokens": 150' in text
                and text.endswith("data: [DONE]\n\n")
            )

        threads = [threading.Thread(target=stream) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # 150 steps of 4 ms or more: the first two are still decoding
        busy = parse(httpx.get(url + "/metrics", timeout=5).text)
        for t in threads:
            t.join(30)
        idle = httpx.get(url + "/metrics", timeout=5).text
        assert (busy["running"], busy["waiting"], busy["kv_cache_usage"]) == (2, 2, 1.0)
        assert 'vllm:request_success_total{engine="0",model_name="tiny"} 4.0' in idle
        assert parse(idle)["running"] == 0
        assert httpx.get(url + "/v1/models", timeout=5).json()["data"][0]["id"] == "tiny"
    finally:
        proc.kill()
        proc.wait(10)


def test_stand_in_above_its_batch_limit_exits_at_start_up_like_an_engine_out_of_memory():
    proc = subprocess.run(
        [
            sys.executable,
            str(STAND_IN),
            "--port",
            "1",
            "--model",
            "m",
            "--served-model-name",
            "tiny",
            "--max-num-seqs",
            "65",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "CUDA out of memory (stand-in): max_num_seqs 65 is above 64" in proc.stderr
    assert "not a real engine" in proc.stdout


def test_stand_in_imports_nothing_of_the_project():
    source = Path(STAND_IN).read_text()
    assert not [
        line
        for line in source.splitlines()
        if line.startswith(("from stacks", "from components", "from benchmarks", "import stacks", "from tests"))
    ]
