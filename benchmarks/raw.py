"""Raw per-request records of one load-generator process, as JSON lines (``python -m benchmarks run
--raw FILE``; the in-cluster pods write them too, benchmarks/incluster.py).  Several processes' files are
merged exactly by ``python -m benchmarks.merge`` (benchmarks/merge.py): percentiles over every request of
every process, never an average of per-process percentiles.

One line each, in this order:

- ``{"type": "header", "format": FORMAT, "version": 1, "process": {...}, "config": {...}, "clock": {...}}``:
  who wrote it (host, pid, index of ``clients``), the run's config (secrets scrubbed) and the clocks at its
  start and end (benchmarks/clocks.py: wall vs monotonic samples, the offset from a reference if one was
  given);
- per level ``{"type": "level", "level": j, "mode", "value", "t0", "cpu_s", "engine_metrics"}``;
- per request ``{"type": "request", "level": j, ...}``: monotonic stamps (``scheduled``, ``start``, ``end``,
  ``perf_counter`` seconds of this process; every time to 0.1 µs), ``ttft``, ``itl`` (one gap per text chunk after the first, so
  the chunk arrival times are start + ttft + cumulative itl), ``tpot``, ``e2e``, token counts, status, error;
- ``{"type": "trailer", "requests": n, "levels": k}``: a file without it was cut short.

The file goes through the one writer (benchmarks/outputs.py): atomic, locked, and only over a file of
this kind.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import clocks, inputs
from .client import RequestRecord
from .outputs import Kind, Output
from .results import BenchmarkResult
from .secrets import scrub, scrub_data

FORMAT = "llm-serving raw request records"
VERSION = 1
MAX_RAW_MB = 1024.0  # a file read back whole: a million requests with 128 chunks each is about 1.5 GB


def _recognise(data: bytes) -> bool:
    first = data.split(b"\n", 1)[0]
    try:
        doc = json.loads(first)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("type") == "header" and doc.get("format") == FORMAT


RAW_FILE = Kind("raw request records file (JSON lines)", "raw.jsonl", _recognise)

# RequestRecord fields written as they are (the monotonic stamps are written as they are too).
FIELDS = (
    "index",
    "ok",
    "error",
    "cancelled",
    "status",
    "scheduled",
    "start",
    "end",
    "ttft",
    "itl",
    "tpot",
    "e2e",
    "input_tokens_requested",
    "output_tokens_requested",
    "input_tokens",
    "output_tokens",
    "usage_from_server",
    "chunks",
    "multi_token_chunks",
    "finish_reason",
    "turn",
    "shared_tokens",
    "rate_limited",
    "tenant",
    "limits",
)


DIGITS = 7  # seconds written to 0.1 µs: far below any clock's noise, and half the bytes of a full float


def _t(v: Any) -> Any:
    return round(v, DIGITS) if isinstance(v, float) else v


def request_line(level: int, r: RequestRecord) -> dict[str, Any]:
    line = {"type": "request", "level": level, **{name: getattr(r, name) for name in FIELDS}}
    for name in ("scheduled", "start", "end", "ttft", "tpot", "e2e"):
        line[name] = _t(line[name])
    line["itl"] = [round(x, DIGITS) for x in r.itl]
    if r.error:
        line["error"] = scrub(r.error)  # server text may quote a key
    return line


def record_of(d: dict[str, Any]) -> RequestRecord:
    """A RequestRecord back from its line (stamps still this process's monotonic seconds)."""
    r = RequestRecord(int(d["index"]), int(d["input_tokens_requested"]), int(d["output_tokens_requested"]))
    for name in FIELDS[3:]:
        if name in d and name not in ("input_tokens_requested", "output_tokens_requested"):
            setattr(r, name, d[name])
    r.ok, r.error = bool(d.get("ok")), d.get("error")
    r.itl = list(d.get("itl") or [])
    return r


@dataclass
class Recorder:
    """Clock samples around a run, then the file.  ``begin`` before the first request, ``finish`` after the
    last, ``lines(result)`` the file's lines."""

    reference: str | None = None  # a URL every process can reach (time endpoint or any server's Date)
    index: int = 0  # this process's index among ``clients``
    clients: int = 1
    reference_headers: dict[str, str] = field(default_factory=dict)
    clock: dict[str, Any] = field(default_factory=dict)

    async def begin(self) -> None:
        self.clock["start"] = clocks.sample().to_dict()
        await self._probe("reference_start")

    async def finish(self) -> None:
        await self._probe("reference_end")
        self.clock["end"] = clocks.sample().to_dict()

    async def _probe(self, key: str) -> None:
        if not self.reference:
            return
        offset, why = await clocks.probe(self.reference, headers=self.reference_headers)
        self.clock[key] = offset.to_dict() if offset else {"error": why}

    def lines(self, result: BenchmarkResult) -> Iterable[dict[str, Any]]:
        from .secrets import without_credentials

        yield {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "process": {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "index": self.index,
                "clients": self.clients,
                "started_at": result.started_at,
                "finished_at": result.finished_at,
            },
            "config": scrub_data(result.config),
            "clock": {**self.clock, "reference": without_credentials(self.reference) if self.reference else None},
            "interrupted": result.interrupted,
            "aborted": result.aborted,
        }
        n = 0
        for j, lv in enumerate(result.levels):
            yield {
                "type": "level",
                "level": j,
                "mode": lv.mode,
                "value": lv.value,
                "t0": lv.t0,
                "cpu_s": lv.client_cpu_s,
                "engine_metrics": lv.engine_metrics,
            }
            for r in lv.records:
                n += 1
                yield request_line(j, r)
        yield {"type": "trailer", "requests": n, "levels": len(result.levels)}

    def data(self, result: BenchmarkResult) -> bytes:
        return b"".join(json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in self.lines(result))

    def write(self, result: BenchmarkResult, out: Output) -> None:
        out.write(self.data(result))


class RawError(ValueError):
    """A raw records file that cannot be merged: one line naming it, what is wrong and the fix."""


@dataclass
class RawFile:
    source: str
    header: dict[str, Any]
    levels: list[dict[str, Any]]
    requests: list[dict[str, Any]]


def parse(data: bytes, source: str) -> RawFile:
    """The lines of one file, checked: a header first, a trailer last (else the file was cut short)."""
    fix = "pass the files `--raw` wrote, whole"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RawError(f"{source}: not UTF-8 text; Fix: {fix}") from None
    lines = [ln for ln in text.split("\n") if ln.strip()]
    docs = []
    for i, line in enumerate(lines, 1):
        try:
            doc = inputs.loads_json(line, f"{source} line {i}", fix)
        except inputs.InputError as exc:
            raise RawError(str(exc)) from None
        if not isinstance(doc, dict):
            raise RawError(f"{source} line {i}: not a JSON object; Fix: {fix}")
        docs.append(doc)
    if not docs or docs[0].get("type") != "header" or docs[0].get("format") != FORMAT:
        raise RawError(f"{source}: not a raw request records file (no header line); Fix: {fix}")
    if docs[0].get("version") != VERSION:
        raise RawError(
            f"{source}: raw records version {docs[0].get('version')!r}, this merge reads {VERSION}; Fix: merge with the load generator that wrote it"
        )
    if docs[-1].get("type") != "trailer":
        raise RawError(
            f"{source}: no trailer line, the file was cut short ({len(docs) - 1} lines after the header); Fix: rerun that process, or find its whole file"
        )
    levels = [d for d in docs if d.get("type") == "level"]
    requests = [d for d in docs if d.get("type") == "request"]
    if docs[-1].get("requests") != len(requests) or docs[-1].get("levels") != len(levels):
        raise RawError(
            f"{source}: the trailer counts {docs[-1].get('requests')} requests and {docs[-1].get('levels')} levels, the file holds "
            f"{len(requests)} and {len(levels)}; Fix: {fix}"
        )
    return RawFile(source, docs[0], levels, requests)


def read(path: str, max_mb: float = MAX_RAW_MB) -> RawFile:
    try:
        data = inputs.read_bytes(
            path, max_bytes=int(max_mb * 1024 * 1024), what="raw records file", fix="pass a file `--raw` wrote"
        )
    except inputs.InputError as exc:
        raise RawError(str(exc)) from None
    return parse(data, str(path))
