"""`crds` and `charts`: a local cache of pinned upstream files, `where` it is and `fetch` to fill it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .base import Args

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class CacheArgs(Args):
    action: Literal["fetch", "where"] = "where"
    FETCH_HELP: ClassVar[str] = "download the pinned files"  # each command's own wording of `fetch`

    @classmethod
    def add_cli_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "action", choices=["fetch", "where"], help=f"fetch: {cls.FETCH_HELP}; where: show which directory is used"
        )


def pinned_command(
    console: Console,
    action: str,
    find: Callable[[], Any],
    env_var: str,
    fetch: Callable[[], Any],
    what: str,
    noun: str,
    cache: Path,
) -> int:
    """`where` shows the folder in use; `fetch` fills the cache unless CI hands one in.
    `what` is the subject with its verb, e.g. "CRD schemas come"."""
    from ..literal import plain
    from ..pinned import FetchError

    directory, origin = find()
    if action == "where":
        console.print(plain(f"{directory or '-'} ({origin})"), soft_wrap=True)
        return 0 if directory else 1
    if directory is not None and origin == f"${env_var}":
        console.print(plain(f"{what} from {directory} ({origin}); nothing to fetch"))
        return 0
    try:
        written = fetch()
    except FetchError as exc:
        console.print(plain(str(exc)), soft_wrap=True)
        return 1
    console.print(plain(f"{len(written)} {noun} file(s) written to {cache}"))
    return 0
