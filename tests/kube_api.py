"""A loopback HTTP server answering the Kubernetes list paths the program's live readers use
(`/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses`, `/api/v1/namespaces/{ns}/services`), and a
kubeconfig for it. `answers[path]` is a list of item lists: each call pops the next (the last stays)."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


@contextlib.contextmanager
def kube_api(answers: dict[str, list[list[dict]]]) -> Iterator[tuple[dict, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            seen.append(path)
            queue = answers.get(path)
            if queue is None:
                items: list[dict] = []
            else:
                items = queue.pop(0) if len(queue) > 1 else queue[0]
            body = json.dumps({"kind": "List", "apiVersion": "v1", "items": items}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    try:
        yield kubeconfig, seen
    finally:
        server.shutdown()
        server.server_close()


class FakeClock:
    """time.monotonic and time.sleep for bounded waits, without sleeping."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
