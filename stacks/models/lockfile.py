"""Writing `models.lock.json` through the one writer (benchmarks/outputs.py): the new entries replace
their models' old ones, every other entry is kept as it was, keys sorted so the file diffs cleanly."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks import inputs, outputs
from components.rules.model_facts import LOCK_FILE, LOCK_SCHEMA, ModelFacts, to_lock_entry

# Only a file this command wrote is overwritten: a JSON object with `schema` and `models`.
LOCK_KIND = outputs.Kind(
    "model lock file",
    LOCK_FILE,
    outputs.json_object_with("schema", "models"),
    fix=f"move that file away; {LOCK_FILE} at the project root is the model lock",
)
MAX_LOCK_BYTES = 16 << 20


class LockFileError(Exception):
    """The lock file there cannot be read or extended: one line with the fix."""


def existing(path: Path) -> dict[str, Any]:
    """The entries already locked (raw, as written), or {} when there is no file."""
    if not path.exists():
        return {}
    fix = "repair it, or move it away and run `python -m stacks models lock --all` again"
    text = inputs.read_text(path, max_bytes=MAX_LOCK_BYTES, what="model lock file", fix=fix)
    doc = inputs.loads_json(text, str(path), fix)
    if not isinstance(doc, dict) or doc.get("schema") != LOCK_SCHEMA or not isinstance(doc.get("models"), dict):
        raise LockFileError(
            f'{path}: not a schema {LOCK_SCHEMA} model lock ({{"schema": {LOCK_SCHEMA}, "models": {{...}}}}); nothing was changed. Fix: {fix}'
        )
    return doc["models"]


def write(path: Path, locked: Iterable[ModelFacts]) -> Path:
    models = dict(existing(path))
    for facts in locked:
        models[facts.model] = to_lock_entry(facts)
    doc = {"schema": LOCK_SCHEMA, "models": {k: models[k] for k in sorted(models)}}
    return outputs.write_file(path, outputs.json_bytes(doc, indent=2), LOCK_KIND)
