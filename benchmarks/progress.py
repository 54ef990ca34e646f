"""The progress display run_benchmark drives: the protocol a display implements (report.ProgressBar is the rich
one) and the adapter the runner calls per request."""

from __future__ import annotations

from typing import Protocol


class ProgressUI(Protocol):
    """What run_benchmark calls on a progress display (report.ProgressBar)."""

    def start_level(self, label: str, total: int) -> None: ...
    def advance(self) -> None: ...
    def end_level(self) -> None: ...


class _Progress:
    """Adapts an optional progress object with ``start_level(label, total)``, ``advance()``
    and ``end_level()`` to the runner's per-request callback."""

    def __init__(self, ui: ProgressUI | None) -> None:
        self.ui = ui

    def request_done(self, record) -> None:
        if self.ui is not None:
            self.ui.advance()
