"""Reading dataset and trace files: size cap first, then one-line errors naming file:line."""

from __future__ import annotations

import os

DEFAULT_MAX_FILE_MB = 256.0


def read_text(path: str, field: str, max_mb: float) -> str:
    from .base import WorkloadError

    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise WorkloadError(field, path, f"{path}: cannot read ({e.strerror or e}); give an existing file") from None
    if size > max_mb * 1024 * 1024:
        raise WorkloadError(
            field, path,
            f"{path}: FileTooLarge: {size / 1024 / 1024:.1f} MB is over the cap of {max_mb:g} MB; "
            "cut the file (e.g. head -n 10000) or raise --max-file-mb",
        )
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise WorkloadError(field, path, f"{path}: cannot read as UTF-8 text ({e}); give a JSON/JSONL/CSV text file") from None
