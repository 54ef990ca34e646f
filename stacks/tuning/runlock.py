"""One run per results database: an exclusive flock on `<db>.lock`, which names its holder.

The kernel drops the lock when the holding process exits, however it exits, so the lock file a
killed run leaves behind blocks nothing: the next run takes the lock and rewrites the owner.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Optional


class RunLocked(Exception):
    """Another live run holds the database."""


class RunLock:
    def __init__(self, db: Path):
        self.path = Path(str(db) + ".lock")
        self._file: Optional[IO[str]] = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = _describe(handle.read())
            handle.close()
            db = str(self.path)[: -len(".lock")]
            raise RunLocked(f"{db} is in use by another `stacks tune` run ({owner}); Fix: wait for it to finish, stop it, or pass another --db") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _describe(text: str) -> str:
    try:
        owner = json.loads(text)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(owner["started"])))
        return f"pid {int(owner['pid'])} on host {owner['host']}, started {started}"
    except (ValueError, KeyError, TypeError):
        return "owner not recorded yet"
