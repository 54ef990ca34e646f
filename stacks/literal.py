"""Console lines whose data prints literally: Rich styles only the fixed label, never the data.

User data and server text (namespaces, names, values, messages with regexes like `[a-z0-9]`) go
into `Text` as plain strings, so a `[/x]` in them prints as written instead of raising MarkupError.
The data is scrubbed of the secrets the run knows first (benchmarks/secrets.py).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from benchmarks.secrets import scrub


def labelled(label: str, style: str, message: Any, indent: str = "") -> Text:
    """`indent` + `label` in `style`, a space, then `message` exactly as given."""
    return Text.assemble(indent, (label, style), " ", scrub(str(message)))


def plain(message: Any, style: str = "") -> Text:
    return Text(scrub(str(message)), style=style)
