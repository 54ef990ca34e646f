"""The command line: one-line errors for bad input, JSON output, Ctrl-C keeps results."""

import json
import signal

import pytest

from benchmarks.cli import main
from tests.loadgen.scripted_server import signal_mid_run


@pytest.mark.parametrize(
    "args, option, fix",
    [
        (["--concurrency", "1,x"], "--concurrency", "comma-separated positive integers"),
        (["--concurrency", "0"], "--concurrency", "comma-separated positive integers"),
        (["--request-rate", "-2"], "--request-rate", "comma-separated positive numbers"),
        (["--concurrency", "1", "--request-rate", "2"], "--request-rate", "not allowed with"),
        (["--concurrency", "1", "--scenario", "D(1)"], "--scenario", "D(in,out)"),
        (["--concurrency", "1", "--slo", "ttfb=1"], "--slo", "keys ttft, tpot, e2e"),
        (["--concurrency", "1", "--max-seconds", "0"], "--max-seconds", "positive number"),
        (["--concurrency", "1", "--max-requests", "1.5"], "--max-requests", "positive integer"),
        (["--concurrency", "1", "--warmup", "-1"], "--warmup", "0 or a positive integer"),
        (["--concurrency", "1", "--warmup", "two"], "--warmup", "0 or a positive integer"),
        (["--concurrency", "1", "--endpoint", "embeddings"], "--endpoint", "choose from"),
        (["--concurrency", "1", "--out", "/no/such/dir/r.json"], "--out", "must exist"),
        ([], "--concurrency", "required"),
    ],
)
def test_bad_input_is_one_line(capsys, args, option, fix):
    with pytest.raises(SystemExit) as e:
        raise SystemExit(main(["run", "--url", "http://127.0.0.1:9", "--model", "m", *args]))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert option in err and fix in err


def test_bad_url(capsys):
    assert main(["run", "--url", "localhost:8000", "--model", "m", "--concurrency", "1"]) == 2
    err = capsys.readouterr().err
    assert "--url 'localhost:8000'" in err and "http://" in err


def test_run_writes_json_and_table(server, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(
        [
            "run",
            "--url",
            server.url,
            "--model",
            "org/fast",
            "--concurrency",
            "1,2",
            "--max-requests",
            "4",
            "--scenario",
            "D(20,5)",
            "--slo",
            "ttft=1,tpot=0.5",
            "--warmup",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    shown = capsys.readouterr().out
    assert "fast" in shown and "c2" in shown
    d = json.loads(out.read_text())
    assert [lv["value"] for lv in d["levels"]] == [1, 2]
    assert d["config"]["served_model"] == "fast" and d["config"]["api_key"] is None
    assert d["levels"][0]["goodput_fraction"] == 1.0
    assert len(d["levels"][0]["requests"]) == 4 and d["levels"][0]["requests"][0]["ok"]


def test_api_key_is_sent_but_never_written(server, tmp_path):
    out = tmp_path / "r.json"
    main(
        [
            "run",
            "--url",
            server.url,
            "--model",
            "fast",
            "--api-key",
            "sekrit",
            "--concurrency",
            "1",
            "--max-requests",
            "1",
            "--warmup",
            "0",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert "sekrit" not in out.read_text()


def test_ctrl_c_stops_cleanly_and_keeps_results(server, tmp_path):
    out = tmp_path / "r.json"
    code, stderr = signal_mid_run(server, out, signal.SIGINT)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    d = json.loads(out.read_text())
    assert d["interrupted"] and len(d["levels"]) == 1
    lv = d["levels"][0]
    assert lv["completed"] >= 2 and lv["cancelled"] == 2 and lv["failed"] == 0
