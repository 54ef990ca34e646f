"""How `python -m stacks` and `python -m benchmarks` end: what escapes a command is mapped to an exit
status and one line here, in one place (as pip's base command does), never a traceback.

| what happened | exit | printed |
|---|---|---|
| the command returned n | n | what the command printed |
| `SystemExit(n)` (argparse: bad arguments) | n (2) | argparse's lines |
| Ctrl-C (`KeyboardInterrupt`; inside `deferred_interrupt()`, such as an offline plan, once the block ends) | 130 | `<prog>: interrupted` |
| stdout is a pipe whose reader left (`... \\| head -1`) | 1 | nothing (the Python docs' recipe: library/signal.html, "Note on SIGPIPE") |
| writing stdout or stderr failed (`> /dev/full`, a closed file) | 1 | `<prog>: error: cannot write stdout: <reason>` on the other stream |
| stdout was closed when the command started (`>&-`) | 1, or the command's own failure | the command runs (its files are written), its output is discarded, one line on stderr |
| any other `OSError` (read-only or full disk, a missing directory) | 1 | `<prog>: error: <file>: <reason>` |
| anything else | 70 (EX_SOFTWARE, sysexits.h) | `<prog>: internal error: <type>: <message>; rerun with --debug for the traceback` |

`--debug` anywhere on the command line, or `LLM_SERVING_DEBUG=1`, prints the traceback as well.

A closed stdin, stdout or stderr is reopened on /dev/null before anything else runs: a socket or a file
opened later would otherwise get descriptor 0, 1 or 2, which uvloop (libuv) refuses with an abort
(`uv__close: Assertion 'fd > STDERR_FILENO' failed`).
"""

from __future__ import annotations

import _thread
import contextlib
import errno
import os
import select
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

DEBUG_FLAG = "--debug"
DEBUG_ENV = "LLM_SERVING_DEBUG"
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a job stopped by Ctrl-C
FAILED = 1
INTERNAL = 70  # EX_SOFTWARE
MAX_MESSAGE = 300  # one line, whatever an exception carries


class StreamError(Exception):
    """Writing stdout or stderr failed. Not an OSError, so no `except OSError` meant for a file catches it."""

    def __init__(self, stream: str, cause: BaseException, target) -> None:
        super().__init__(f"{stream}: {cause}")
        self.stream = stream
        self.cause = cause
        self.target = target  # the stream object that failed


class _Guarded:
    """sys.stdout / sys.stderr as they were, with a failed write or flush raised as StreamError."""

    def __init__(self, inner, name: str) -> None:
        self._inner = inner
        self._name = name

    def _call(self, method: str, *args):
        try:
            return getattr(self._inner, method)(*args)
        except (OSError, ValueError) as exc:  # ValueError: "I/O operation on closed file"
            if isinstance(exc, ValueError) and not getattr(self._inner, "closed", False):
                raise
            raise StreamError(self._name, exc, self._inner) from exc

    def write(self, text):
        return self._call("write", text)

    def writelines(self, lines):
        return self._call("writelines", lines)

    def flush(self):
        return self._call("flush")

    def isatty(self):  # asked before anything is written; a closed stream is no terminal
        try:
            return self._inner.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _reopen_closed_descriptors() -> set[str]:
    """Descriptors 0-2 that were closed at start, now on /dev/null; the names of those that were."""
    closed = set()
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        opened = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
        if opened != fd:
            os.dup2(opened, fd)
            os.close(opened)
        closed.add(name)
        if getattr(sys, name) is None:  # Python starts with None for a closed standard stream
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
    return closed


def _reader_gone(stream) -> bool:
    """True when `stream` is a pipe whose reading end is closed (poll reports POLLERR on the write end)."""
    try:
        fd = stream.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _silence(stream) -> None:
    """Point the descriptor of a failed standard stream at /dev/null, so the interpreter's last flush of what
    is still buffered cannot fail again ("Exception ignored ... BrokenPipeError"). A stream that is not
    descriptor 1 or 2 (a test's stand-in) is left alone."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    if fd in (1, 2):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def _say(line: str, prefer: str = "stderr") -> None:
    """One line on `prefer`, else on the other standard stream; nothing if neither can take it."""
    for name in (prefer, "stdout" if prefer == "stderr" else "stderr"):
        stream: Any = getattr(sys, name, None)  # None or closed: the write fails and the other one is tried
        try:
            stream.write(line + "\n")
            stream.flush()
            return
        except Exception:
            continue


def one_line(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 1] + "…"


def _os_error_line(prog: str, exc: OSError) -> str:
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0) or str(exc)
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return one_line(f"{prog}: error: {where}{reason}")


def run(
    main: Callable[[list[str] | None], int],
    argv: Sequence[str] | None = None,
    prog: str = "python",
    environment_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """`main(argv)`'s exit status, with whatever escapes it mapped by the table above. `environment_errors` are
    the caller's exception types that mean "the machine, not the program" (exit 1, one line), like OSError."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")
    closed = _reopen_closed_descriptors()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Guarded(sys.stdout, "stdout"), _Guarded(sys.stderr, "stderr")
    saved_hook = sys.unraisablehook
    sys.unraisablehook = _redeliver_interrupt(saved_hook)
    try:
        code = _mapped(main, args, prog, debug, environment_errors)
    finally:
        sys.unraisablehook = saved_hook
        if isinstance(sys.stdout, _Guarded):
            sys.stdout = saved[0]
        if isinstance(sys.stderr, _Guarded):
            sys.stderr = saved[1]
    if "stdout" in closed:
        _say(f"{prog}: error: stdout was closed: the output was discarded")
        return code or FAILED
    return code


def _redeliver_interrupt(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    """Ctrl-C that lands inside a finalizer or a weakref callback (the garbage collector runs them) cannot
    propagate: Python prints "Exception ignored in ..." with a traceback and the command goes on. Deliver it
    again to the main thread instead, where it stops the command like any Ctrl-C (exit 130, one line)."""

    def handle(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            # From another thread, a moment later: raised here, it would be "ignored in sys.unraisablehook" too.
            timer = threading.Timer(0.05, _thread.interrupt_main)
            timer.daemon = True
            timer.start()
            return
        hook(unraisable)

    return handle


def _mapped(main, args: list[str], prog: str, debug: bool, environment_errors) -> int:
    try:
        code = main(args)
        sys.stdout.flush()  # a pipe or a full disk fails here for what is still buffered: mapped below too
        return int(code or 0)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        _say(one_line(exc.code))
        return FAILED
    except KeyboardInterrupt:
        _debug(debug)
        _say(f"{prog}: interrupted")
        _interrupted.append(True)
        return INTERRUPTED
    except StreamError as exc:
        if exc.stream == "stdout" and isinstance(exc.cause, BrokenPipeError):
            _silence(exc.target)  # the reader has what it wanted: say nothing
            return FAILED
        _silence(exc.target)
        _debug(debug)
        _say(
            one_line(f"{prog}: error: cannot write {exc.stream}: {getattr(exc.cause, 'strerror', None) or exc.cause}"),
            prefer="stdout" if exc.stream == "stderr" else "stderr",
        )
        return FAILED
    except BrokenPipeError as exc:
        if _reader_gone(sys.__stdout__):
            _silence(sys.__stdout__)
            return FAILED
        _debug(debug)
        _say(_os_error_line(prog, exc))
        return FAILED
    except OSError as exc:
        _debug(debug)
        _say(_os_error_line(prog, exc))
        return FAILED
    except environment_errors as exc:
        _debug(debug)
        _say(one_line(f"{prog}: error: {exc}"))
        return FAILED
    except Exception as exc:
        _debug(debug)
        hint = "" if debug else "; rerun with --debug for the traceback"
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _say(one_line(f"{prog}: internal error: {what}") + hint)
        return INTERNAL


_interrupted: list[bool] = []


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Ctrl-C held back until the block ends, then raised there. For code that cannot be left half-way: a
    KeyboardInterrupt inside Pulumi's mocked program left its event loop with tasks that never finished (the dry
    run hung), an internal error from a half-built gRPC servicer, or "coroutine was never awaited" warnings. Only
    on the main thread, with Python's own handler installed (an ignored SIGINT stays ignored)."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if caught:  # also when the block failed (a plan that refuses its config): Ctrl-C wins
            raise KeyboardInterrupt  # replaces whatever the block raised


def leave(code: int) -> NoReturn:
    """Exit with `code`. After a Ctrl-C this mapping caught, the process leaves at once (os._exit): CPython
    remembers a KeyboardInterrupt that once crossed a C-level eval (an extension module loading when Ctrl-C
    came) and at exit would kill itself with SIGINT instead of exiting 130, caught or not."""
    if _interrupted:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)
    sys.exit(code)


def _debug(debug: bool) -> None:
    if debug:
        try:
            traceback.print_exc(file=sys.__stderr__)
        except Exception:
            pass
