"""One pod of the in-cluster load Job (benchmarks/incluster.py): its share of the load, the records it prints to
its log, and a whole run of its entry point against the loopback stream server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import incluster, raw, stream_server
from benchmarks.loadgen import BenchmarkConfig, ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _config(**kw) -> BenchmarkConfig:
    return BenchmarkConfig(**{"url": "http://qwen.inference.svc.cluster.local:80", "model": "Qwen/Qwen3-4B", **kw})


def test_concurrency_and_requests_split_as_evenly_as_integers_allow():
    shares = [incluster.share(_config(concurrency=(10, 3), max_requests=100, seed=7), k, 3) for k in range(3)]
    assert [s.concurrency for s in shares] == [(4, 1), (3, 1), (3, 1)]
    assert [s.max_requests for s in shares] == [34, 33, 33]
    assert [s.seed for s in shares] == [7, 8, 9]
    assert [s.engine_metrics for s in shares] == [True, False, False]  # one scraper of the engine's /metrics
    assert all(s.warmup == 0 for s in shares)  # warmed up before the common start


def test_request_rates_divide_so_the_poisson_streams_add_up_to_the_total():
    shares = [incluster.share(_config(request_rates=(9.0, 3.0), max_requests=10), k, 3) for k in range(3)]
    assert [s.request_rates for s in shares] == [(3.0, 1.0)] * 3
    assert sum(s.max_requests for s in shares) == 10


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"concurrency": (2,)}, "concurrency"),
        ({"concurrency": (4,), "max_requests": 2}, "max_requests"),
        ({"concurrency": (4,), "dataset": "convs.jsonl"}, "dataset"),
    ],
)
def test_a_load_that_cannot_be_split_over_the_clients_is_refused(kw, field):
    with pytest.raises(ConfigError) as exc:
        incluster.share(_config(**kw), 0, 3)
    assert exc.value.field == field


def test_records_travel_through_the_log_whole_or_not_at_all():
    data = b'{"type":"header"}\n' * 500
    log = "Collecting aiohttp==3.14.5\nsome pip noise\n" + incluster.frame(data, 2) + "trailing line\n"
    assert incluster.extract(log, "pod p") == (2, data)
    cut = log[: log.index(incluster.END) - 40]
    with pytest.raises(incluster.FrameError, match="cut short"):
        incluster.extract(cut, "pod p")
    lines = log.splitlines()
    body = next(i for i, line in enumerate(lines) if line.startswith(incluster.BEGIN)) + 1
    lines[body] = lines[body][:-4] + ("AAAA" if not lines[body].endswith("AAAA") else "BBBB")
    with pytest.raises(incluster.FrameError, match="(altered|do not decode)"):
        incluster.extract("\n".join(lines), "pod p")
    with pytest.raises(incluster.FrameError, match="no records in the log"):
        incluster.extract("Traceback (most recent call last):\n", "pod p")


def test_the_pod_entry_runs_its_share_and_prints_its_records(tmp_path):
    """Index 1 of 3, a total of 6 concurrent and 12 requests: this pod sends 4 requests at concurrency 2, with the
    key from the environment, and its log holds exactly its raw records (no key anywhere)."""
    proc, url = stream_server.start(0.002, 0.0, metrics="none")
    try:
        doc = {
            "config": {
                "url": url,
                "model": "org/bench",
                "scenario": "D(10,4)",
                "concurrency": [6],
                "max_requests": 12,
                "max_seconds": 30,
                "timeout": 30,
                "warmup": 3,
                "engine_metrics": False,
                "seed": 1,
            },
            "clients": 3,
            "start_at": 0,
            "reference": url + "/health",
        }
        config = tmp_path / "config.json"
        config.write_text(json.dumps(doc))
        env = {**os.environ, "JOB_COMPLETION_INDEX": "1", "LOADGEN_API_KEY": "sk-pod-secret-0123456789"}
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.incluster",
                "--config",
                str(config),
                "--out",
                str(tmp_path / "raw.jsonl"),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        proc.kill()
        proc.wait()
    assert run.returncode == 0, run.stderr
    index, data = incluster.extract(run.stdout, "pod 1")
    assert index == 1 and data == (tmp_path / "raw.jsonl").read_bytes()
    f = raw.parse(data, "pod 1")
    assert f.header["process"]["index"] == 1 and f.header["process"]["clients"] == 3
    assert [lv["value"] for lv in f.levels] == [2] and len(f.requests) == 4 and all(r["ok"] for r in f.requests)
    assert "sk-pod-secret" not in run.stdout + run.stderr + data.decode()
    # The stream server sends no Date header and no time body: the reference says why, and the merge falls back.
    assert "error" in f.header["clock"]["reference_start"]
