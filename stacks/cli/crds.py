"""`python -m stacks crds`: the local cache of upstream CRD schemas (stacks/schemas.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .base import Command
from .pinned_cache import CacheArgs, pinned_command

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class CrdsArgs(CacheArgs):
    FETCH_HELP: ClassVar[str] = "download the pinned CRDs"


class CrdsCommand(Command[CrdsArgs]):
    Args = CrdsArgs

    def run(self, args: CrdsArgs, console: Console) -> int:
        from .. import schemas

        return pinned_command(
            console,
            args.action,
            schemas.find_crd_dir,
            schemas.ENV_VAR,
            schemas.fetch_crds,
            "CRD schemas come",
            "CRD",
            schemas.CACHE_DIR,
        )
