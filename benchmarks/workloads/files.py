"""Reading dataset and trace files through the one reader (benchmarks/inputs.py): a regular file
under --max-file-mb, strict UTF-8, bounded JSON depth; every refusal one WorkloadError line."""

from __future__ import annotations

from .. import inputs
from ..limits import MIB


def read_text(path: str, field: str, max_mb: float, syntax: str | None) -> str:
    from .base import WorkloadError

    fix = f"give the {field} file itself, under --max-file-mb {max_mb:g} (cut a larger one, e.g. head -n 10000, or raise --max-file-mb)"
    try:
        return inputs.read_text(path, max_bytes=int(max_mb * MIB), what=f"{field} file", fix=fix, syntax=syntax)
    except inputs.InputError as e:
        raise WorkloadError(field, path, str(e)) from None
