"""One safe YAML loader for every file the project reads: stack files, grids, manifests, capacity files.

Files come through the one reader (benchmarks/inputs.py): regular files only, a byte limit, strict
UTF-8, and a nesting depth checked before PyYAML's C composer (which recurses per level and crashes
the process on 30,000 nested `[`) builds anything. PyYAML's safe loader still keeps the last of two
equal keys without a word and expands an alias bomb ("billion laughs") into a structure whose walk
never ends. Here each of those is a `YamlInputError` that names the file, the line and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from benchmarks import inputs

MAX_BYTES = 32 * 1024 * 1024  # the largest upstream CRD is 2.7 MB; a stack file or grid is kilobytes
# Nodes after expanding every alias: far above any stack file or grid (hundreds to thousands),
# far below what a nested alias bomb expands to (10^9 for 9 levels of 10).
MAX_EXPANDED_NODES = 1_000_000

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlInputError(ValueError):
    """A file that is not the YAML it should be: one line with the file, the place and the fix."""


class _UniqueKeyLoader(_Base):  # type: ignore[misc, valid-type]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` overrides are what merge keys are for
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base constructor reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {first.line + 1}); YAML keeps only the last, so one "
                    f"of them would be dropped silently",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _expanded_size(value: Any, budget: int, sizes: dict[int, int], active: set[int]) -> int:
    """Nodes in `value` counting every alias at each place it is used; stops past `budget`."""
    if not isinstance(value, (dict, list)):
        return 1
    key = id(value)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise YamlInputError("a recursive alias (an anchor used inside itself)")
    active.add(key)
    total = 1
    children = (*value.keys(), *value.values()) if isinstance(value, dict) else value
    for child in children:
        total += _expanded_size(child, budget, sizes, active)
        if total > budget:
            break
    active.discard(key)
    sizes[key] = total
    return total


def _text(path: Path, max_bytes: int) -> str:
    try:
        return inputs.read_text(
            path, max_bytes=max_bytes, what="YAML input", fix="pass the YAML file itself", syntax="yaml"
        )
    except inputs.InputError as exc:
        raise YamlInputError(str(exc)) from None


def _describe(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f": line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{source}{where}: not valid YAML: {problem}"


def load_all_text(text: str, source: str, *, max_nodes: int = MAX_EXPANDED_NODES) -> Iterator[Any]:
    """Every document in `text`, each checked for duplicate keys and bounded in depth and expanded size."""
    try:
        inputs.check_depth(text, "yaml", source)
    except inputs.InputError as exc:
        raise YamlInputError(str(exc)) from None
    return _documents(text, source, max_nodes)


def _documents(text: str, source: str, max_nodes: int) -> Iterator[Any]:
    loader = _UniqueKeyLoader(text)
    try:
        while loader.check_data():
            doc = loader.get_data()
            if _expanded_size(doc, max_nodes, {}, set()) > max_nodes:
                raise YamlInputError(
                    f"{source}: expands to more than {max_nodes:,} nodes through aliases (an alias bomb?); "
                    f"Fix: write the values out instead of nesting anchors"
                )
            yield doc
    except yaml.YAMLError as exc:
        raise YamlInputError(_describe(exc, source)) from None
    except RecursionError:
        raise YamlInputError(f"{source}: nested too deeply to read; Fix: flatten the structure") from None
    except YamlInputError as exc:
        if str(exc).startswith(source):
            raise
        raise YamlInputError(f"{source}: {exc}") from None
    finally:
        loader.dispose()


def load_text(text: str, source: str, *, max_nodes: int = MAX_EXPANDED_NODES) -> Any:
    """The single document in `text` (None for an empty one)."""
    return _single(list(load_all_text(text, source, max_nodes=max_nodes)), source)


def _single(docs: list[Any], source: str) -> Any:
    if len(docs) > 1:
        raise YamlInputError(
            f"{source}: {len(docs)} YAML documents where one was expected; Fix: remove the extra `---`"
        )
    return docs[0] if docs else None


def load_file(path: Path, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_EXPANDED_NODES) -> Any:
    path = Path(path)
    return _single(list(_documents(_text(path, max_bytes), str(path), max_nodes)), str(path))


def load_all_file(path: Path, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_EXPANDED_NODES) -> list[Any]:
    path = Path(path)
    return list(_documents(_text(path, max_bytes), str(path), max_nodes))
