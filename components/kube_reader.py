"""The one live-cluster reader of the Pulumi program's dynamic resources (the ingress drain guard,
the router Service check): the official `kubernetes` client built from the stack's kubeconfig. It
only lists; everything it returns is a plain dict shaped like the API's `items`."""

from __future__ import annotations

import json
from typing import Any, Mapping


class KubeReader:
    def __init__(self, kubeconfig: Any):
        from kubernetes import client, config  # imported here: only an `up`/`destroy` against a cluster needs it

        if isinstance(kubeconfig, str):
            import yaml

            kubeconfig = yaml.safe_load(kubeconfig)  # JSON is YAML too
        api_client = config.new_client_from_config_dict(kubeconfig, persist_config=False)
        self._networking = client.NetworkingV1Api(api_client)
        self._core = client.CoreV1Api(api_client)

    def ingresses(self, namespace: str) -> list[Mapping[str, Any]]:
        return _items(self._networking.list_namespaced_ingress(namespace, _preload_content=False, _request_timeout=30))

    def services(self, namespace: str) -> list[Mapping[str, Any]]:
        return _items(self._core.list_namespaced_service(namespace, _preload_content=False, _request_timeout=30))


def _items(response: Any) -> list[Mapping[str, Any]]:
    return list(json.loads(response.data).get("items") or [])
