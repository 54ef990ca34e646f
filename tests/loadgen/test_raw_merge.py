"""Raw records and their exact merge: three load-generator processes against the loopback stream server at
a bounded rate; the merged percentiles are those of every request together, computed here on the
concatenated raw records with numpy, and the merged count is the sum of the processes' counts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

from benchmarks import clocks, merge, raw, stream_server
from benchmarks.outputs import OutputError, write_file
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
RATE = 15.0  # requests/s per process: bounded, well under what one core streams
REQUESTS = 24  # per process and level


class TimeServer(LoopbackServer):
    """A driver-provided time endpoint: `{"time": <unix seconds>}`, and a Date header like any server."""

    def __init__(self) -> None:
        self.released = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"time": time.time()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._serve(Handler)


@pytest.fixture(scope="module")
def merged_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("raw")
    proc, url = stream_server.start(0.005, 0.001, metrics="none")
    reference = TimeServer()
    try:
        runs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks",
                    "run",
                    "--url",
                    url,
                    "--model",
                    "org/bench",
                    "--request-rate",
                    f"{RATE},{RATE * 2}",
                    "--max-requests",
                    str(REQUESTS),
                    "--max-seconds",
                    "20",
                    "--scenario",
                    "D(20,12)",
                    "--warmup",
                    "0",
                    "--seed",
                    str(k),
                    "--no-engine-metrics",
                    "--quiet",
                    "--raw",
                    str(tmp / f"raw-{k}.jsonl"),
                    "--clock-reference",
                    reference.url,
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(PROCESSES)
        ]
        for r in runs:
            _, err = r.communicate(timeout=120)
            assert r.returncode == 0, err
    finally:
        reference.close()
        proc.kill()
        proc.wait()
    files = [raw.read(str(tmp / f"raw-{k}.jsonl")) for k in range(PROCESSES)]
    return files, merge.merge(files)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))  # numpy's default: linear


def test_merged_percentiles_are_those_of_all_records_together(merged_run):
    files, merged = merged_run
    for j, level in enumerate(merged.result.levels):
        lines = [line for f in files for line in f.requests if line["level"] == j]
        ok = [line for line in lines if line["ok"]]
        assert len(ok) == PROCESSES * REQUESTS  # nothing failed against the loopback server
        ttft = [line["ttft"] for line in ok]
        e2e = [line["e2e"] for line in ok]
        itl = [gap for line in ok for gap in line["itl"]]
        tpot = [line["tpot"] for line in ok if line["tpot"] is not None]
        for q, name in ((50, "p50"), (90, "p90"), (95, "p95"), (99, "p99")):
            assert getattr(level.ttft, name) == pytest.approx(_pct(ttft, q), rel=1e-12, abs=1e-15)
            assert getattr(level.e2e, name) == pytest.approx(_pct(e2e, q), rel=1e-12, abs=1e-15)
            assert getattr(level.itl, name) == pytest.approx(_pct(itl, q), rel=1e-12, abs=1e-15)
            assert getattr(level.tpot, name) == pytest.approx(_pct(tpot, q), rel=1e-12, abs=1e-15)
        assert level.ttft.count == len(ttft) and level.itl.count == len(itl) == len(ok) * 11  # 12 chunks: 11 gaps
        assert level.ttft.mean == pytest.approx(float(np.mean(ttft)), rel=1e-12)


def test_merged_count_is_the_sum_and_the_load_is_the_total(merged_run):
    files, merged = merged_run
    assert merged.merge["requests"] == sum(len(f.requests) for f in files) == PROCESSES * REQUESTS * 2
    first, second = merged.result.levels
    assert first.completed == second.completed == PROCESSES * REQUESTS
    assert (first.value, second.value) == (RATE * PROCESSES, RATE * 2 * PROCESSES)  # rates add up


def _file(
    name: str, ttfts: list[float], wall_minus_mono: float = 1000.0, date: tuple[float, float] | None = None
) -> raw.RawFile:
    """A raw file of one level whose requests have these TTFTs (e2e = TTFT + 0.1, one chunk); `date`: its
    wall clock's offset interval from a Date-header reference."""
    sample = {"wall": wall_minus_mono + 5.0, "mono": 5.0, "uncertainty": 1e-6}
    clock = {"start": sample, "end": sample}
    if date:
        clock["reference_start"] = {"lo": date[0], "hi": date[1], "kind": "date", "probes": 12}
    header = {
        "type": "header",
        "format": raw.FORMAT,
        "version": raw.VERSION,
        "process": {"index": 0, "host": name},
        "config": {"slo": {}},
        "clock": clock,
    }
    requests = [
        {
            "type": "request",
            "level": 0,
            "index": i,
            "ok": True,
            "input_tokens_requested": 10,
            "output_tokens_requested": 1,
            "scheduled": 10.0 + i,
            "start": 10.0 + i,
            "end": 10.1 + i + t,
            "ttft": t,
            "e2e": t + 0.1,
            "itl": [],
            "output_tokens": 1,
        }
        for i, t in enumerate(ttfts)
    ]
    level = {"type": "level", "level": 0, "mode": "request_rate", "value": 1.0, "t0": 10.0, "cpu_s": 0.5}
    return raw.RawFile(name, header, [level], requests)


def test_a_percentile_of_the_union_is_not_an_average_of_percentiles():
    """90 fast requests on one process and 10 slow ones on another: the union's median is the fast TTFT,
    where the mean of the two medians would say 0.55 s."""
    merged = merge.merge([_file("a", [0.1] * 90), _file("b", [1.0] * 10)])
    level = merged.result.levels[0]
    assert level.ttft.p50 == pytest.approx(0.1) and level.ttft.p90 == pytest.approx(0.19)  # rank 89.1: 0.1 + 0.1 x 0.9
    assert level.ttft.p99 == pytest.approx(1.0) and level.completed == 100 and level.value == 2.0
    assert level.client_cpu_s == pytest.approx(1.0)


def test_without_a_reference_the_merge_aligns_on_wall_clocks_and_says_so():
    """Process b's wall clock runs 2 s ahead of its monotonic clock compared with a's: its requests move 2 s later."""
    merged = merge.merge([_file("a", [0.1] * 3, 1000.0), _file("b", [0.1] * 3, 1002.0)])
    clock, note = merged.merge["clocks"], merged.merge["levels"][0]
    assert clock["alignment"] == "wall clocks" and "not measured" in clock["note"]
    assert note["start_spread_s"] == pytest.approx(2.0) and merged.result.levels[0].duration_s == pytest.approx(
        2.0 + 2.2
    )


def test_clocks_are_aligned_on_the_reference_and_their_offsets_stated(merged_run):
    _files, merged = merged_run
    clock = merged.merge["clocks"]
    assert clock["alignment"] == "reference"
    for p in clock["processes"]:
        ref = p["reference_offset_start"]
        assert ref["kind"] == "time" and ref["probes"] == clocks.PROBES
        # One machine, one clock: the measured offset holds 0, within a loopback round trip.
        assert ref["lo"] <= 0.0 <= ref["hi"] and ref["uncertainty"] < 0.05
        assert abs(p["wall_drift_s"]) < 0.05 and p["alignment_uncertainty_s"] < 0.1
    assert clock["wall_clock_spread_s"] < 0.05
    for note in merged.merge["levels"]:
        assert note["processes"] == PROCESSES and note["window_uncertainty_s"] < 0.2
        assert sum(p["requests"] for p in note["per_process"]) == PROCESSES * REQUESTS


def test_the_merged_window_runs_from_the_first_start_to_the_last_end(merged_run):
    _files, merged = merged_run
    note = merged.merge["levels"][0]
    level = merged.result.levels[0]
    starts = [p["start_s"] for p in note["per_process"]]
    ends = [p["end_s"] for p in note["per_process"]]
    assert level.duration_s == pytest.approx(max(ends) - min(starts))
    assert level.request_throughput == pytest.approx(level.completed / level.duration_s)


def test_a_file_cut_short_is_refused(merged_run, tmp_path):
    files, _ = merged_run
    data = Path(files[0].source).read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: data.rindex(b'{"type":"trailer"')])
    with pytest.raises(raw.RawError, match="no trailer line, the file was cut short"):
        raw.read(str(cut))


def test_the_raw_writer_refuses_a_file_it_did_not_write(tmp_path):
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text("config: {}\n")
    with pytest.raises(OutputError, match="nothing was changed"):
        write_file(stack, b"{}\n", raw.RAW_FILE)
    assert stack.read_text() == "config: {}\n"


def test_date_header_bounds_allow_a_stale_cached_date():
    """A Date line of whole seconds, possibly a second old: the interval is wide, and holds the truth."""
    lo, hi, kind = clocks.bounds(100.2, 100.3, "Thu, 01 Jan 1970 00:01:40 GMT", None)
    assert (
        kind == "date"
        and lo == pytest.approx(100 - 100.3)
        and hi == pytest.approx(100 + 1 + clocks.DATE_CACHE_S - 100.2)
    )
    offset, why = clocks.intersect([(-0.3, 1.8, "date"), (-0.1, 0.9, "date")])
    assert (offset.lo, offset.hi, why) == (-0.1, 0.9, None)
    none, why = clocks.intersect([(0.5, 0.6, "time"), (0.7, 0.8, "time")])
    assert none is None and "disagree by 0.100 s" in why


def test_date_references_that_one_offset_fits_keep_the_wall_clocks_and_bound_their_disagreement():
    """Both wall clocks fit one server time within the Date's blur: moving each by its own midpoint would add up
    to a second of error, so they stay, and the uncertainty is the reference's bound (1.5 s wide here)."""
    merged = merge.merge([_file("a", [0.1] * 3, 1000.0, (-0.5, 1.0)), _file("b", [0.1] * 3, 1000.0, (0.0, 1.0))])
    clock = merged.merge["clocks"]
    assert clock["alignment"] == "wall clocks, checked against the reference"
    assert clock["max_alignment_uncertainty_s"] == pytest.approx(0.75, abs=1e-5)
    assert merged.merge["levels"][0]["start_spread_s"] == pytest.approx(0.0)


def test_date_references_no_offset_fits_move_each_process_onto_the_reference():
    """b's wall clock reads 3 s behind a's, and the Dates show it (offsets -0.5..1.0 against 2.5..4.0): the merge
    moves b forward by 3 s and its requests line up with a's."""
    merged = merge.merge([_file("a", [0.1] * 3, 1000.0, (-0.5, 1.0)), _file("b", [0.1] * 3, 997.0, (2.5, 4.0))])
    clock = merged.merge["clocks"]
    assert clock["alignment"] == "reference" and clock["wall_clock_spread_s"] == pytest.approx(3.0)
    assert merged.merge["levels"][0]["start_spread_s"] == pytest.approx(0.0, abs=1e-9)


def test_the_merge_command_writes_its_result_with_the_clock_statement(merged_run, tmp_path, capsys):
    files, _ = merged_run
    out = tmp_path / "merged.json"
    assert merge.main([f.source for f in files] + ["--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["merge"]["requests"] == PROCESSES * REQUESTS * 2 and doc["config"]["clients"] == PROCESSES
    assert [lv["completed"] for lv in doc["levels"]] == [PROCESSES * REQUESTS] * 2
    assert "aligned on reference" in capsys.readouterr().out
    assert (
        merge.main([f.source for f in files] + ["--out", str(ROOT / "Pulumi.yaml")]) == 2
    )  # the one writer refuses it
