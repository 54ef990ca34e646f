"""Writes and reads for the in-cluster load Job (stacks/tuning/incluster.py), on the one live-cluster reader's
conventions (components/kube_reader.py): the official client from the stack's kubeconfig, every call bounded
by wall-clock time and answer size, tried once, errors named (LiveError: waiting will not help; Unreachable:
worth another poll). Creates take the object as a plain dict, as the rule library renders it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .kube_reader import DEFAULT_SOURCE, DEFAULT_TIMEOUT, MAX_ANSWER_BYTES, KubeReader, LiveError, _items

MAX_LOG_BYTES = (
    MAX_ANSWER_BYTES  # one pod's log (its records, gzip and base64): the kubelet rotates at 10 MiB by default
)


class KubeJobs(KubeReader):
    def __init__(self, kubeconfig: Any, source: str = DEFAULT_SOURCE, timeout: float = DEFAULT_TIMEOUT):
        super().__init__(kubeconfig, source, timeout)
        from kubernetes import client

        self.batch = client.BatchV1Api(self.api)

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create a ConfigMap or Job; LiveError if it exists already (a name is used once) or may not be created."""
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        ns, name = meta.get("namespace"), meta.get("name")
        calls = {"ConfigMap": self.core.create_namespaced_config_map, "Job": self.batch.create_namespaced_job}
        if kind not in calls:
            raise LiveError(f"{kind}: not a kind this writer creates")
        created = self._read(f"{kind} {ns}/{name} (create)", calls[kind], ns, dict(obj))
        if created is None:  # 404 on create: the namespace is gone
            raise LiveError(
                f"cannot create {kind} {ns}/{name}: namespace {ns} not found; Fix: deploy the endpoint first"
            )
        return created

    def job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read(f"Job {namespace}/{name}", self.batch.read_namespaced_job_status, name, namespace)

    def pods(self, namespace: str, selector: str) -> list[Mapping[str, Any]]:
        return _items(
            self._read(
                f"Pods {selector} in {namespace}", self.core.list_namespaced_pod, namespace, label_selector=selector
            )
        )

    def pod_log(self, namespace: str, name: str, container: str) -> str | None:
        """The container's whole log (what the kubelet still holds: a rotated part is gone), or None if the pod is."""
        body = self._read(
            f"log of Pod {namespace}/{name}",
            self.core.read_namespaced_pod_log,
            name,
            namespace,
            raw=True,
            container=container,
            limit_bytes=MAX_LOG_BYTES,
        )
        return None if body is None else body.decode("utf-8", "replace")

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete a Job (with its pods: Background propagation) or a ConfigMap; gone already is fine."""
        calls = {"ConfigMap": self.core.delete_namespaced_config_map, "Job": self.batch.delete_namespaced_job}
        self._read(f"{kind} {namespace}/{name} (delete)", calls[kind], name, namespace, propagation_policy="Background")
