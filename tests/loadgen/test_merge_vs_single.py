"""The merge-vs-single benchmark (benchmarks/experiments/merge_vs_single.py) at a tiny size: one client at 20 requests/s
against two at 10 each, merged, twice, against the loopback stream server. Its structure is checked, never its
timing (the machine is shared): both sides ran every request, each row compares the same percentile, and the
verdicts follow from the printed figures."""

from __future__ import annotations

import pytest

from benchmarks.experiments import merge_vs_single


@pytest.fixture(scope="module")
def tiny():
    return merge_vs_single.run(rate=20.0, clients=2, requests=6, repeats=2, ttft=0.005, itl=0.002)


def test_both_sides_ran_every_request_of_every_repeat(tiny):
    assert [len(tiny["runs"]["single"]), len(tiny["runs"]["merged"])] == [2, 2]
    for run in tiny["runs"]["single"] + tiny["runs"]["merged"]:
        assert (run["completed"], run["failed"]) == (6, 0)


def test_one_row_per_metric_and_percentile_with_its_verdicts(tiny):
    assert [row["metric"] for row in tiny["rows"]] == [
        "ttft_p50", "ttft_p90", "ttft_p99", "itl_p50", "itl_p90", "itl_p99", "e2e_p50", "e2e_p90", "e2e_p99",
    ]  # fmt: skip
    for row in tiny["rows"]:
        one, many = row["single"], row["merged"]
        assert one["min"] <= one["median"] <= one["max"] and many["min"] <= many["median"] <= many["max"]
        assert row["ratio"] == pytest.approx(many["median"] / one["median"])
        assert row["within_single_spread"] == (one["min"] <= many["median"] <= one["max"])
        assert row["spreads_overlap"] == (many["min"] <= one["max"] and one["min"] <= many["max"])
    # A request of D(32,16) streams 16 tokens: 15 gaps of at least the server's 2 ms, after its 5 ms TTFT.
    first = tiny["rows"][0]
    assert first["single"]["min"] >= 0.005 and tiny["rows"][6]["single"]["min"] >= 0.005 + 15 * 0.002


def test_the_printout_names_the_load_and_every_row(tiny):
    text = merge_vs_single.render(tiny)
    assert "one client at 20 req/s vs 2 clients at 10 req/s each, merged" in text
    assert "load average before" in text and "after" in text
    for row in tiny["rows"]:
        assert any(line.startswith(row["metric"]) for line in text.splitlines())
    inside = sum(row["within_single_spread"] for row in tiny["rows"])
    assert f"{inside} of 9 merged medians lie within the single client's spread over 2 repeats" in text


@pytest.mark.parametrize("args", [["--clients", "1"], ["--rate", "0"], ["--requests", "1"], ["--repeats", "11"]])
def test_sizes_out_of_bounds_are_refused_before_anything_runs(args, capsys):
    with pytest.raises(SystemExit) as exc:
        merge_vs_single.main(args)
    assert exc.value.code == 2 and "bounded:" in capsys.readouterr().err
