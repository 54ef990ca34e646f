"""A process's identity beyond its pid: the kernel's start time and boot id, and its command line.

A pid alone names a different process after the engine exits or the machine reboots; cleanup
kills only a process whose start time and boot match what was recorded when it was started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROC = Path("/proc")
GONE = "it is no longer running"


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: start time in clock ticks since boot (None if gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def boot_id() -> str | None:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return None


def identify(pid: int, cmdline: list[str]) -> dict[str, Any]:
    return {"pid": pid, "start": start_ticks(pid), "boot": boot_id(), "cmdline": list(cmdline)}


def mismatch(identity: dict[str, Any]) -> str | None:
    """None when the recorded process is still the one running at that pid, else why not."""
    pid = identity.get("pid")
    if not isinstance(pid, int) or pid <= 1:
        return f"no usable pid recorded ({pid!r})"
    if identity.get("start") is None or identity.get("boot") is None:
        return "it was recorded without a start time, so it cannot be told from a later process at that pid"
    if identity["boot"] != boot_id():
        return "it was recorded before the machine rebooted"
    now = start_ticks(pid)
    if now is None:
        return GONE
    if now != identity["start"]:
        return f"that pid is now a different process (started at tick {now}, the engine at tick {identity['start']})"
    return None
