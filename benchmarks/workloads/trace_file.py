"""A trace file read once, line by line, into columns (``TraceTable``): the native, Mooncake and Azure formats
(benchmarks/workloads/trace.py describes them), every malformed line one error naming file:line, the field and
the fix, and the file's bytes and lines bounded (benchmarks/limits.py)."""

from __future__ import annotations

import csv
import io
import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from math import ceil
from typing import Any, cast

from orjson import JSONDecodeError, loads

from .. import inputs
from ..limits import MAX_TRACE_REQUESTS, MIB
from ..scenario import MAX_TOKENS
from .base import WorkloadError

FORMATS = ("native", "mooncake", "azure")
# Tokens per hash id in the Mooncake trace: kvcache-ai/Mooncake@v0.3.12 FAST25-release/README.md
# ("The block size is 512 tokens"); AIPerf's default too (ai-dynamo/aiperf@v0.1.1 config_defaults.py).
MOONCAKE_BLOCK_TOKENS = 512
FIELD = "trace"


@dataclass(frozen=True)
class TraceEntry:
    at: float  # seconds from the first request
    input_tokens: int
    output_tokens: int
    prefix_group: str | None = None
    session_id: str | None = None
    hash_ids: tuple[int, ...] = ()


class TraceTable:
    """A trace's requests as columns: times, lengths, group and session (only if the trace has them) and
    the Mooncake hash ids, all lines' in one array.  ``table[i]`` is line i as a ``TraceEntry``."""

    def __init__(self) -> None:
        self.at = array("d")
        self.input_tokens = array("i")
        self.output_tokens = array("i")
        self.groups: array | None = None  # index into group_names, -1: none
        self.group_names: dict[str, int] = {}
        self.sessions: list[str | None] | None = None
        self.hash_start = array("q", [0])  # line i's ids are hash_ids[hash_start[i]:hash_start[i + 1]]
        self.hash_ids = array("i")

    @classmethod
    def of(cls, entries: Iterable[TraceEntry]) -> TraceTable:
        table = cls()
        for e in entries:
            table.add(e.at, e.input_tokens, e.output_tokens, e.prefix_group, e.session_id, e.hash_ids)
        return table

    def add(
        self,
        at: float,
        n_in: int,
        n_out: int,
        group: str | None = None,
        session: str | None = None,
        hash_ids: Sequence[int] = (),
    ) -> None:
        n = len(self.at)
        self.at.append(at)
        self.input_tokens.append(n_in)
        self.output_tokens.append(n_out)
        if group is not None or self.groups is not None:
            if self.groups is None:
                self.groups = array("i", [-1]) * n
            self.groups.append(-1 if group is None else self.group_names.setdefault(group, len(self.group_names)))
        if session is not None or self.sessions is not None:
            if self.sessions is None:
                self.sessions = [None] * n
            self.sessions.append(session)
        if hash_ids:
            self.add_hashes(hash_ids)
        self.hash_start.append(len(self.hash_ids))

    def add_hashes(self, ids: Sequence[int]) -> None:
        try:
            self.hash_ids.extend(ids)
        except OverflowError:  # ids past 32 bits: the column widens once
            if self.hash_ids.typecode == "q":
                raise
            self.hash_ids = array("q", self.hash_ids)
            self.hash_ids.extend(ids)

    def hashes(self, i: int) -> array:
        return self.hash_ids[self.hash_start[i] : self.hash_start[i + 1]]

    def group(self, i: int) -> int | None:
        g = self.groups[i] if self.groups is not None else -1
        return None if g < 0 else g

    def __len__(self) -> int:
        return len(self.at)

    def __getitem__(self, i: int) -> TraceEntry:
        g = self.group(i)
        names = list(self.group_names) if g is not None else ()
        return TraceEntry(
            self.at[i],
            self.input_tokens[i],
            self.output_tokens[i],
            None if g is None else names[g],
            None if self.sessions is None else self.sessions[i],
            tuple(self.hashes(i)),
        )

    def __iter__(self) -> Iterator[TraceEntry]:
        return (self[i] for i in range(len(self)))


def _fail(path: str, n: int, message: str) -> WorkloadError:
    return WorkloadError(FIELD, path, f"{path}:{n}: {message}")


def _count(path: str, n: int, row: dict, key: str) -> int:
    """The slow path of a token count: a digit string is taken, anything else is the line's error."""
    v = row.get(key)
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v)
    if type(v) is not int or not 1 <= v <= MAX_TOKENS:
        raise _fail(path, n, f"{key}={v!r} must be an integer from 1 to {MAX_TOKENS}; fix or drop the line")
    return v


def _bad_time(path: str, n: int, value: object, key: str, ms: bool) -> WorkloadError:
    return _fail(path, n, f"{key}={value!r} must be a number >= 0 ({'ms' if ms else 's'} from the first request)")


def _too_many(path: str, n: int) -> WorkloadError:
    return WorkloadError(
        FIELD,
        path,
        f"{path}: at least {n:,} lines, over the limit of {MAX_TRACE_REQUESTS:,} requests a replay holds; "
        f"cut the file, e.g. head -n {MAX_TRACE_REQUESTS}",
    )


def _earlier(path: str, i: int, at: float, prev: float) -> WorkloadError:
    return WorkloadError(
        FIELD,
        path,
        f"{path}: request {i} is earlier than request {i - 1} ({at:g} s < {prev:g} s); sort the file by timestamp",
    )


INF = float("inf")
BOM = b"\xef\xbb\xbf"


def _too_big(path: str, max_bytes: int) -> WorkloadError:
    return WorkloadError(
        FIELD,
        path,
        f"{path}: more than the {max_bytes}-byte limit for a {FIELD} file; Fix: cut the file or raise --max-file-mb",
    )


def _line_error(path: str, n: int, line: bytes, offset: int, error: Exception) -> WorkloadError:
    """Why ``line`` is not a JSON object, in the reader's words: nested too deep, binary, not UTF-8, not JSON."""
    if line.count(b"[") + line.count(b"{") > inputs.MAX_DEPTH:
        try:
            inputs.check_depth(line.decode("utf-8", "replace"), "json", f"{path}:{n}")
        except inputs.InputError as e:
            return WorkloadError(FIELD, path, str(e))
    nul = line.find(b"\0")
    if nul >= 0:
        return _fail(
            path, n, f"binary data (a NUL byte at offset {offset + nul}), not text; give the trace file itself"
        )
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return _fail(
            path,
            n,
            f"not UTF-8 text (byte 0x{line[u.start]:02x} at offset {offset + u.start}); give the trace file itself",
        )
    if isinstance(error, JSONDecodeError):
        return _fail(path, n, f"not valid JSON ({error}); give one JSON object per line")
    return _fail(path, n, f"expected a JSON object, got {error}")


# Lines are read 64 KB at a time: parsing a 4 MB batch as one JSON array was 2.3x slower than line by
# line (its objects no longer fit the CPU's caches), and so was nothing faster at 64 KB.
CHUNK_BYTES = 1 << 16


@dataclass
class _Clock:
    """Timestamps seen so far: the first (the replay's zero) and the latest (they must not decrease)."""

    first: float | None = None
    prev: float | None = None


def _chunks(path: str, handle, max_bytes: int) -> Iterator[tuple[int, int, list[bytes]]]:
    """(number of the first line, byte offset, lines) about ``CHUNK_BYTES`` at a time; refuses a file past
    ``max_bytes`` (it may grow after the size check) and more lines than a replay holds, as it reads."""
    first, size = 1, 0
    while True:
        lines = handle.readlines(CHUNK_BYTES)
        if not lines:
            return
        offset, size = size, size + sum(map(len, lines))
        if size > max_bytes:
            raise _too_big(path, max_bytes)
        if first + len(lines) - 1 > MAX_TRACE_REQUESTS:
            raise _too_many(path, MAX_TRACE_REQUESTS + 1)
        if first == 1 and lines[0].startswith(BOM):
            lines[0] = lines[0][3:]
        yield first, offset, lines
        first += len(lines)


def _rows(
    path: str, first: int, offset: int, lines: list[bytes]
) -> Iterator[tuple[int, Any]]:  # a JSON object; each value checked where read
    """(line number, object) of every non-blank line of a chunk, each its own one-line error."""
    for n, line in enumerate(lines, first):
        if len(line) > 2 or line.strip():
            try:
                row = loads(line)
            except JSONDecodeError as e:
                if line.strip():
                    raise _line_error(path, n, line, offset, e) from None
                row = None
            if row is not None:
                if type(row) is not dict:
                    raise _line_error(path, n, line, offset, TypeError(type(row).__name__)) from None
                yield n, row
        offset += len(line)


def _parse_native(path: str, chunks: Iterable[tuple[int, int, list[bytes]]], table: TraceTable) -> None:
    clock = _Clock()
    for chunk in chunks:
        for n, row in _rows(path, *chunk):
            t, n_in, n_out = row.get("timestamp"), row.get("input_tokens"), row.get("output_tokens")
            if type(t) not in (int, float) or not 0 <= t < INF:
                raise _bad_time(path, n, t, "timestamp", False)
            if type(n_in) is not int or not 0 < n_in <= MAX_TOKENS:
                n_in = _count(path, n, row, "input_tokens")
            if type(n_out) is not int or not 0 < n_out <= MAX_TOKENS:
                n_out = _count(path, n, row, "output_tokens")
            group, session = row.get("prefix_group"), row.get("session_id")
            for key, v in (("prefix_group", group), ("session_id", session)):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int))):
                    raise _fail(path, n, f"{key}={v!r} must be a string or an integer")
            if clock.first is None:
                clock.first = clock.prev = t
            elif t < clock.prev:
                raise _earlier(path, len(table) + 1, t - clock.first, cast(float, clock.prev) - clock.first)
            clock.prev = t
            table.add(
                t - clock.first,
                n_in,
                n_out,
                None if group is None else str(group),
                None if session is None else str(session),
            )


def _parse_mooncake(path: str, chunks: Iterable[tuple[int, int, list[bytes]]], table: TraceTable) -> None:
    clock = _Clock()
    for chunk in chunks:
        _mooncake_rows(path, _rows(path, *chunk), table, clock)


def _mooncake_rows(path: str, rows: Iterator[tuple[int, Any]], table: TraceTable, clock: _Clock) -> None:
    at, ins, outs, starts = table.at, table.input_tokens, table.output_tokens, table.hash_start
    block = MOONCAKE_BLOCK_TOKENS
    for n, row in rows:
        t, n_in, n_out, ids = (
            row.get("timestamp"),
            row.get("input_length"),
            row.get("output_length"),
            row.get("hash_ids", ()),
        )
        if type(t) not in (int, float) or not 0 <= t < INF:
            raise _bad_time(path, n, t, "timestamp", True)
        if type(n_in) is not int or not 0 < n_in <= MAX_TOKENS:
            n_in = _count(path, n, row, "input_length")
        if type(n_out) is not int or not 0 < n_out <= MAX_TOKENS:
            n_out = _count(path, n, row, "output_length")
        if ids:
            if type(ids) is not list:
                raise _fail(path, n, f"hash_ids={ids!r:.80} must be a list of integers")
            # One id per block of the input (the trace's lines: 6755 tokens, 14 ids): more ids than blocks
            # would each expand to a block of text that no request sends.
            if len(ids) > (n_in + block - 1) // block:
                raise _fail(
                    path,
                    n,
                    f"{len(ids)} hash_ids for input_length={n_in}, which has {ceil(n_in / block)} blocks of "
                    f"{block} tokens; give one id per block (fix or drop the line)",
                )
            if True in ids and any(i is True or i is False for i in ids):
                raise _fail(path, n, f"hash_ids={ids!r:.80} must be a list of integers")
            try:
                table.add_hashes(ids)
            except (TypeError, OverflowError):
                raise _fail(path, n, f"hash_ids={ids!r:.80} must be a list of integers") from None
        elif ids != () and ids != []:
            raise _fail(path, n, f"hash_ids={ids!r:.80} must be a list of integers")
        if clock.first is None:
            clock.first = clock.prev = t
        elif t < clock.prev:
            raise _earlier(path, len(at) + 1, (t - clock.first) / 1000, (cast(float, clock.prev) - clock.first) / 1000)
        clock.prev = t
        at.append((t - clock.first) / 1000)
        ins.append(n_in)
        outs.append(n_out)
        starts.append(len(table.hash_ids))


_EPOCH = datetime(1970, 1, 1)


def _azure_time(path: str, n: int, text: str) -> float:
    """Seconds of a naive date-time, no time zone applied (a DST change inside the trace cannot shift it)."""
    s = (text or "").strip()
    head, dot, frac = s.partition(".")
    try:  # the trace writes 7 fractional digits; datetime takes at most 6
        return (datetime.fromisoformat(head + (dot + frac[:6] if dot else "")) - _EPOCH).total_seconds()
    except ValueError:
        raise _fail(path, n, f"TIMESTAMP={s!r:.60} is not a date-time like 2023-11-16 18:15:46.6805900") from None


def _parse_azure(path: str, handle, max_bytes: int, table: TraceTable) -> None:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None) or []
        missing = [k for k in ("TIMESTAMP", "ContextTokens", "GeneratedTokens") if k not in header]
        if missing:
            raise WorkloadError(
                FIELD,
                path,
                f"{path}:1: header lacks {', '.join(missing)}; the Azure trace's header is TIMESTAMP,ContextTokens,GeneratedTokens",
            )
        ti, ci, gi = header.index("TIMESTAMP"), header.index("ContextTokens"), header.index("GeneratedTokens")
        width = max(ti, ci, gi)
        first = prev = None
        at, ins, outs, starts = table.at, table.input_tokens, table.output_tokens, table.hash_start
        for row in reader:
            n = reader.line_num
            if n > MAX_TRACE_REQUESTS + 1:
                raise _too_many(path, n)
            if handle.tell() > max_bytes:
                raise WorkloadError(
                    FIELD,
                    path,
                    f"{path}: more than the {max_bytes}-byte limit for a trace file; Fix: cut the file or raise --max-file-mb",
                )
            if not row:
                continue
            if len(row) <= width:
                raise _fail(path, n, f"{len(row)} fields, the header has {len(header)}; fix or drop the line")
            t = _azure_time(path, n, row[ti])
            c, g = row[ci], row[gi]
            n_in = (
                int(c)
                if c.isdigit() and 0 < int(c) <= MAX_TOKENS
                else _count(path, n, {"ContextTokens": c}, "ContextTokens")
            )
            n_out = (
                int(g)
                if g.isdigit() and 0 < int(g) <= MAX_TOKENS
                else _count(path, n, {"GeneratedTokens": g}, "GeneratedTokens")
            )
            first = t if first is None else first
            if prev is not None and t < prev:
                raise _earlier(path, len(at) + 1, t - first, prev - first)
            prev = t
            at.append(t - first)
            ins.append(n_in)
            outs.append(n_out)
            starts.append(0)
    except csv.Error as e:  # a field over csv.field_size_limit (128 KiB), a NUL, a stray quote
        raise WorkloadError(
            FIELD,
            path,
            f"{path}:{max(1, reader.line_num)}: not a CSV row of the Azure trace ({e}); fix or drop the line",
        ) from None
    except UnicodeDecodeError as e:  # decoded a block at a time: the line is where reading had got to
        raise WorkloadError(
            FIELD,
            path,
            f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} after line {reader.line_num}); "
            "give the trace file itself",
        ) from None


def load_trace(path: str, fmt: str, max_mb: float) -> TraceTable:
    """The trace, parsed once as it is read; every problem one WorkloadError line naming file:line."""
    if fmt not in FORMATS:
        raise WorkloadError("trace_format", fmt, f"use one of {', '.join(FORMATS)}")
    max_bytes = int(max_mb * MIB)
    fix = f"give the {FIELD} file itself, under --max-file-mb {max_mb:g} (cut a larger one, e.g. head -n 10000, or raise --max-file-mb)"
    table = TraceTable()
    try:
        with inputs.open_regular(path, fix) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise WorkloadError(
                    FIELD,
                    path,
                    f"{path}: {size} bytes is over the {max_bytes}-byte limit for a {FIELD} file; Fix: {fix}",
                )
            if fmt == "azure":
                _parse_azure(path, handle, max_bytes, table)
            else:
                (_parse_native if fmt == "native" else _parse_mooncake)(path, _chunks(path, handle, max_bytes), table)
    except inputs.InputError as e:
        raise WorkloadError(FIELD, path, str(e)) from None
    except OSError as e:
        raise WorkloadError(FIELD, path, f"{path}: cannot read ({e.strerror or e}); Fix: {fix}") from None
    if not len(table):
        raise WorkloadError(FIELD, path, f"{path}: no requests; give at least one line")
    return table
