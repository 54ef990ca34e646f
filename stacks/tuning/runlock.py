"""One run per results database, whatever path reaches it: the lock is keyed by the database itself.

Two flocks, both through the output writer's lock (`benchmarks/outputs.py:FileLock`), which names
its holder:
- `<real path>.lock` beside the database with symlinks resolved, so a symlink or a relative path to
  the same file meets the same lock, also before the file exists;
- once the file exists, one keyed by its device and inode in a per-host lock folder, so a hard link or
  another mount of the same file meets it too.
The kernel drops both when the holding process exits, however it exits: a lock file a killed run
leaves blocks nothing.

A shared database (`--db postgresql://...`) is locked per trial instead: several workers, on several
machines, run one study on purpose, and no flock reaches across machines. Each point is held by its row in
the database (stacks/tuning/sharedstore.py `claim`: the primary key admits one insert) and by a heartbeat
that lapses when its worker dies (stacks/tuning/workers.py); `for_store` picks the lock.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

from benchmarks.outputs import FileLock, OutputError, OutputLocked

LOCK_DIR_ENV = "LLM_SERVING_LOCK_DIR"  # the per-host lock folder (tests point it at their own)


def identity_dir() -> Path:
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "llm-serving-locks")


class RunLocked(OutputLocked):
    """Another live run holds the database."""


def identity_lock_path(db: Path) -> Path | None:
    """The lock file named after the database's device and inode (None while it does not exist)."""
    try:
        st = os.stat(db)
    except OSError:
        return None
    folder = identity_dir()
    try:
        if not folder.is_dir():
            folder.mkdir()
            os.chmod(folder, 0o1777)  # shared by every user's runs, like /tmp
    except OSError:
        return None  # no per-host lock folder: the lock beside the real path still holds
    return folder / f"tune-{st.st_dev}-{st.st_ino}.lock"


class RunLock:
    def __init__(self, db: Path | str):
        self.db = Path(db)
        self.path = Path(os.path.realpath(self.db) + ".lock")
        self._locks: list[FileLock] = []

    def _refused(self, owner: str) -> str:
        return f"{self.db} is in use by another `stacks tune` run ({owner}); Fix: wait for it to finish, stop it, or pass another --db"

    def acquire(self) -> None:
        try:
            self._take(self.path)
            identity = identity_lock_path(self.db)
            if identity is not None:
                try:
                    self._take(identity)
                except OutputLocked:
                    raise
                except OutputError:
                    pass  # the per-host folder is not writable: the lock beside the real path still holds
        except OutputLocked as exc:
            self.release()
            raise RunLocked(str(exc)) from None
        except BaseException:
            self.release()
            raise

    def _take(self, path: Path) -> None:
        lock = FileLock(path, self._refused)
        lock.acquire()
        self._locks.append(lock)

    def release(self) -> None:
        while self._locks:
            self._locks.pop().release()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def for_store(store: Any) -> ContextManager[Any]:
    """The run lock of a SQLite store; nothing per run on a shared one, whose trials are locked by their claims."""
    if getattr(store, "shared", False):
        return contextlib.nullcontext()
    return RunLock(store.path)
