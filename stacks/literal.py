"""Console lines whose data prints literally: Rich styles only the fixed label, never the data.

User data and server text (namespaces, names, values, messages with regexes like `[a-z0-9]`) go
into `Text` as plain strings, so a `[/x]` in them prints as written instead of raising MarkupError.
The data is scrubbed of the secrets the run knows first (benchmarks/secrets.py).

Rule IDs (`[G22]`, `[O5]`) in a line link to their section of docs/guardrails.md where the terminal
shows links, and each run ends with one footer line naming where every rule it printed is described.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text

from benchmarks.secrets import scrub
from components.rules import catalog

GUARDRAILS = Path(__file__).resolve().parent.parent / "docs" / "guardrails.md"
_RULE = re.compile(r"\[([A-Z][0-9]{1,2})\]")
_printed: set[str] = set()  # rule IDs printed in this run, for the footer


def labelled(label: str, style: str, message: Any, indent: str = "") -> Text:
    """`indent` + `label` in `style`, a space, then `message` exactly as given."""
    return linked(Text.assemble(indent, (label, style), " ", scrub(str(message))))


def plain(message: Any, style: str = "") -> Text:
    return linked(Text(scrub(str(message)), style=style))


def linked(text: Text) -> Text:
    """Each catalogue rule ID in brackets becomes a link to its section (the text stays the same) and is
    noted for `rules_footer`. Terminals without hyperlinks, and output to a file or pipe, show plain text."""
    for m in _RULE.finditer(text.plain):
        if note_rules(m.group(0)):
            text.stylize(Style(link=f"{GUARDRAILS.as_uri()}#{m.group(1).lower()}"), m.start(1), m.end(1))
    return text


def note_rules(line: str) -> list[str]:
    """The catalogue rule IDs in brackets in `line`, noted for `rules_footer` (`[CONFIG]` and the like are no rules)."""
    rules = [r for r in dict.fromkeys(_RULE.findall(line)) if r in catalog.BY_ID]
    _printed.update(rules)
    return rules


def guardrails_path() -> str:
    """docs/guardrails.md as the user can open it: relative to the working directory when inside it."""
    relative = os.path.relpath(GUARDRAILS)
    return str(GUARDRAILS) if relative.startswith("..") else relative


def rules_footer() -> str | None:
    """The one footer line of a run that printed rule IDs, in catalogue order; forgets them."""
    rules = [r.id for r in catalog.RULES if r.id in _printed]
    _printed.clear()
    if not rules:
        return None
    return f"Rules: {guardrails_path()}#<id> for each rule above ({', '.join(rules)})"


def forget_rules() -> None:
    _printed.clear()


REPEATS_SHOWN = 3  # places listed for one repeated message; `--all` lists every one


class Repeats:
    """Counts a message repeated across places: `show(message)` is False past the first REPEATS_SHOWN
    places (always True with `show_all`); `counts()` then words one line per message for the rest."""

    def __init__(self, show_all: bool = False):
        self.show_all = show_all
        self.seen: dict[str, int] = {}

    def show(self, message: str) -> bool:
        self.seen[message] = self.seen.get(message, 0) + 1
        return self.show_all or self.seen[message] <= REPEATS_SHOWN

    def counts(self, places: str = "place(s)") -> list[str]:
        return [
            f"... and {n - REPEATS_SHOWN} more {places} with: {message} (--all lists each)"
            for message, n in self.seen.items()
            if not self.show_all and n > REPEATS_SHOWN
        ]
