"""Where each part of a stack's config is written, for the path a problem names.

A stack file holds `endpoints[i]`, `cluster`, `platform` and `gateway`. A tuning grid writes its one
endpoint as `base` and takes the cluster and platform from its base stack's file, so the same rule
names `base.engineArgs.maxNumSeqs` or `Pulumi.dev.yaml:platform.ingress...` there. Validators build
their paths from a `ConfigPaths` handed down, never by rewriting another's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigPaths:
    endpoints: str = "endpoints"
    indexed: bool = True  # False: one endpoint written as a map (a grid's `base`), no `[i]`
    cluster: str = "cluster"
    platform: str = "platform"
    gateway: str = "gateway"

    def endpoint(self, i: int) -> str:
        return f"{self.endpoints}[{i}]" if self.indexed else self.endpoints

    @classmethod
    def in_file(cls, file: str, endpoints: str = "endpoints", indexed: bool = True) -> ConfigPaths:
        """The stack-level keys in another file (`Pulumi.dev.yaml:platform`), the endpoints where they are."""
        return cls(endpoints, indexed, f"{file}:cluster", f"{file}:platform", f"{file}:gateway")


STACK_FILE = ConfigPaths()
