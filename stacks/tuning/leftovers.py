"""What a trial started, recorded beside its log before the deploy and removed after its teardown.

The results database records the same, but only once the deploy returned (a Pulumi `up` takes many
minutes) and only while the database can be written. A run that is killed, or whose database fails,
still leaves this file; the next run cleans up what it names, once the run that wrote it is gone.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.outputs import Kind, json_bytes, json_object_with, write_file

from .identity import identify, mismatch

SUFFIX = ".started.json"
RECORD = Kind("trial record", f"trial-<key>{SUFFIX}", json_object_with("trial", "owner", "started"))


def path(log_dir: Path, key: str) -> Path:
    return Path(log_dir) / f"trial-{key}{SUFFIX}"


def record(log_dir: Path, key: str, started: dict[str, Any]) -> None:
    """`started`: what to clean up (an engine's identity, a stack's name); `owner`: this run's process."""
    write_file(
        path(log_dir, key),
        json_bytes({"trial": key, "owner": identify(os.getpid(), sys.argv), "started": started}),
        RECORD,
        parents=True,
    )


def remove(log_dir: Path, key: str) -> None:
    try:
        path(log_dir, key).unlink()
    except FileNotFoundError:
        pass


def orphans(log_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, what was started) of each record whose run is gone; a live run's records are left alone
    (two runs on two databases may share a log folder). The caller removes each after cleaning up."""
    folder = Path(log_dir)
    if not folder.is_dir():
        return
    for entry in sorted(folder.glob(f"trial-*{SUFFIX}")):
        try:
            doc = json.loads(entry.read_bytes())
        except (OSError, ValueError):
            continue
        if (
            not isinstance(doc, dict)
            or not {"trial", "owner", "started"} <= doc.keys()
            or not isinstance(doc["owner"], dict)
        ):
            continue
        if mismatch(doc["owner"]) is None:
            continue  # its run is still running
        yield str(doc["trial"]), doc["started"]
