"""The plan's output directory: its own directory, marked, and the only files a new plan may remove.

A plan directory holds a marker file listing the manifests the plan wrote. `--out` accepts a
missing or empty directory, or one that holds only a previous plan (the marker and the files it
lists); anything else is refused before any file is touched, so a plan never deletes a user's files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

MARKER = ".llm-serving-plan"


class PlanOutError(Exception):
    """An --out directory a plan must not write into: one line with the directory and the fix."""


def _previous_plan_files(out_dir: Path) -> set[str] | None:
    """The file names the marker lists, or None when the marker is missing or not ours."""
    marker = out_dir / MARKER
    if not marker.is_file() or marker.is_symlink():
        return None
    try:
        listed = json.loads(marker.read_bytes().decode("utf-8")).get("files")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    if not isinstance(listed, list) or not all(isinstance(n, str) and n and "/" not in n and n not in (".", "..") for n in listed):
        return None
    return set(listed)


def check_out_dir(out_dir: Path, project_dir: Path) -> None:
    """Refuse an --out the plan may not write into; touches nothing."""
    fix = "Fix: pass --out a new or empty directory, e.g. plan-out/<stack>"
    resolved = out_dir.resolve()
    if resolved == project_dir.resolve() or (resolved / "Pulumi.yaml").exists():
        raise PlanOutError(f"--out {out_dir}: is a Pulumi project directory (it holds Pulumi.yaml and stack files); {fix}")
    if not resolved.exists():
        return
    if not resolved.is_dir():
        raise PlanOutError(f"--out {out_dir}: exists and is not a directory; {fix}")
    entries = {p.name for p in resolved.iterdir()}
    if not entries:
        return
    listed = _previous_plan_files(resolved)
    if listed is None:
        raise PlanOutError(f"--out {out_dir}: not empty and not a directory an earlier plan wrote (no {MARKER} marker); nothing was deleted; {fix}, or empty this one yourself")
    others = sorted(entries - listed - {MARKER})
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise PlanOutError(f"--out {out_dir}: holds files the earlier plan did not write ({shown}); nothing was deleted; {fix}")


def replace_plan_files(out_dir: Path, project_dir: Path, stack: str, names: list[str], context: Optional[dict[str, Any]] = None) -> None:
    """Make `out_dir` ready for `names`: remove the previous plan's own files, then mark the directory. The
    marker also holds `context` (what `stacks check` needs to judge the files as the plan did)."""
    check_out_dir(out_dir, project_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in _previous_plan_files(out_dir) or ():
        path = out_dir / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    # The marker lists the new files before they exist, so a plan cut short is still recognised.
    (out_dir / MARKER).write_text(json.dumps({**(context or {}), "stack": stack, "files": sorted(names)}, indent=1) + "\n")
