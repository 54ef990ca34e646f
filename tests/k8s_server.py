"""The one loopback stand-in for the Kubernetes API server (components/kube_reader.py's tests):
answers exactly the GET paths a test scripts, object paths and list paths alike, each with a
sequence of (HTTP status, JSON body); the last answer repeats, an unscripted path is 404. POST and DELETE
are recorded in `writes` and answered 201 with the object / 200 (or as scripted under "POST <path>"). Requests
without the kubeconfig's bearer token get 401. Hostile answers: `HANG` (nothing), `DRIP` (a whole
answer, one byte every `drip_interval` seconds, from the status line on: every socket read gets
data, so only a wall-clock deadline ends the wait) and `Raw(bytes)` (a 200 body sent as given).
Tests take it as the `kube_api` fixture (conftest). Bounded: 127.0.0.1 only, a handler that hangs
waits at most `HANG_SECONDS`, a drip stops at `close()`, and `close()` releases both."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer

HANG_SECONDS = 3.0
HANG = "hang"  # an answer that never comes (until HANG_SECONDS)
DRIP = "drip"  # an answer sent one byte at a time (`drip_interval` apart) until close()


class Raw(bytes):
    """A 200 answer whose body is these bytes as given (deep JSON, not JSON at all)."""


IEC = "/apis/inference.sagemaker.aws.amazon.com/v1/namespaces/{ns}/inferenceendpointconfigs/{name}"
DEPLOYMENT = "/apis/apps/v1/namespaces/{ns}/deployments/{name}"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{ns}/deployments"
KSERVE_ISVC = "/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/{name}"
OME_ISVC = "/apis/ome.io/v1beta1/namespaces/{ns}/inferenceservices/{name}"
INGRESS = "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}"
INGRESSES = "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"
SERVICES = "/api/v1/namespaces/{ns}/services"
HPA = "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}"
JOBS = "/apis/batch/v1/namespaces/{ns}/jobs"
JOB_STATUS = "/apis/batch/v1/namespaces/{ns}/jobs/{name}/status"
CONFIGMAPS = "/api/v1/namespaces/{ns}/configmaps"
PODS = "/api/v1/namespaces/{ns}/pods"
POD_LOG = "/api/v1/namespaces/{ns}/pods/{name}/log"
TOKEN = "loopback-token"


class K8sServer(LoopbackServer):
    def __init__(self) -> None:
        self.routes: dict[str, list[Any]] = {}
        self.hits: dict[str, int] = {}
        self.authorizations: list[str | None] = []
        self.auth_status: int | None = None  # 401 / 403 for every request when set
        self.writes: list[tuple[str, str, Any]] = []  # (POST or DELETE, path, JSON body) in order
        self.drip_interval = 1.0  # seconds between the bytes of a DRIP answer
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                server.authorizations.append(self.headers.get("Authorization"))
                if server.auth_status or self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    code = server.auth_status or 401
                    return self._send(
                        code, {"kind": "Status", "code": code, "reason": "Forbidden" if code == 403 else "Unauthorized"}
                    )
                answers = server.routes.get(path)
                if not answers:
                    return self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer == HANG:
                    server.released.wait(HANG_SECONDS)
                    return None
                if answer == DRIP:
                    return self._drip()
                if isinstance(answer, Raw):
                    return self._send(200, answer)
                code, body = answer
                self._send(code, body)

            def do_POST(
                self,
            ) -> None:  # creates: recorded, answered 201 with the object (or as scripted for "POST <path>")
                self._write("POST")

            def do_DELETE(self) -> None:
                self._write("DELETE")

            def _write(self, verb: str) -> None:
                path = self.path.split("?")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.writes.append((verb, path, json.loads(body) if body else None))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
                answers = server.routes.get(f"{verb} {path}")
                if answers:
                    code, answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    return self._send(code, answer)
                self._send(
                    201 if verb == "POST" else 200,
                    json.loads(body) if verb == "POST" and body else {"kind": "Status", "status": "Success"},
                )

            def _drip(self) -> None:
                body = json.dumps({"kind": "Status", "code": 200}).encode()
                whole = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(body),
                    body,
                )
                try:
                    for i in range(len(whole)):
                        if server.released.wait(server.drip_interval):
                            return
                        self.wfile.write(whole[i : i + 1])
                except OSError:  # the client gave up (the deadline test)
                    pass

            def _send(self, code: int, body: Any) -> None:
                data = body if isinstance(body, Raw) else json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout test)
                    pass

        self._serve(Handler)

    def kubeconfig(self, token: str = TOKEN) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "loopback", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": token}}],
            "contexts": [{"name": "loopback", "context": {"cluster": "loopback", "user": "tester"}}],
            "current-context": "loopback",
        }

    def answer(self, path: str, *answers: Any) -> None:
        """Each answer: (status, body), a body (200), HANG, DRIP or Raw(bytes)."""
        self.routes[path] = [a if a in (HANG, DRIP) or isinstance(a, (tuple, Raw)) else (200, a) for a in answers]

    def answer_lists(self, path: str, *item_lists: list[dict[str, Any]]) -> None:
        """A list path: each answer is the `items` of one List document."""
        self.answer(path, *({"kind": "List", "apiVersion": "v1", "items": items} for items in item_lists))


class FakeClock:
    """time.monotonic and time.sleep for bounded waits, without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# Status documents shaped like the CRD status schemas (checked against them in test_live_reader).
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def iec(
    state: str | None, ready: int = 0, message: str = "", conditions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "deploymentStatus": {
            "name": "llama",
            "lastUpdated": T1,
            "message": message,
            "status": {"replicas": 1, "readyReplicas": ready, "availableReplicas": ready},
        },
        "replicas": 1,
        "conditions": conditions or [],
    }
    if state:
        status["state"] = state
    return {
        "apiVersion": "inference.sagemaker.aws.amazon.com/v1",
        "kind": "InferenceEndpointConfig",
        "metadata": {"name": "llama", "namespace": "inference"},
        "status": status,
    }


def condition(type_: str, status: str, reason: str, message: str, when: str = T1) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": when}


def isvc(
    api_version: str,
    ready: str,
    message: str = "",
    transition: str | None = None,
    failure: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [
            {
                "type": "Ready",
                "status": ready,
                "reason": "ComponentNotReady" if ready != "True" else "Ready",
                "message": message,
                "lastTransitionTime": T1,
            }
        ]
    }
    if transition:
        status["modelStatus"] = {"transitionStatus": transition, **({"lastFailureInfo": failure} if failure else {})}
    return {"apiVersion": api_version, "kind": "InferenceService", "metadata": {"name": "qwen"}, "status": status}


def llmisvc(api_version: str, ready: str, reason: str = "", message: str = "") -> dict[str, Any]:
    """An LLMInferenceService's status: its Ready and MainWorkloadReady conditions and its URL (the CRD's status schema,
    checked in tests/backends/test_llmisvc_backend.py)."""
    conditions = [
        condition("Ready", ready, reason or "Ready", message),
        condition("MainWorkloadReady", ready, reason or "Ready", message),
    ]
    return {
        "apiVersion": api_version,
        "kind": "LLMInferenceService",
        "metadata": {"name": "qwen"},
        "status": {"conditions": conditions, "url": "http://qwen-kserve-workload-svc.inference.svc.cluster.local:8000"},
    }


def deployment(
    available: str, progressing: str, reason: str, message: str, ready: int, replicas: int = 2
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "qwen"},
        "spec": {"replicas": replicas},
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastTransitionTime": T0,
                },
                {
                    "type": "Progressing",
                    "status": progressing,
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": T1,
                },
            ],
        },
    }


def ingress(hostname: str | None) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "alb-llama"},
        "status": {"loadBalancer": {"ingress": [{"hostname": hostname}] if hostname else []}},
    }


def hpa(active: str, reason: str, message: str) -> dict[str, Any]:
    """An autoscaling/v2 HorizontalPodAutoscaler status with the controller's AbleToScale and ScalingActive conditions."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "qwen"},
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "reason": "SucceededGetScale",
                    "message": "the HPA controller was able to get the target's current scale",
                    "lastTransitionTime": T0,
                },
                {
                    "type": "ScalingActive",
                    "status": active,
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": T1,
                },
            ],
        },
    }
