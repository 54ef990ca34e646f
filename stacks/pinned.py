"""Downloading upstream files pinned by git blob id (CRD schemas, the HyperPod chart): each file is
fetched from its commit-pinned URL and refused unless its blob id matches; a file already in place with
the right blob is not fetched again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import inputs
from benchmarks.outputs import Kind, OutputError, any_content, write_file

Fetcher = Callable[[str], bytes]
FETCH_TIMEOUT = 120.0  # wall-clock seconds for one whole file: the largest pinned file (a CRD) is 2.7 MB
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024  # no pinned file comes near this; a larger answer is not the file


PINNED_FILE = Kind("pinned download", "crds/<file>.yaml", any_content)  # the cache is the tool's own


class FetchError(RuntimeError):
    """The pinned files could not be downloaded; the message says what is missing and the fix."""


@dataclass(frozen=True)
class PinnedFile:
    url: str
    blob: str
    target: Path
    label: str  # how the list of written files names it


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def urlopen(url: str, timeout: float = FETCH_TIMEOUT) -> bytes:
    """The file at `url`, whole within `timeout` of wall-clock time (urllib's timeout bounds each socket
    read only) and at most MAX_DOWNLOAD_BYTES; DeadlineExceeded is an OSError like the network's own."""
    from urllib.request import urlopen as _open

    def get() -> bytes:
        with _open(url, timeout=timeout) as response:
            return inputs.read_capped(response.read, MAX_DOWNLOAD_BYTES, url)

    return inputs.within(timeout, get, f"downloading {url}")


def raw_url(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def fetch_pinned(files: Iterable[PinnedFile], fetch: Fetcher, offline: Callable[[object], str]) -> list[str]:
    """Write every file whose target is missing or differs; `offline(reason)` words the error when the
    network fails. Returns the labels of the files written."""
    written = []
    for file in files:
        if file.target.exists() and git_blob_id(file.target.read_bytes()) == file.blob:
            continue
        try:
            data = fetch(file.url)
        except OSError as exc:  # URLError, timeouts, the deadline and resets are all OSErrors
            raise FetchError(offline(getattr(exc, "reason", None) or exc)) from None
        except inputs.InputError as exc:  # an answer over MAX_DOWNLOAD_BYTES
            raise FetchError(offline(str(exc).split("; Fix: ")[0])) from None
        if git_blob_id(data) != file.blob:
            raise ValueError(f"{file.url}: content does not match the pinned git blob {file.blob}; refusing it")
        try:  # atomically: a killed fetch never leaves half a schema in the cache
            write_file(file.target, data, PINNED_FILE, str(file.target), parents=True)
        except OutputError as exc:
            raise FetchError(str(exc)) from None
        written.append(file.label)
    return written
