"""One pod of the in-cluster load Job (components/rules/load_job.py renders it; docs/tuning.md, "In-cluster load").

    python -m benchmarks.incluster --config /opt/loadgen/config.json --out /work/raw.jsonl

The config file (written by the tuning driver, stacks/tuning/incluster.py) holds the whole load as one
``BenchmarkConfig`` (its totals), the number of clients, a start time and a clock reference.  This pod:

1. takes its share (``share``): index k of n from ``JOB_COMPLETION_INDEX``; each concurrency level and each
   level's request count split as evenly as integers allow, each request rate divided by n (n independent
   Poisson streams at r/n are one Poisson stream at r), its own seed (seed + k), engine metrics scraped by
   pod 0 only, the API key from ``LOADGEN_API_KEY`` (a secretKeyRef);
2. warms up (its share of the warm-up requests, at least one when there is any), then waits for the start
   time (wall clock; the driver sets it after the pods' setup), so the pods' first levels start together;
3. runs, with clock samples and reference probes around the run (benchmarks/raw.py), writes its raw records
   through the one writer, then prints them to its log between two marker lines, gzip and base64 with their
   SHA-256, for the driver to read with the pod-log API (``extract``).

Exit 0 once the records are printed (failed requests are records too; the driver judges the merged level),
2 for an unusable config.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import gzip
import hashlib
import os
import sys
import time
from typing import Any

from . import eventloop, inputs
from .loadgen import BenchmarkConfig, ConfigError, run_benchmark
from .outputs import Output
from .raw import RAW_FILE, Recorder

BEGIN = "LLM-SERVING-RAW-RECORDS BEGIN"
END = "LLM-SERVING-RAW-RECORDS END"
LINE = 76  # base64 characters per log line
MAX_WAIT_S = 3600.0  # a start time further away than this is a driver bug: start now, and say so
MAX_CONFIG_BYTES = 1 << 20
MAX_RECORDS_BYTES = 1 << 30  # decompressed records of one pod
INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by the Job controller on every container of an Indexed Job
CLIENTS_ENV = "LOADGEN_CLIENTS"
API_KEY_ENV = "LOADGEN_API_KEY"

# BenchmarkConfig fields a job config may set (files on the driver's machine are not in the pod).
NOT_IN_POD = ("dataset", "trace", "api_keys")


def split(total: int, index: int, n: int) -> int:
    """Index k's share of ``total`` items over n: the first total % n shares get one more."""
    return total // n + (1 if index < total % n else 0)


def share(config: BenchmarkConfig, index: int, n: int) -> BenchmarkConfig:
    """Pod ``index`` of ``n``'s part of the load ``config`` describes in total."""
    if not 0 <= index < n:
        raise ConfigError("index", index, f"the completion index must be from 0 to {n - 1}")
    for level in config.concurrency:
        if level < n:
            raise ConfigError(
                "concurrency", level, f"each level must be at least the {n} clients, or some client would have no share"
            )
    if config.level_requests() < n:
        raise ConfigError("max_requests", config.level_requests(), f"must be at least the {n} clients")
    for name in NOT_IN_POD:
        if getattr(config, name):
            raise ConfigError(
                name, getattr(config, name), "a file on the driver's machine is not in the pod: use clients: 1 for it"
            )
    return dataclasses.replace(
        config,
        concurrency=tuple(split(c, index, n) for c in config.concurrency),
        request_rates=tuple(r / n for r in config.request_rates),
        max_requests=split(config.level_requests(), index, n),
        max_concurrency=None if config.max_concurrency is None else max(1, split(config.max_concurrency, index, n)),
        seed=None if config.seed is None else config.seed + index,
        engine_metrics=config.engine_metrics and index == 0,
        warmup=0,  # warmed up before the start time (``warm_up``)
    )


def config_from(doc: dict[str, Any], api_key: str | None) -> BenchmarkConfig:
    fields = {f.name for f in dataclasses.fields(BenchmarkConfig)}
    values = {k: v for k, v in (doc.get("config") or {}).items() if k in fields}
    for key in ("concurrency", "request_rates"):
        values[key] = tuple(values.get(key) or ())
    values["api_key"] = api_key or None
    return BenchmarkConfig(**values)


def frame(data: bytes, index: int) -> str:
    """The records as log lines: BEGIN (index, sha256 and size of the raw bytes), base64 of their gzip, END."""
    packed = base64.b64encode(gzip.compress(data, 6)).decode("ascii")
    body = "\n".join(packed[i : i + LINE] for i in range(0, len(packed), LINE))
    return f"{BEGIN} index={index} sha256={hashlib.sha256(data).hexdigest()} bytes={len(data)}\n{body}\n{END}\n"


class FrameError(ValueError):
    """A pod's log without whole records: one line saying what is missing."""


def extract(log: str, source: str) -> tuple[int, bytes]:
    """(index, raw records bytes) from a pod's log; FrameError if they are missing, cut or altered."""
    start = log.rfind(BEGIN)
    if start < 0:
        raise FrameError(f"{source}: no records in the log (no `{BEGIN}` line): the pod ended before printing them")
    head, _, rest = log[start:].partition("\n")
    fields = dict(part.split("=", 1) for part in head[len(BEGIN) :].split() if "=" in part)
    end = rest.find(END)
    if end < 0:
        raise FrameError(f"{source}: the records are cut short (no `{END}` line): the log was truncated or rotated")
    try:
        index, digest, size = int(fields["index"]), fields["sha256"], int(fields["bytes"])
        data = gzip.decompress(base64.b64decode("".join(rest[:end].split()), validate=True))
    except (KeyError, ValueError, OSError, EOFError) as exc:
        raise FrameError(f"{source}: the records do not decode ({type(exc).__name__})") from None
    if size > MAX_RECORDS_BYTES or len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise FrameError(
            f"{source}: the records' size or SHA-256 differ from what the pod printed: the log was altered"
        )
    return index, data


async def warm_up(config: BenchmarkConfig, warmup: int, n: int, index: int) -> None:
    mine = split(warmup, index, n) or (1 if warmup else 0)
    if not mine:
        return
    warm = dataclasses.replace(
        config,
        concurrency=(min(mine, 8),),
        request_rates=(),
        max_requests=mine,
        warmup=0,
        engine_metrics=False,
        max_concurrency=None,
    )
    await run_benchmark(warm)


async def _run(doc: dict[str, Any], config: BenchmarkConfig, index: int, n: int, out: Output) -> int:
    await warm_up(config, int((doc.get("config") or {}).get("warmup") or 0), n, index)
    start_at = doc.get("start_at")
    if isinstance(start_at, (int, float)):
        wait = float(start_at) - time.time()
        if 0 < wait <= MAX_WAIT_S:
            await asyncio.sleep(wait)
        elif wait > MAX_WAIT_S:
            sys.stderr.write(f"incluster: the start time is {wait:.0f} s away (over {MAX_WAIT_S:g}): starting now\n")
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    recorder = Recorder(doc.get("reference"), index, n, headers)
    await recorder.begin()
    result = await run_benchmark(config)
    await recorder.finish()
    data = recorder.data(result)
    out.write(data)
    sys.stdout.write(frame(data, index))
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.incluster")
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    try:
        text = inputs.read_text(
            a.config, max_bytes=MAX_CONFIG_BYTES, what="load job config", fix="the driver writes it"
        )
        doc = inputs.loads_json(text, a.config, "the driver writes it")
        index = int(os.environ.get(INDEX_ENV, "0"))
        n = int(doc.get("clients") or os.environ.get(CLIENTS_ENV) or 1)
        total = config_from(doc, os.environ.get(API_KEY_ENV))
        config = share(total, index, n)
        config.validate()
    except (ConfigError, inputs.InputError, ValueError, TypeError) as exc:
        sys.stderr.write(f"incluster: error: {exc}\n")
        return 2
    with Output(a.out, RAW_FILE, f"--out {a.out}") as out:
        return eventloop.run(_run(doc, config, index, n, out))


if __name__ == "__main__":
    raise SystemExit(main())
