"""A loopback stand-in for the Hugging Face Hub: the two routes huggingface_hub asks for a model
(`/api/models/<id>[/revision/<rev>]` and `/<id>/resolve/<rev>/<file>`, byte ranges included), answering
errors with the `X-Error-Code` header the hub sets (GatedRepo, RepoNotFound, RevisionNotFound,
EntryNotFound), which huggingface_hub maps to its error classes
(huggingface/huggingface_hub@v2.4.0 src/huggingface_hub/utils/_http.py hf_raise_for_status)."""

from __future__ import annotations

import json
import re
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer


@dataclass
class Repo:
    sha: str
    files: dict[str, bytes]
    gated: Any = False  # False, "auto" or "manual", as the hub's model info says
    readers: tuple[str, ...] = ()  # tokens that accepted a gated model's terms
    other_revisions: tuple[str, ...] = ()


def safetensors_file(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    """A safetensors file's bytes with zero-filled data: 8-byte header length, JSON header, data."""
    sizes = {"BF16": 2, "F16": 2, "F32": 4, "I32": 4}
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"\0" * offset


@dataclass
class HubServer(LoopbackServer):
    repos: dict[str, Repo] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)  # paths answered only when the test ends
    garbled: set[str] = field(default_factory=set)  # paths answered 200 with a body that is not JSON
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)

    def __post_init__(self) -> None:
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, code: str) -> None:
                self._send(
                    status,
                    json.dumps({"error": code}).encode(),
                    {"X-Error-Code": code, "Content-Type": "application/json"},
                )

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                token = self.headers.get("Authorization")
                server.requests.append((path, token))
                if path in server.hang:
                    server.released.wait(30)
                    return
                if path in server.garbled:
                    return self._send(200, b"<html>proxy login</html>", {"Content-Type": "application/json"})
                info = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
                if info:
                    return self._info(info[1], info[2])
                resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if resolve:
                    return self._file(resolve[1], resolve[2], resolve[3], token)
                self._send(404, b"not found")

            def _info(self, repo_id: str, revision: str | None) -> None:
                repo = server.repos.get(repo_id)
                if repo is None:
                    return self._error(401 if self.headers.get("Authorization") is None else 404, "RepoNotFound")
                if revision is not None and revision not in (repo.sha, "main", *repo.other_revisions):
                    return self._error(404, "RevisionNotFound")
                body = {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": repo.sha if revision in (None, "main") else revision,
                    "gated": repo.gated,
                    "private": False,
                    "siblings": [{"rfilename": f} for f in sorted(repo.files)],
                }
                self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

            def _file(self, repo_id: str, revision: str, name: str, token: str | None) -> None:
                repo = server.repos.get(repo_id)
                if repo is None:
                    return self._error(401 if token is None else 404, "RepoNotFound")
                if revision not in (repo.sha, "main", *repo.other_revisions):
                    return self._error(404, "RevisionNotFound")
                if repo.gated and (token or "").removeprefix("Bearer ") not in repo.readers:
                    return self._error(401 if token is None else 403, "GatedRepo")
                if name not in repo.files:
                    return self._error(404, "EntryNotFound")
                data = repo.files[name]
                wanted = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range") or "")
                if wanted:
                    start, end = int(wanted[1]), int(wanted[2])
                    return self._send(206, data[start : end + 1], {"Content-Range": f"bytes {start}-{end}/{len(data)}"})
                self._send(200, data)

        self._serve(Handler)
