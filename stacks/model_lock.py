"""The reader of models.lock.json for the plan, grid pruning and local trials: model id -> ModelFacts (rule G23).

`{"schema": 1, "models": {"<model>": {<entry>}}}` at the project root (components/rules/model_facts.py). No file:
no facts, every endpoint's fit is `unchecked`. A file that cannot be read: ModelLockError, one line naming the file,
the key and the fix. Read through benchmarks/inputs.py, the one reader of user input; a file is parsed once per
content (a grid validates every point against the same lock).
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks import inputs
from components.rules.model_facts import LOCK_FILE, LOCK_SCHEMA, LockEntryError, ModelFacts, from_lock_entry

MAX_BYTES = 16 << 20  # an entry is about 600 bytes: room for tens of thousands of models
FIX = "run `python -m stacks models lock` again, or remove the file"

_cache: dict[str, tuple[tuple[int, int, int], dict[str, ModelFacts]]] = {}


class ModelLockError(ValueError):
    """models.lock.json cannot be read; the message is one line."""


def lock_path(project_dir: Path) -> Path:
    return Path(project_dir) / LOCK_FILE


def read_lock(project_dir: Path) -> dict[str, ModelFacts]:
    """Every model's facts in the project's lock file; {} when there is none."""
    path = lock_path(project_dir)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ModelLockError(f"{path}: cannot be read ({exc.strerror}); Fix: {FIX}") from None
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == stamp:
        return dict(cached[1])
    facts = _parse(path)
    _cache[str(path)] = (stamp, facts)
    return dict(facts)


def _parse(path: Path) -> dict[str, ModelFacts]:
    try:
        text = inputs.read_text(path, max_bytes=MAX_BYTES, what="model lock file", fix=FIX, syntax="json")
        doc = inputs.loads_json(text, str(path), FIX)
    except inputs.InputError as exc:
        raise ModelLockError(str(exc)) from None
    if not isinstance(doc, dict):
        raise ModelLockError(f"{path}: not a JSON object; Fix: {FIX}")
    if doc.get("schema") != LOCK_SCHEMA:
        raise ModelLockError(
            f"{path}: schema = {doc.get('schema')!r}, this version reads schema {LOCK_SCHEMA}; Fix: {FIX}"
        )
    models = doc.get("models")
    if not isinstance(models, dict):
        raise ModelLockError(f"{path}: models = {_short(models)}: must be an object of model id -> facts; Fix: {FIX}")
    out: dict[str, ModelFacts] = {}
    for model, entry in models.items():
        try:
            out[model] = from_lock_entry(model, entry)
        except LockEntryError as exc:
            raise ModelLockError(f"{path}: {str(exc).removeprefix(LOCK_FILE + ': ')}") from None
    return out


def _short(value: object) -> str | None:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"
