"""Facts about a model checkpoint that the fit rule needs, and their lock-file entry.

The facts come from the checkpoint's own config.json and file listing (Hugging Face Hub or S3), are
written once to `models.lock.json` at the project root and read from there by the plan, the policy
pack and grid pruning: no rule fetches anything. The lock file:

    {"schema": 1, "models": {"<model id>": {<entry>}}}

An entry holds every field below except `model` (the key), in camelCase.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

LOCK_FILE = "models.lock.json"
LOCK_SCHEMA = 1


@dataclass(frozen=True)
class ModelFacts:
    model: str  # id as in the endpoint's `model:` / modelSource.modelId
    source_url: str  # URL of the config.json it came from
    revision: str | None  # hub commit sha, or the S3 object's ETag
    architecture: str | None  # config.json architectures[0]
    layers: int  # num_hidden_layers
    attention_heads: int
    kv_heads: int  # num_key_value_heads (default attention_heads)
    head_dim: int  # head_dim, else hidden_size // attention_heads
    hidden_size: int
    max_position_embeddings: int | None
    parameters: int  # total parameter count
    dtype: str  # checkpoint dtype: bfloat16, float16, float32
    quantization: str | None  # quantization_config.quant_method (awq, gptq, fp8, ...) or None
    weight_bytes: int  # bytes of the checkpoint's tensors
    gated: bool | None
    locked_at: str  # ISO date


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# (field name, entry key, accepted types, may be null); `model` is the entry's key in the lock
_FIELDS: tuple[tuple[str, str, tuple[type, ...], bool], ...] = tuple(
    (f.name, _camel(f.name), _types, _nullable)
    for f in fields(ModelFacts)
    if f.name != "model"
    for _types, _nullable in [
        {
            "int": ((int,), False),
            "int | None": ((int,), True),
            "str": ((str,), False),
            "str | None": ((str,), True),
            "bool | None": ((bool,), True),
        }[str(f.type)]
    ]
)

_POSITIVE = {"layers", "attention_heads", "kv_heads", "head_dim", "hidden_size", "parameters", "weight_bytes"}
DTYPES = ("bfloat16", "float16", "float32")


class LockEntryError(ValueError):
    """A lock entry that cannot be read; the message names the model and the key."""


def to_lock_entry(facts: ModelFacts) -> dict[str, Any]:
    """The lock-file entry for `facts`: every field but `model`, camelCase keys, in field order."""
    return {key: getattr(facts, name) for name, key, _, _ in _FIELDS}


def from_lock_entry(model: str, entry: Any) -> ModelFacts:
    """ModelFacts from the lock entry of `model`; LockEntryError naming the key on a bad entry."""
    where = f"{LOCK_FILE}: models.{model}"
    if not isinstance(entry, dict):
        raise LockEntryError(
            f"{where} = {entry!r}: must be an object of model facts. Fix: run `python -m stacks models lock` again"
        )
    known = {key for _, key, _, _ in _FIELDS}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise LockEntryError(
            f"{where}.{unknown[0]}: unknown key. Fix: remove it (known keys: {', '.join(sorted(known))})"
        )
    values: dict[str, Any] = {"model": model}
    for name, key, types, nullable in _FIELDS:
        if key not in entry:
            raise LockEntryError(f"{where}.{key}: missing. Fix: run `python -m stacks models lock` again")
        value = entry[key]
        ok = (value is None and nullable) or (
            isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        )
        if ok and name in _POSITIVE and value <= 0:
            ok = False
        if ok and name == "dtype" and value not in DTYPES:
            ok = False
        if not ok:
            want = {"int": "a positive integer", "str": "a string", "bool": "true or false"}[types[0].__name__]
            if name == "dtype":
                want = "one of " + ", ".join(DTYPES)
            raise LockEntryError(
                f"{where}.{key} = {value!r}: must be {want}"
                f"{' or null' if nullable else ''}. Fix: run `python -m stacks models lock` again"
            )
        values[name] = value
    return ModelFacts(**values)
