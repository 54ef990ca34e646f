"""A Kubernetes API client from a stack's `kubeconfig` output, with each read bounded and its errors
named: 404 is "not created yet" (None), 401/403 names the kubeconfig, a hang ends at the timeout."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .. import yamlio

DEFAULT_TIMEOUT = 10.0  # seconds per request: the API server answers a GET in well under a second


class LiveError(Exception):
    """The cluster cannot be read at all (bad kubeconfig, no permission): waiting will not help."""


class Unreachable(Exception):
    """The API server did not answer in time or dropped the connection: worth another poll."""


def parse_kubeconfig(value: Any, source: str) -> dict[str, Any]:
    """The `kubeconfig` output as a dict: the EKS component exports it as JSON text or a map."""
    if isinstance(value, str):
        try:
            value = yamlio.load_text(value, source)  # YAML is a superset of JSON
        except yamlio.YamlInputError as exc:
            raise LiveError(f"{source} is not a kubeconfig document ({exc}); Fix: pass the stack's `kubeconfig` output") from None
    if not isinstance(value, dict) or not value.get("clusters"):
        raise LiveError(f"{source} has no `clusters`; Fix: pass the stack's `kubeconfig` output (a kubeconfig map)")
    return value


class Kube:
    """The few reads the live reader needs, each as a plain dict of the object as the API serves it."""

    def __init__(self, kubeconfig: Any, source: str = "the `kubeconfig` stack output", timeout: float = DEFAULT_TIMEOUT):
        self.source = source
        self.timeout = timeout
        configuration = client.Configuration()
        configuration.retries = False  # one attempt per poll: urllib3's 3 retries would quadruple a hang
        try:
            self.api = config.new_client_from_config_dict(parse_kubeconfig(kubeconfig, source), client_configuration=configuration, persist_config=False)
        except ConfigException as exc:
            raise LiveError(f"{source}: {exc}; Fix: pass the stack's `kubeconfig` output") from None
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.networking = client.NetworkingV1Api(self.api)
        self.core = client.CoreV1Api(self.api)

    def __enter__(self) -> "Kube":
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.close()

    def custom_object(self, group: str, version: str, plural: str, namespace: str, name: str) -> Optional[dict[str, Any]]:
        return self._read(f"{plural}.{group} {namespace}/{name}", self.custom.get_namespaced_custom_object, group, version, namespace, plural, name)

    def deployment(self, namespace: str, name: str) -> Optional[dict[str, Any]]:
        return self._read(f"Deployment {namespace}/{name}", self.apps.read_namespaced_deployment, name, namespace)

    def ingress(self, namespace: str, name: str) -> Optional[dict[str, Any]]:
        return self._read(f"Ingress {namespace}/{name}", self.networking.read_namespaced_ingress, name, namespace)

    def service(self, namespace: str, name: str) -> Optional[dict[str, Any]]:
        return self._read(f"Service {namespace}/{name}", self.core.read_namespaced_service, name, namespace)

    def _read(self, what: str, call: Callable[..., Any], *args: Any) -> Optional[dict[str, Any]]:
        try:
            # The raw JSON, as `kubectl get -o json` shows it (typed models would rename every field).
            response = call(*args, _preload_content=False, _request_timeout=self.timeout)
            return json.loads(response.data)
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
            raise Unreachable(f"reading {what}: the API server did not answer within {self.timeout:g} s ({type(exc).__name__})") from None
