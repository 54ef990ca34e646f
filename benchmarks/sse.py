"""Incremental Server-Sent-Events parser for byte chunks as they arrive from the socket.

Follows the SSE framing rules that matter for LLM servers: ``data:`` lines (one optional space
after the colon) accumulate until a blank line ends the event; comment lines (``: keep-alive``)
and other fields (``event:``, ``id:``, ``retry:``) are ignored; CRLF and LF both end lines.
"""

from __future__ import annotations

# One event (all its data lines plus the line still arriving) this large is not an LLM chunk:
# stop buffering instead of growing forever.  Bounding the line alone is not enough: a server
# can send short data: lines and never the blank line that ends the event.
MAX_EVENT_BYTES = 16 * 1024 * 1024


class SSEError(ValueError):
    pass


class SSEParser:
    __slots__ = ("_buf", "_data", "_size")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._size = 0  # bytes in self._data

    def feed(self, chunk: bytes) -> list[bytes]:
        """Returns the data payloads of the events completed by ``chunk``."""
        buf = self._buf + chunk if self._buf else chunk
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        events: list[bytes] = []
        data = self._data
        size = self._size
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data.clear()
                    size = 0
            elif line.startswith(b"data:"):
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value)
                size += len(value) + 1
            # anything else: comment or a field the OpenAI protocol does not use
        self._size = size
        if size + len(self._buf) > MAX_EVENT_BYTES:
            raise SSEError(f"SSE event larger than {MAX_EVENT_BYTES} bytes without the blank line that ends it")
        return events

    def close(self) -> list[bytes]:
        """Flushes an event the server did not terminate with a blank line."""
        events = self.feed(b"\n\n") if (self._buf or self._data) else []
        self._buf = b""
        return events
