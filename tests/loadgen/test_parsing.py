"""Scenario syntax, prompt construction, SSE framing, URLs and the served model name."""

import random

import pytest

from benchmarks.payload import endpoint_url, served_model_name
from benchmarks.prompts import NONCE_WORDS, WORDS, PromptBuilder
from benchmarks.scenario import ScenarioError, parse_scenario
from benchmarks.sse import SSEParser


def test_deterministic():
    s = parse_scenario("D(100,200)")
    assert s.sample(random.Random(0)) == (100, 200) and s.text == "D(100,200)"


def test_normal_is_seeded_and_clipped():
    s = parse_scenario("N(100,50)/(20,30)")
    a = [s.sample(random.Random(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    samples = [s.sample(rng) for rng in [random.Random(1)] for _ in range(2000)]
    assert min(i for i, _ in samples) >= 1 and min(o for _, o in samples) >= 1
    mean_in = sum(i for i, _ in samples) / len(samples)
    assert 95 < mean_in < 105


def test_uniform_bounds_and_shorthand():
    s = parse_scenario("U(10,20)/(5,6)")
    rng = random.Random(2)
    vals = [s.sample(rng) for _ in range(500)]
    assert {i for i, _ in vals} == set(range(10, 21)) and {o for _, o in vals} == {5, 6}
    assert parse_scenario("U(30,40)").params == (1, 30, 1, 40)
    assert parse_scenario(" d( 5 , 6 ) ").text == "D(5,6)"


@pytest.mark.parametrize(
    "bad", ["", "D(1)", "D(0,5)", "X(1,2)", "N(1,2)", "U(20,10)/(1,2)", "D(1,2)/(3,4)", "D(2000000,1)"]
)
def test_bad_scenarios(bad):
    with pytest.raises(ScenarioError):
        parse_scenario(bad)


def test_prompt_lengths_and_nonce():
    b = PromptBuilder(seed=1)
    rng = random.Random(3)
    for n in (1, 3, NONCE_WORDS, NONCE_WORDS + 1, 100, 5000):
        p = b.build(n, rng)
        assert len(p.split()) == n and set(p.split()) <= set(WORDS)
    p1, p2 = b.build(50, rng), b.build(50, rng)
    assert p1.split()[:NONCE_WORDS] != p2.split()[:NONCE_WORDS]
    assert p1.split()[NONCE_WORDS:] == p2.split()[NONCE_WORDS:]  # shared filler: cheap to build


def test_sse_split_reads_crlf_comments_and_multiline():
    p = SSEParser()
    assert p.feed(b'data: {"a"') == []
    assert p.feed(b":1}\n\n: keep-alive\n\nevent: x\r\ndata:{}\r\n\r\ndata: [DONE]") == [b'{"a":1}', b"{}"]
    assert p.feed(b"\n\ndata: line1\ndata: line2\n\n") == [b"[DONE]", b"line1\nline2"]
    assert p.feed(b"data: tail") == [] and p.close() == [b"tail"]


def test_served_name_and_urls():
    assert served_model_name("Qwen/Qwen3-4B-Instruct-2507") == "Qwen3-4B-Instruct-2507"
    assert served_model_name("tiny") == "tiny"
    assert endpoint_url("http://h:8000", "chat") == "http://h:8000/v1/chat/completions"
    assert endpoint_url("http://h:8000/v1/", "completions") == "http://h:8000/v1/completions"
    assert endpoint_url("http://h/v1/chat/completions", "chat") == "http://h/v1/chat/completions"
