"""Incremental Server-Sent-Events parser for byte chunks as they arrive from the socket.

Follows the SSE framing rules that matter for LLM servers: ``data:`` lines (one optional space
after the colon) accumulate until a blank line ends the event; comment lines (``: keep-alive``)
and other fields (``event:``, ``id:``, ``retry:``) are ignored; CRLF and LF both end lines.
"""

from __future__ import annotations

# A line this long without a newline is not SSE; stop buffering instead of growing forever.
MAX_LINE_BYTES = 16 * 1024 * 1024


class SSEError(ValueError):
    pass


class SSEParser:
    __slots__ = ("_buf", "_data")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """Returns the data payloads of the events completed by ``chunk``."""
        buf = self._buf + chunk if self._buf else chunk
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > MAX_LINE_BYTES:
            raise SSEError(f"SSE line longer than {MAX_LINE_BYTES} bytes without a newline")
        events: list[bytes] = []
        data = self._data
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data.clear()
            elif line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            # anything else: comment or a field the OpenAI protocol does not use
        return events

    def close(self) -> list[bytes]:
        """Flushes an event the server did not terminate with a blank line."""
        events = self.feed(b"\n\n") if (self._buf or self._data) else []
        self._buf = b""
        return events
