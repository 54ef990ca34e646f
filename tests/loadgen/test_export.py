"""Interop: genai-bench and inference-perf summary files from a tiny fixed result, every value
computed by hand; the field mapping documented in docs/load-generator.md matches the files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.client import RequestRecord
from benchmarks.export import export, genai_bench, inference_perf, parse_spec
from benchmarks.results import BenchmarkResult, LevelResult

DOC = Path(__file__).resolve().parents[2] / "docs" / "load-generator.md"


def _ok(index, start, ttft, e2e, n_in, n_out, itl):
    r = RequestRecord(
        index,
        n_in,
        n_out,
        scheduled=start,
        start=start,
        end=start + e2e,
        ok=True,
        status=200,
        ttft=ttft,
        e2e=e2e,
        itl=itl,
        tpot=(e2e - ttft) / (n_out - 1),
        input_tokens=n_in,
        output_tokens=n_out,
        usage_from_server=True,
        chunks=n_out,
    )
    return r


def tiny_result(mode="concurrency", value=2) -> BenchmarkResult:
    records = [
        _ok(0, 10.0, 0.5, 2.5, 100, 5, [0.5, 0.5, 0.5, 0.5]),  # tpot 0.5
        _ok(1, 11.0, 1.0, 3.0, 200, 3, [1.0, 1.0]),  # tpot 1.0, ends at 14.0
        RequestRecord(2, 50, 5, scheduled=12.0, start=12.0, end=12.25, status=500, error="HTTP 500: boom"),
    ]
    lv = LevelResult.from_records(mode, value, records, 10.0, {}, 0.0)  # duration 14.0 - 10.0 = 4 s
    return BenchmarkResult(config={"scenario": "D(100,5)"}, levels=[lv], started_at="", finished_at="")


def test_export_genai_bench_fields_and_units():
    doc = genai_bench(tiny_result(), tiny_result().levels[0])
    agg = doc["aggregated_metrics"]
    assert doc["_time_unit"] == "s"
    assert (agg["scenario"], agg["num_concurrency"], agg["iteration_type"], agg["run_duration"]) == (
        "D(100,5)",
        2,
        "num_concurrency",
        4.0,
    )
    assert agg["mean_output_throughput_tokens_per_s"] == 2.0  # 8 tokens / 4 s
    assert agg["mean_input_throughput_tokens_per_s"] == 75.0  # 300 / 4
    assert agg["mean_total_tokens_throughput_tokens_per_s"] == 77.0
    assert agg["requests_per_second"] == 0.5
    assert agg["error_codes_frequency"] == {500: 1}
    assert (agg["num_error_requests"], agg["num_completed_requests"], agg["num_requests"]) == (1, 2, 3)
    assert agg["error_rate"] == pytest.approx(1 / 3)
    s = agg["stats"]
    assert s["ttft"] == pytest.approx(
        {
            "min": 0.5,
            "max": 1.0,
            "mean": 0.75,
            "stddev": 0.25,
            "sum": 1.5,
            "p25": 0.625,
            "p50": 0.75,
            "p75": 0.875,
            "p90": 0.95,
            "p95": 0.975,
            "p99": 0.995,
        }
    )
    assert s["tpot"]["mean"] == 0.75 and s["e2e_latency"]["mean"] == 2.75
    assert s["output_latency"]["mean"] == 2.0  # e2e - ttft: 2.0 and 2.0
    assert s["output_inference_speed"]["mean"] == 1.5  # 1/tpot: 2.0 and 1.0 tokens/s
    assert s["input_throughput"]["mean"] == 200.0  # input tokens / ttft: 100/0.5, 200/1.0
    assert s["output_throughput"]["mean"] == 1.5  # (out - 1) / output_latency: 4/2, 2/2
    assert s["total_tokens"]["sum"] == 308.0 and s["num_output_tokens"]["sum"] == 8.0
    assert doc["individual_request_metrics"][2] == {"error_code": 500, "error_message": "HTTP 500: boom"}
    assert doc["individual_request_metrics"][0]["num_input_tokens"] == 100


def test_export_genai_bench_open_loop_level_is_qps():
    result = tiny_result("request_rate", 4.0)
    agg = genai_bench(result, result.levels[0])["aggregated_metrics"]
    assert (agg["num_concurrency"], agg["arrival_requests_per_second"], agg["total_arrivals"]) == (4.0, 4.0, 3)


def test_export_inference_perf_fields_and_units():
    doc = inference_perf(tiny_result(), tiny_result().levels[0])
    assert doc["benchmark_time_seconds"] == 4.0
    assert doc["load_summary"] == {
        "count": 3,
        "schedule_delay": {"mean": 0.0, "min": 0.0, "max": 0.0, "median": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0},
    }
    ok = doc["successes"]
    assert ok["count"] == 2
    lat = ok["latency"]
    assert lat["request_latency"] == pytest.approx(
        {"mean": 2.75, "min": 2.5, "max": 3.0, "median": 2.75, "p90": 2.95, "p95": 2.975, "p99": 2.995}
    )
    assert lat["time_to_first_token"]["mean"] == 0.75
    assert lat["time_per_output_token"]["mean"] == 0.75
    assert lat["normalized_time_per_output_token"]["mean"] == 0.75  # e2e / output tokens: 2.5/5, 3.0/3
    assert lat["inter_token_latency"]["mean"] == pytest.approx(4 / 6) and lat["inter_token_latency"]["median"] == 0.5
    assert ok["throughput"] == {
        "input_tokens_per_sec": 75.0,
        "output_tokens_per_sec": 2.0,
        "total_tokens_per_sec": 77.0,
        "requests_per_sec": 0.5,
    }
    assert ok["prompt_len"]["mean"] == 150.0 and ok["output_len"]["mean"] == 4.0
    assert doc["failures"]["count"] == 1 and doc["failures"]["request_latency"]["mean"] == 0.25


def test_export_inference_perf_open_loop_load_summary():
    result = tiny_result("request_rate", 4.0)
    load = inference_perf(result, result.levels[0])["load_summary"]
    assert (load["requested_rate"], load["send_duration"], load["achieved_rate"]) == (4.0, 2.0, 1.5)  # starts 10..12


def _documented(fmt: str) -> list[tuple[str, str]]:
    """(our field, their field path) rows of the documented mapping for ``fmt``."""
    text = DOC.read_text()
    section = text.split(f"#### {fmt} mapping", 1)[1].split("####", 1)[0]
    return re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section, re.M)


@pytest.mark.parametrize("fmt, writer", [("genai-bench", genai_bench), ("inference-perf", inference_perf)])
def test_export_documented_mapping_names_real_fields(fmt, writer):
    result = tiny_result()
    doc = writer(result, result.levels[0])
    rows = _documented(fmt)
    assert len(rows) >= 8
    lv = result.levels[0].to_dict(with_records=False)
    for ours, theirs in rows:
        node = doc
        for part in theirs.split("."):
            node = node[part]  # KeyError: the docs name a field the file does not have
        head = ours.split(".")[0]
        assert head in lv or head == "requests", ours


def test_export_cli_writes_one_file_per_level_and_refuses_bad_specs(tmp_path, server, capsys):
    assert main(["run", "--url", server.url, "--model", "ok", "--concurrency", "1", "--export", "nope:x.json"]) == 2
    assert "--export 'nope:x.json': use FORMAT:FILE" in capsys.readouterr().err
    out = tmp_path / "gb.json"
    assert (
        main(
            [
                "run",
                "--url",
                server.url,
                "--model",
                "fast",
                "--scenario",
                "D(8,3)",
                "--concurrency",
                "1,2",
                "--max-requests",
                "2",
                "--warmup",
                "0",
                "--quiet",
                "--export",
                f"genai-bench:{out}",
                "--export",
                f"inference-perf:{tmp_path / 'ip.json'}",
            ]
        )
        == 0
    )
    for name in ("gb_concurrency_1.json", "gb_concurrency_2.json", "ip_concurrency_1.json", "ip_concurrency_2.json"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "gb_concurrency_2.json").read_text())["aggregated_metrics"]["num_concurrency"] == 2


def test_export_single_level_goes_to_the_given_file(tmp_path):
    assert export(tiny_result(), "inference-perf", str(tmp_path / "s.json")) == [str(tmp_path / "s.json")]
    assert parse_spec("genai-bench:a:b.json") == ("genai-bench", "a:b.json")
