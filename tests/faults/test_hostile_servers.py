"""Hostile servers: the load generator trusts nothing a loopback server sends.

Impossible usage, usage of the wrong type, an event that never ends, more text than was asked
for, Rich markup in server text, every request failing, SIGTERM mid-run and an ``--out`` that is
a directory.  Each case ends as a recorded per-request error (or a one-line CLI error), never an
exception, a success with absurd numbers, or a run without its JSON.
"""

import json
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from benchmarks.cli import main  # noqa: E402 - after ROOT, which the imports' test setup reads
from benchmarks.loadgen import BenchmarkConfig, run_benchmark_sync  # noqa: E402 - after ROOT, which the imports' test setup reads
from tests.loadgen.scripted_server import ScriptedServer, signal_mid_run  # noqa: E402 - after ROOT, which the imports' test setup reads


@pytest.fixture(scope="module")
def server():
    s = ScriptedServer().start()
    yield s
    s.stop()


def level(server, model, **kw):
    base = dict(
        url=server.url,
        model=model,
        raw_model_name=True,
        concurrency=(2,),
        max_requests=2,
        warmup=0,
        timeout=20.0,
        scenario="D(10,4)",
    )
    base.update(kw)
    return run_benchmark_sync(BenchmarkConfig(**base)).levels[0]


def cli(server, model, *args):
    return main(
        [
            "run",
            "--url",
            server.url,
            "--model",
            model,
            "--raw-model-name",
            "--concurrency",
            "2",
            "--max-requests",
            "2",
            "--warmup",
            "0",
            "--scenario",
            "D(10,4)",
            "--quiet",
            *args,
        ]
    )


# max_tokens is 4 in every case, so 1000 completion tokens are impossible too.
@pytest.mark.parametrize(
    "usage, named",
    [
        ('{"prompt_tokens": 10, "completion_tokens": 1e18}', "completion_tokens=1e+18"),
        ('{"prompt_tokens": -3, "completion_tokens": 4}', "prompt_tokens=-3"),
        ('{"prompt_tokens": "abc", "completion_tokens": 4}', "prompt_tokens='abc'"),
        ('{"prompt_tokens": 10, "completion_tokens": true}', "completion_tokens=True"),
        ('{"prompt_tokens": 10, "completion_tokens": 2.5}', "completion_tokens=2.5"),
        ('{"prompt_tokens": 10, "completion_tokens": 1000}', "completion_tokens=1000"),
        ('{"prompt_tokens": 100000001, "completion_tokens": 4}', "prompt_tokens=100000001"),
        ('"abc"', "usage='abc'"),
    ],
)
def test_impossible_usage_is_a_request_error(server, usage, named):
    lv = level(server, "usage=" + usage)
    assert (lv.completed, lv.failed) == (0, 2)
    assert lv.output_throughput == 0 and lv.input_throughput == 0
    for r in lv.records:
        assert not r.ok and r.error.startswith("impossible usage from server: ") and named in r.error


def test_sane_usage_still_succeeds(server):
    lv = level(server, 'usage={"prompt_tokens": 12, "completion_tokens": 4}')
    assert lv.completed == 2 and all(r.input_tokens == 12 and r.output_tokens == 4 for r in lv.records)


def test_more_text_than_max_tokens_is_a_request_error(server):
    # 5000 text chunks and no usage for max_tokens 4: the chunk count would become the token count
    lv = level(server, "endless-tokens")
    assert (lv.completed, lv.failed) == (0, 2)
    assert all("more text chunks than max_tokens=4 allows" in r.error for r in lv.records)


def test_usage_abc_via_cli_writes_json(server, tmp_path):
    out = tmp_path / "r.json"
    code = cli(server, 'usage={"prompt_tokens": "abc", "completion_tokens": 4}', "--out", str(out))
    assert code == 1
    d = json.loads(out.read_text())
    assert d["levels"][0]["failed"] == 2 and "prompt_tokens='abc'" in d["levels"][0]["requests"][0]["error"]


def test_event_without_blank_line_is_bounded(server):
    # 64 KiB data: lines without a blank line: each line is short, the event is not
    lv = level(server, "endless-data", concurrency=(1,), max_requests=1)
    (r,) = lv.records
    assert not r.ok and "SSE event larger than 16777216 bytes" in r.error


def test_markup_in_server_text_prints_literally(server, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = cli(server, "http500-markup", "--out", str(out))
    assert code == 1
    shown = capsys.readouterr()
    assert "[/x] engine [bold]overloaded[/bold] [/]" in shown.out
    assert json.loads(out.read_text())["levels"][0]["errors"] == {
        "HTTP 500: [/x] engine [bold]overloaded[/bold] [/]": 2
    }


def test_markup_in_user_data_prints_literally(server, tmp_path, capsys):
    out = tmp_path / "r.json"
    cli(server, "[/x]", "--out", str(out))  # an unknown script: the stream ends without [DONE]
    assert "[/x]" in capsys.readouterr().out
    assert json.loads(out.read_text())["config"]["served_model"] == "[/x]"


def test_every_request_failing_exits_non_zero(server, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli(server, "http500", "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "error: every request failed (2 of 2): HTTP 500: boom: engine overloaded" in err
    assert json.loads(out.read_text())["levels"][0]["error_rate"] == 1.0


def test_out_directory_is_rejected_before_the_run(server, tmp_path, capsys):
    sent = len(server.bodies)
    assert cli(server, "fast", "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "is a directory" in err and "results.json" in err
    assert len(server.bodies) == sent  # nothing was sent


def test_out_in_missing_directory_is_rejected_before_the_run(server, tmp_path, capsys):
    sent = len(server.bodies)
    assert cli(server, "fast", "--out", str(tmp_path / "missing" / "r.json")) == 2
    assert "directory must exist" in capsys.readouterr().err
    assert len(server.bodies) == sent


def test_sigterm_writes_partial_json_like_sigint(server, tmp_path):
    # tests/loadgen/test_cli.py::test_ctrl_c_stops_cleanly_and_keeps_results is the SIGINT twin
    out = tmp_path / "r.json"
    code, stderr = signal_mid_run(server, out, signal.SIGTERM)
    assert code == 143, stderr  # 128 + SIGTERM, as SIGINT gives 130
    assert "Traceback" not in stderr
    d = json.loads(out.read_text())
    assert d["interrupted"] is True and len(d["levels"]) == 1
    assert d["levels"][0]["completed"] >= 2 and d["levels"][0]["cancelled"] == 2


@pytest.mark.parametrize("piece", ["D(1", "1)", "N(10,2)/(5", "2)/(3"])
def test_flow_split_scenario_says_quote_it(piece, capsys):
    # "[D(1,1), ...]" unquoted in YAML gives "D(1" and "1)"
    assert main(["run", "--url", "http://127.0.0.1:9", "--model", "m", "--concurrency", "1", "--scenario", piece]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--scenario {piece!r}" in err and 'quote the value, e.g. "D(1,1)"' in err


def test_ordinary_bad_scenario_keeps_the_syntax_help(capsys):
    assert main(["run", "--url", "http://127.0.0.1:9", "--model", "m", "--concurrency", "1", "--scenario", "D(1)"]) == 2
    assert "use D(in,out)" in capsys.readouterr().err
