"""The one reader for every file and HTTP body the project takes from a user or the outside world:
stack files, grids, manifests, policy configs, traces, datasets, keys files, outputs, price snapshots,
Kubernetes API answers, metrics pages, pinned downloads.

Every file read here
- is refused before it is opened unless it is a regular file: a FIFO waits for a writer forever,
  /dev/zero never ends (its size reads as 0), a socket cannot be read, a directory is not a file;
- is opened with O_NONBLOCK and its descriptor checked again, so a file swapped for a FIFO between
  the check and the open is refused too, without blocking;
- is read counting bytes, stopped one byte past its kind's limit (callers pass it; docs/reliability.md
  lists them), so a device that got through anyway cannot grow memory without end;
- is decoded strictly (a NUL byte or invalid UTF-8 is named with its offset);
- has the nesting depth of its YAML or JSON checked (`MAX_DEPTH`) before a parser builds anything.

Every failure is an `InputError`: one line, `<source>: <what is wrong>; Fix: <what to do>`.
It lives in `benchmarks` because `benchmarks` imports nothing of the project and everything else
may import it (tests/stack/test_dependency_direction.py).
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")

# Nesting levels of YAML or JSON: the deepest upstream CRD nests 35 (KServe, Envoy Gateway); PyYAML's C
# composer recurses once per level with no guard and crashed (SIGSEGV) on 30,000 nested `[`.
MAX_DEPTH = 128
CHUNK = 1 << 16  # bytes per read of an HTTP body

_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


class InputError(ValueError):
    """An input that cannot be read as what it should be: one line naming it, what is wrong and the fix."""


class DeadlineExceeded(TimeoutError):
    """A network read that did not finish by its wall-clock deadline."""


def file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")


def _check_regular(mode: int, source: str, fix: str) -> None:
    kind = file_kind(mode)
    if kind is not None:
        raise InputError(f"{source}: is {kind}, not a regular file; Fix: {fix}")


def _cannot_read(source: str, exc: OSError, fix: str) -> InputError:
    return InputError(f"{source}: cannot read ({exc.strerror or exc}); Fix: {fix}")


@contextmanager
def open_regular(path: Any, fix: str) -> Iterator[BinaryIO]:
    """The open file, only if it is a regular file (symbolic links followed); for callers that read a head."""
    source = str(path)
    try:
        before = os.stat(path)
    except OSError as exc:
        raise _cannot_read(source, exc, fix) from None
    _check_regular(before.st_mode, source, fix)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise _cannot_read(source, exc, fix) from None
    try:
        _check_regular(os.fstat(fd).st_mode, source, fix)  # swapped between the check and the open
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bytes(path: Any, *, max_bytes: int, what: str, fix: str) -> bytes:
    """The whole file, refused past `max_bytes` (`what` names the kind in the message, e.g. "stack file")."""
    source = str(path)
    with open_regular(path, fix) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise InputError(f"{source}: {size} bytes is over the {max_bytes}-byte limit for a {what}; Fix: {fix}")
        try:
            data = handle.read(size + 1)  # one read of the size it has: no buffer of the limit's size
            if len(data) > size:  # it grows while being read: on, counting, to one byte past the limit
                data += handle.read(max_bytes + 1 - len(data)) if len(data) <= max_bytes else b""
        except OSError as exc:
            raise _cannot_read(source, exc, fix) from None
    if len(data) > max_bytes:
        raise InputError(f"{source}: more than the {max_bytes}-byte limit for a {what}; Fix: {fix}")
    return data


def decode(data: bytes, source: str, fix: str) -> str:
    """UTF-8 text (a leading BOM dropped), or a named error for binary data or another encoding."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(f"{source}: binary data (a NUL byte at offset {nul}), not text; Fix: {fix}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); Fix: {fix}"
        ) from None


def read_text(path: Any, *, max_bytes: int, what: str, fix: str, syntax: str | None = None) -> str:
    """The file's text; `syntax` "yaml", "json" or "jsonl" also bounds its nesting depth."""
    text = decode(read_bytes(path, max_bytes=max_bytes, what=what, fix=fix), str(path), fix)
    if syntax is not None:
        check_depth(text, syntax, str(path))
    return text


# ---------------------------------------------------------------- nesting depth


def check_depth(
    text: str,
    syntax: str,
    source: str,
    fix: str = f"flatten the structure (at most {MAX_DEPTH} levels)",
    limit: int = MAX_DEPTH,
) -> None:
    """InputError if `text` nests collections deeper than `limit` ("yaml", "json" or "jsonl")."""
    deep = _yaml_too_deep(text, limit) if syntax == "yaml" else _json_too_deep(text, limit)
    if deep:
        raise InputError(f"{source}: nested more than {limit} levels deep; Fix: {fix}")


def _yaml_too_deep(text: str, limit: int) -> bool:
    """Walks libyaml's events, not nodes: its parser keeps its own stacks (30,000 nested `[` or `- `
    give events in milliseconds), while PyYAML's composer, which builds nodes, recurses in C. A syntax
    error ends the walk: the loader stops at the same event and reports it with its line."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > limit:
                    return True
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return False
    return False


# Strings go first (JSON strings never cross a line: JSON forbids raw line breaks in them; possessive,
# so no backtracking), then everything but brackets; what is left is walked run by run. An
# unterminated quote stays, so the brackets after it still count: broken text may be overcounted,
# never undercounted.
_JSON_STRING = re.compile(r'"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_RUN = re.compile(r"[\[{]+|[\]}]+")


def _json_too_deep(text: str, limit: int) -> bool:
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _BRACKET_RUN.finditer(_NOT_BRACKET.sub("", _JSON_STRING.sub("", text))):
        run = match.group()
        if run[0] in "[{":
            depth += len(run)
            if depth > limit:
                return True
        else:
            # A closer past depth 0 ends a document; in JSON Lines the next line starts at 0 again.
            depth = max(0, depth - len(run))
    return False


def loads_json(text: str, source: str, fix: str, **kwargs: Any) -> Any:
    """`json.loads` after the depth check; every failure one InputError line (hooks may raise ValueError)."""
    check_depth(text, "json", source, fix)
    try:
        return json.loads(text, **kwargs)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; Fix: {fix}"
        ) from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply to read; Fix: {fix}") from None
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from None


# ---------------------------------------------------------------- HTTP bodies and deadlines


def read_capped(read: Callable[[int], bytes], max_bytes: int, source: str) -> bytes:
    """A body read with `read(n)` until it returns b"", refused one chunk past `max_bytes`."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = read(CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > max_bytes:
            raise InputError(
                f"{source}: the answer is over the {max_bytes}-byte limit; Fix: ask for less (a narrower list) or check the server"
            )
        parts.append(chunk)


def within(seconds: float, call: Callable[[], T], what: str) -> T:
    """`call()`'s result if it finishes within `seconds` of wall-clock time, else DeadlineExceeded.

    Socket timeouts bound each read, not a whole answer: a server that sends one byte a second never
    trips them. The call runs in a daemon thread; one still blocked at the deadline is abandoned (it
    ends when the server closes or its per-read timeout fires) and holds nothing the caller waits on."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"deadline: {what}"[:60], daemon=True).start()
    if not done.wait(seconds):
        raise DeadlineExceeded(f"{what}: no complete answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
