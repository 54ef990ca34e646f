"""The one writer for every file and folder a command writes: load-generator results and exports, the
offline plan's manifests and graph, tuning reports, capacity files, price snapshots.

- It overwrites only what the tool wrote: a file is recognised by its kind's own format, a folder by a
  marker file listing its files. Anything else (a stack file, a YAML file, an SQLite database, an empty
  file, a folder with other files) is refused in one line naming the path, what it is, that nothing was
  changed, and the fix, before anything is touched.
- It writes atomically: a file goes to a temp file beside it, is fsynced and renamed over the old one; a
  folder is written as a temp sibling and swapped in, so a killed run leaves the previous output whole.
  The next run removes what a killed one left (temp files, a temp folder, a half-done swap).
- One writer per output: an flock on `.<name>.lock` beside it, re-checked by inode (a releasing holder
  removes the file), and a second run is refused naming the first (pid, host, command, start time).
- A disk error (full, read-only, no permission) is one line naming the path: `OutputError`.

`benchmarks` stands alone (it imports nothing from the rest of the project); `stacks` uses this module.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import inputs

SQLITE_HEADER = b"SQLite format 3\x00"
MAX_MARKER_BYTES = 1 << 20  # a marker lists one file name per object: kilobytes
MAX_RECOGNISED_BYTES = 512 << 20  # a file larger than this is not read to be recognised: refused
NEVER_OURS = ("Pulumi.yaml", ".git")  # a folder holding one is a project, whatever a marker in it says
# Tests only: `POINT:N` stops the writer the Nth time it reaches POINT and waits to be killed, after
# printing `outputs: paused` on stderr. POINT: `file` (a folder's file written), `replace` (a file's
# new content written, before it replaces the old), `swap` (a folder complete, before it is swapped in).
PAUSE_ENV = "LLM_SERVING_OUTPUTS_PAUSE"


class OutputError(Exception):
    """An output that may not or cannot be written: one line with the path, what happened and the fix."""


class OutputLocked(OutputError):
    """Another live process holds the output (or the database): names it."""


# ---------------------------------------------------------------- kinds


@dataclass(frozen=True)
class Kind:
    """What a command writes. Files: `recognise(bytes)` says whether an existing file is this kind's own
    output. Folders: `marker` names the file listing what the folder holds; `legacy` lists the names an
    older, unmarked folder of this kind could hold (the first one required)."""

    name: str  # "plan graph JSON", "tuning report folder"
    example: str  # a file or folder name for the fix, e.g. "plan.json"
    recognise: Callable[[bytes], bool] | None = None
    marker: str | None = None
    legacy: tuple[str, ...] = ()
    fix: str | None = None  # the fix for a refused target, when "pass a new name" does not fit

    @property
    def folder(self) -> bool:
        return self.marker is not None


def any_content(data: bytes) -> bool:
    """For a cache folder the tool owns (pinned downloads): every file there is its own, an empty one too."""
    return True


def json_object_with(*keys: str) -> Callable[[bytes], bool]:
    """A recogniser: the file is a JSON object holding every one of `keys`."""

    def recognise(data: bytes) -> bool:
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return False
        return isinstance(doc, dict) and all(k in doc for k in keys)

    return recognise


def describe_file(path: Path) -> str:
    """What an existing file is, in a few words, for a refusal."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        return f"a file that cannot be read ({exc.strerror or exc})"
    name = path.name
    if not head:
        return "an empty file"
    if head.startswith(SQLITE_HEADER):
        return "an SQLite database"
    if name == "Pulumi.yaml":
        return "a Pulumi project file"
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return "a Pulumi stack file"
    if name.endswith((".yaml", ".yml")):
        return "a YAML file"
    if head.lstrip()[:1] in (b"{", b"["):
        return "a JSON file of another kind"
    return "a file of another kind"


def refusal(label: str, what: str, fix: str) -> str:
    """The one shape of every refusal: `LABEL: WHAT; nothing was changed. Fix: FIX`."""
    return f"{label}: {what}; nothing was changed. Fix: {fix}"


# ---------------------------------------------------------------- the lock


def _command() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith("__main__.py"):
        argv[:1] = ["python", "-m", Path(argv[0]).parent.name]
    text = " ".join(argv) or "?"
    return text if len(text) <= 200 else text[:197] + "..."


def describe_owner(text: str) -> str:
    try:
        owner = json.loads(text)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(owner["started"])))
        command = f", `{owner['command']}`" if owner.get("command") else ""
        return f"pid {int(owner['pid'])} on host {owner['host']}, started {started}{command}"
    except (ValueError, KeyError, TypeError):
        return "owner not recorded yet"


class FileLock:
    """An exclusive flock on `path` that records its holder. The kernel drops it when the holder exits,
    however it exits. `release` removes the file; a waiter that locked the removed inode sees that the
    path no longer names it and tries again, so two processes never both hold one path."""

    def __init__(self, path: Path, refused: Callable[[str], str]):
        self.path = Path(path)
        self.refused = refused  # owner description -> the one-line refusal
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise OutputError(
                    f"{self.path}: cannot create the lock file ({exc.strerror or exc}); nothing was changed. Fix: make its folder writable, or pass another path"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = describe_owner(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
                os.close(fd)
                raise OutputLocked(self.refused(owner)) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder released (and removed) it between our open and our flock
                os.close(fd)
                continue
            record = json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(), "started": time.time()}
            ).encode()
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, record, 0)
            except OSError:
                pass  # a full disk: the lock holds all the same, the owner is just not named
            self._fd = fd
            return

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ---------------------------------------------------------------- low-level writes


_reached: dict[str, int] = {}


def _pause_point(point: str) -> None:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    _reached[point] = _reached.get(point, 0) + 1
    if spec == f"{point}:{_reached[point]}":
        sys.stderr.write("outputs: paused\n")
        sys.stderr.flush()
        time.sleep(3600)


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.fsync(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_file_mode(existing: Path | None) -> int:
    if existing is not None:
        try:
            return os.stat(existing).st_mode & 0o7777
        except OSError:
            pass
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without setting it (os.umask would change it for every thread a moment)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where it is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


# ---------------------------------------------------------------- one output


@dataclass
class Output:
    """One file or folder a command writes. `open()` locks it, finishes what a killed run left and refuses
    a target that is not this kind's own output; `write()` (files) or `folder()` (folders) writes it;
    `close()` unlocks. `label` starts every message, e.g. "--json plan.json"."""

    path: Path
    kind: Kind
    label: str = ""
    parents: bool = False  # create missing parent folders (else a missing folder is refused)
    _lock: FileLock | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.label = self.label or str(self.path)

    # -- names

    @property
    def real(self) -> Path:
        """The path with symlinks resolved: a link to our output is written through, a link to a stack file refused."""
        return Path(os.path.realpath(self.path))

    def _sibling(self, tag: str) -> Path:
        real = self.real
        return real.parent / f".{real.name}.{tag}"

    def _fail(self, what: str, fix: str | None = None) -> OutputError:
        return OutputError(refusal(self.label, what, fix or self._fix()))

    def _fix(self) -> str:
        if self.kind.fix:
            return self.kind.fix
        noun = "folder" if self.kind.folder else "file"
        return f"pass a new {noun} name (e.g. {self.kind.example}), or move this one away"

    def _disk(self, exc: OSError) -> OutputError:
        where = f" at {exc.filename}" if exc.filename and str(exc.filename) != str(self.path) else ""
        return OutputError(
            f"{self.label}: cannot write ({exc.strerror or exc}{where}); nothing was changed, the previous output is kept. "
            "Fix: free space on that disk or make it writable, or pass a path on another disk"
        )

    # -- checks

    def check(self) -> None:
        """Refuse a target this kind may not write; touches nothing (open() checks again under the lock)."""
        try:
            if self.kind.folder:
                self._check_folder()
            else:
                self._check_file()
        except OSError as exc:
            raise self._disk(exc) from None

    def _check_parent(self) -> None:
        parent = self.real.parent
        if parent.is_dir() or self.parents:
            if parent.exists() and not parent.is_dir():
                raise self._fail(f"its folder {parent} is a file")
            return
        raise self._fail(
            f"its directory {parent} does not exist", "the directory must exist: create it, or choose another path"
        )

    def _check_file(self) -> None:
        path, real = self.path, self.real
        if real.is_dir() or str(path).endswith(os.sep):
            raise self._fail("is a directory", f"give a file path, e.g. {path / self.kind.example}")
        self._check_parent()
        if not real.exists():
            return
        if not real.is_file():
            raise self._fail("exists and is not a regular file")
        if self.kind.recognise is any_content:
            return
        try:
            size = real.stat().st_size
            data = real.read_bytes() if 0 < size <= MAX_RECOGNISED_BYTES else b""
        except OSError as exc:
            raise self._fail(f"cannot be read ({exc.strerror or exc})") from None
        if size == 0:
            raise self._fail(f"is an empty file this tool did not write, not a {self.kind.name}")
        if not (self.kind.recognise and data and self.kind.recognise(data)):
            raise self._fail(f"is {describe_file(real)}, not a {self.kind.name} this tool wrote")

    def _listed(self, folder: Path) -> set[str] | None:
        """The names the folder's marker lists, or None when there is no marker of ours."""
        marker = folder / str(self.kind.marker)
        if not marker.is_file() or marker.is_symlink():
            return None
        try:
            text = inputs.read_text(marker, max_bytes=MAX_MARKER_BYTES, what="output marker", fix="remove it")
            listed = inputs.loads_json(text, str(marker), "remove it").get("files")
        except (OSError, ValueError, AttributeError):  # InputError is a ValueError: not ours, like a missing marker
            return None
        if not isinstance(listed, list) or not all(
            isinstance(n, str) and n and "/" not in n and n not in (".", "..") for n in listed
        ):
            return None
        return set(listed)

    def _ours(self, folder: Path) -> str | None:
        """None when `folder` is this kind's own output (or empty), else what it is."""
        entries = {p.name for p in folder.iterdir()}
        if not entries:
            return None
        project = [n for n in NEVER_OURS if n in entries]
        if project:
            return f"is a project folder (it holds {project[0]})"
        listed = self._listed(folder)
        if listed is None:
            legacy = set(self.kind.legacy)
            if legacy and entries <= legacy and self.kind.legacy[0] in entries:
                listed = entries
            else:
                return f"is a folder this tool did not write (no {self.kind.marker} marker; it holds {_some(entries)})"
        others = sorted(entries - listed - {str(self.kind.marker)})
        if others:
            return f"holds files the previous {self.kind.name} did not write ({_some(others)})"
        odd = sorted(n for n in entries if not (folder / n).is_file() or (folder / n).is_symlink())
        if odd:
            return f"holds entries that are not plain files ({_some(odd)})"
        return None

    def _check_folder(self) -> None:
        real = self.real
        self._check_parent()
        if not real.exists():
            return
        if not real.is_dir():
            raise self._fail(f"is {describe_file(real)}, not a folder")
        what = self._ours(real)
        if what:
            raise self._fail(what)
        cwd = Path(os.getcwd()).resolve()
        if cwd == real or real in cwd.parents:
            raise self._fail(
                "is the current folder or holds it", "pass a folder beside or below this one, e.g. plan-out/<stack>"
            )

    # -- lock and recovery

    def open(self) -> Output:
        if self._lock is not None:
            return self
        self.check()  # a refused target gets no lock file either
        if self.parents:
            try:
                self.real.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._disk(exc) from None
        lock = FileLock(
            self._sibling("lock"),
            lambda owner: (
                f"{self.label}: is being written by another run ({owner}); nothing was changed. Fix: wait for it to finish, stop it, or pass another path"
            ),
        )
        lock.acquire()
        try:
            self._recover()
            self.check()  # again, now that no other writer can change it
        except OSError as exc:
            lock.release()
            raise self._disk(exc) from None
        except BaseException:
            lock.release()
            raise
        self._lock = lock
        return self

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Output:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recover(self) -> None:
        """Under the lock: remove what a killed writer of this output left, and undo a half-done swap."""
        real = self.real
        prefix = f".{real.name}.partial-"
        for entry in real.parent.iterdir() if real.parent.is_dir() else ():
            if entry.name.startswith(prefix) and entry.is_file() and not entry.is_symlink():
                entry.unlink()
        if not self.kind.folder:
            return
        new, old = self._sibling("new"), self._sibling("old")
        if old.is_dir() and not old.is_symlink() and self._ours(old) is None:
            if not real.exists():
                os.rename(old, real)  # killed between moving the old folder aside and the new one in
            else:
                shutil.rmtree(old)
        if os.path.lexists(new):
            if not new.is_dir() or new.is_symlink() or (self._listed(new) is None and any(new.iterdir())):
                raise self._fail(
                    f"{new} is in the way (this tool writes its new folder there, and did not write that one)",
                    f"move {new} away",
                )
            shutil.rmtree(new)

    # -- writing

    def _require_open(self) -> None:
        if self._lock is None:
            raise RuntimeError(f"{self.label}: open() the output before writing it")

    def write(self, data: bytes) -> Path:
        """Replace the file with `data`, atomically; returns its path."""
        self._require_open()
        real = self.real
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.partial-")
            try:
                os.fchmod(fd, _new_file_mode(real if real.exists() else None))
                _write_fd(fd, data)
            finally:
                os.close(fd)
            _pause_point("replace")
            os.replace(tmp, real)
            tmp = None
            _fsync_dir(real.parent)
        except OSError as exc:
            raise self._disk(exc) from None
        finally:
            if tmp is not None:
                _unlink_quietly(tmp)
        return self.path

    def folder(self, meta: dict[str, Any] | None = None) -> FolderWriter:
        self._require_open()
        return FolderWriter(self, meta or {})


def _some(names: Any) -> str:
    names = sorted(names)
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _unlink_quietly(path: Any) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class FolderWriter:
    """Files of a folder output, written into a temp sibling and swapped in on `commit()` (the context
    manager commits on success and throws the temp folder away on an error)."""

    def __init__(self, output: Output, meta: dict[str, Any]):
        self.output = output
        self.meta = meta
        self.names: list[str] = []
        self.new = output._sibling("new")
        try:
            self.new.mkdir()
        except OSError as exc:
            raise output._disk(exc) from None
        try:
            self._marker({"partial": True, "files": []})  # so a later run knows this temp folder is ours
        except OSError as exc:
            self.abort()
            raise output._disk(exc) from None

    def _marker(self, doc: dict[str, Any]) -> None:
        path = self.new / str(self.output.kind.marker)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _write_fd(fd, (json.dumps(doc, indent=1) + "\n").encode())
        finally:
            os.close(fd)

    def path(self, name: str) -> Path:
        """Where to write `name` (for writers that want a path, e.g. a plot); it is kept if it exists at commit."""
        if not name or "/" in name or name in (".", "..", self.output.kind.marker):
            raise ValueError(f"{name!r} is not a file name a folder output may hold")
        if name not in self.names:
            self.names.append(name)
        return self.new / name

    def final(self, name: str) -> Path:
        """Where `name` will be once the folder is committed."""
        return self.output.path / name

    def write(self, name: str, data: bytes) -> Path:
        target = self.path(name)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, _new_file_mode(None))
            try:
                _write_fd(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise self.output._disk(exc) from None
        _pause_point("file")
        return self.final(name)

    def commit(self) -> list[str]:
        """Swap the new folder in; returns the names it holds."""
        output, real = self.output, self.output.real
        try:
            kept = [n for n in self.names if (self.new / n).is_file()]
            for name in kept:  # files written by path() (a plot library) were not fsynced by us
                fd = os.open(self.new / name, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._marker({**self.meta, "files": sorted(kept)})
            _fsync_dir(self.new)
            _pause_point("swap")
            if real.exists() and _exchange(self.new, real):
                shutil.rmtree(self.new)  # now the previous output
            else:
                old = output._sibling("old")
                if real.exists():
                    os.rename(real, old)
                os.rename(self.new, real)
                if old.exists():
                    shutil.rmtree(old)
            _fsync_dir(real.parent)
        except OSError as exc:
            self.abort()
            raise output._disk(exc) from None
        return kept

    def abort(self) -> None:
        shutil.rmtree(self.new, ignore_errors=True)

    def __enter__(self) -> FolderWriter:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


# ---------------------------------------------------------------- one-call helpers


def write_file(path: Path | str, data: bytes, kind: Kind, label: str = "", parents: bool = False) -> Path:
    """Lock, check and atomically write one file (for outputs written in one go)."""
    with Output(Path(path), kind, label, parents) as out:
        return out.write(data)


def json_bytes(doc: Any, indent: int = 1, **kw: Any) -> bytes:
    return (json.dumps(doc, indent=indent, **kw) + "\n").encode("utf-8")
