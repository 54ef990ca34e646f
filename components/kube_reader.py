"""The one live-cluster reader: the official `kubernetes` client built from a stack's `kubeconfig`
(the EKS component exports it as JSON text or a map). Used by the dynamic resources (ingress drain
guard, router Service lookup) and by stacks/live (status, tuning waits).

Every read returns the object (or a list's `items`) as plain dicts shaped like the API's JSON, is
bounded by `timeout` of wall-clock time for the whole answer (the client's `_request_timeout` bounds
each socket read only, so a server sending a byte a second would never trip it), is tried once (no
urllib3 retries), reads at most `MAX_ANSWER_BYTES` and `inputs.MAX_DEPTH` levels of JSON, and names
its errors: 404 is "not created yet" (None, or no items), 401/403 is LiveError naming the kubeconfig,
a hang, a drip-fed or dropped answer is Unreachable. The client is imported on first use: only reads
against a cluster need it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml

from benchmarks import inputs

DEFAULT_TIMEOUT = 10.0  # seconds per request: the API server answers a GET in well under a second
DEFAULT_SOURCE = "the `kubeconfig` stack output"
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # one object or one namespace's list; a list this large is not ours


class LiveError(Exception):
    """The cluster cannot be read at all (bad kubeconfig, no permission): waiting will not help."""


class Unreachable(Exception):
    """The API server did not answer in time or dropped the connection: worth another poll.
    `timed_out`: the deadline passed (a caller reading many objects need not ask again)."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def parse_kubeconfig(value: Any, source: str = DEFAULT_SOURCE) -> dict[str, Any]:
    """The `kubeconfig` output as a dict: JSON text, YAML text or a map."""
    if isinstance(value, str):
        try:
            inputs.check_depth(value, "yaml", source, "pass the stack's `kubeconfig` output")
            value = yaml.safe_load(value)  # YAML is a superset of JSON
        except inputs.InputError as exc:
            raise LiveError(str(exc)) from None
        except yaml.YAMLError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LiveError(
                f"{source} is not a kubeconfig document ({reason}); Fix: pass the stack's `kubeconfig` output"
            ) from None
    if not isinstance(value, dict) or not value.get("clusters"):
        raise LiveError(f"{source} has no `clusters`; Fix: pass the stack's `kubeconfig` output (a kubeconfig map)")
    return value


class KubeReader:
    """Single-object reads (the live reader) and namespace lists (the dynamic resources)."""

    def __init__(self, kubeconfig: Any, source: str = DEFAULT_SOURCE, timeout: float = DEFAULT_TIMEOUT):
        from kubernetes import client, config  # imported here: only reads against a cluster need it
        from kubernetes.config.config_exception import ConfigException

        self.source = source
        self.timeout = timeout
        configuration = client.Configuration()
        configuration.retries = False  # one attempt per poll: urllib3's 3 retries would quadruple a hang
        try:
            self.api = config.new_client_from_config_dict(
                parse_kubeconfig(kubeconfig, source), client_configuration=configuration, persist_config=False
            )
        except ConfigException as exc:
            raise LiveError(f"{source}: {exc}; Fix: pass the stack's `kubeconfig` output") from None
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.networking = client.NetworkingV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.autoscaling = client.AutoscalingV2Api(self.api)

    def __enter__(self) -> KubeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.api.close()

    # Single objects: None while not created (404).
    def custom_object(self, group: str, version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read(
            f"{plural}.{group} {namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            name,
        )

    def deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read(f"Deployment {namespace}/{name}", self.apps.read_namespaced_deployment, name, namespace)

    def ingress(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read(f"Ingress {namespace}/{name}", self.networking.read_namespaced_ingress, name, namespace)

    def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read(f"Service {namespace}/{name}", self.core.read_namespaced_service, name, namespace)

    def hpa(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read(
            f"HorizontalPodAutoscaler {namespace}/{name}",
            self.autoscaling.read_namespaced_horizontal_pod_autoscaler,
            name,
            namespace,
        )

    # Lists: the `items` (none on 404).
    def ingresses(self, namespace: str) -> list[Mapping[str, Any]]:
        return _items(self._read(f"Ingresses in {namespace}", self.networking.list_namespaced_ingress, namespace))

    def services(self, namespace: str) -> list[Mapping[str, Any]]:
        return _items(self._read(f"Services in {namespace}", self.core.list_namespaced_service, namespace))

    def deployments(self, namespace: str) -> list[Mapping[str, Any]]:
        return _items(self._read(f"Deployments in {namespace}", self.apps.list_namespaced_deployment, namespace))

    def _read(self, what: str, call: Callable[..., Any], *args: Any, raw: bool = False, **kwargs: Any) -> Any:
        """The answer as JSON (None on 404); `raw`: its bytes as given (a pod's log). `kwargs` go to `call`."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        def answer() -> bytes:
            # The raw JSON, as `kubectl get -o json` shows it (typed models would rename every field).
            response = call(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            try:
                return inputs.read_capped(response.read, MAX_ANSWER_BYTES, f"reading {what}")
            finally:
                response.release_conn()

        try:
            body = inputs.within(self.timeout, answer, f"reading {what}")
            if raw:
                return body
            return inputs.loads_json(body.decode("utf-8"), f"reading {what}", "check the API server")
        except inputs.DeadlineExceeded:
            raise Unreachable(
                f"reading {what}: the API server did not answer within {self.timeout:g} s (no complete answer by then)",
                timed_out=True,
            ) from None
        except inputs.InputError as exc:  # too large, too deep, not JSON: one line, the fix is the server's
            raise Unreachable(str(exc).split("; Fix: ")[0]) from None
        except UnicodeDecodeError:
            raise Unreachable(f"reading {what}: the API server's answer is not UTF-8 JSON") from None
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise LiveError(
                    f"the API server refused to read {what} (HTTP {exc.status} {exc.reason}) with {self.source}; "
                    "Fix: use a kubeconfig whose identity may read it (EKS access entry or RBAC)"
                ) from None
            raise Unreachable(f"reading {what}: HTTP {exc.status} {exc.reason}") from None
        except ValueError:
            raise Unreachable(f"reading {what}: the API server's answer is not JSON") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(
                f"reading {what}: the API server did not answer within {self.timeout:g} s ({type(exc).__name__})"
            ) from None


def _items(listing: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list((listing or {}).get("items") or [])
