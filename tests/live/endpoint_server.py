"""A loopback stand-in for a deployed endpoint behind its load balancer, for `stacks status --probe`: answers
`GET /v1/models` with an OpenAI model list and `POST /v1/chat/completions` with a one-token completion, as vLLM
does, checking `Authorization: Bearer <key>` when given a key (vLLM answers 401 `{"error": "Unauthorized"}`).
A test scripts other answers per path: (status, JSON body), or HANG, an answer that never comes (until
HANG_SECONDS or `close()`). 127.0.0.1 only; every request is kept in `requests`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer

HANG_SECONDS = 5.0
HANG = "hang"


class EndpointServer(LoopbackServer):
    def __init__(self, served: str, key: str | None = None) -> None:
        self.served = served
        self.key = key
        self.answers: dict[str, Any] = {}  # path -> (status, body) or HANG
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []  # (method, path, headers, JSON body)
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(json.loads(self.rfile.read(length) or b"null"))

            def _answer(self, body: Any) -> None:
                server.requests.append((self.command, self.path, dict(self.headers), body))
                scripted = server.answers.get(self.path)
                if scripted == HANG:
                    server.released.wait(HANG_SECONDS)
                    return
                if scripted is not None:
                    return self._send(*scripted)
                if server.key is not None and self.headers.get("Authorization") != f"Bearer {server.key}":
                    return self._send(401, {"error": "Unauthorized"})
                if self.command == "GET" and self.path == "/v1/models":
                    return self._send(
                        200, {"object": "list", "data": [{"id": server.served, "object": "model", "owned_by": "vllm"}]}
                    )
                if self.command == "POST" and self.path in ("/v1/chat/completions", "/v1/completions"):
                    if (body or {}).get("model") != server.served:
                        return self._send(
                            404,
                            {
                                "error": {
                                    "message": f"The model `{(body or {}).get('model')}` does not exist.",
                                    "type": "NotFoundError",
                                    "code": 404,
                                }
                            },
                        )
                    return self._send(
                        200,
                        {
                            "object": "chat.completion",
                            "model": server.served,
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": "Hi"},
                                    "finish_reason": "length",
                                }
                            ],
                            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
                        },
                    )
                self._send(404, {"detail": "Not Found"})

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up at its deadline
                    pass

        self._serve(Handler)
