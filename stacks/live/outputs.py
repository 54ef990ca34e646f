"""A deployed stack's outputs: `pulumi stack output --json --show-secrets` (the kubeconfig is a
secret), or a JSON file of the same shape that a user or a test passes with `--outputs`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from benchmarks import inputs, secrets

CLI_TIMEOUT = 120.0  # seconds: reading outputs from a remote backend is one request
MAX_BYTES = 16 * 1024 * 1024  # a stack's outputs with its kubeconfig are kilobytes
FIX = "write it with `pulumi stack output --json --show-secrets`"


class OutputsError(Exception):
    """The outputs cannot be read: one line naming the file or command and the fix."""


def read_outputs(stack: str, outputs_file: str | None, project_dir: Path) -> dict[str, Any]:
    if outputs_file:
        return _from_file(Path(outputs_file))
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise OutputsError(
            "the `pulumi` CLI is not on PATH, so the stack outputs cannot be read; Fix: install Pulumi "
            "(https://www.pulumi.com/docs/install/) or pass --outputs FILE written by `pulumi stack output --json --show-secrets`"
        )
    command = [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack]
    try:
        done = subprocess.run(
            command, cwd=project_dir, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise OutputsError(
            f"`pulumi stack output --stack {stack}` did not finish in {CLI_TIMEOUT:.0f} s; Fix: check `pulumi whoami` and the backend"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise OutputsError(
            f"`pulumi stack output --stack {stack}` failed: {last}; Fix: check the stack name (`pulumi stack ls`) and the backend"
        )
    return _parse(done.stdout, f"`pulumi stack output --stack {stack}`")


def _from_file(path: Path) -> dict[str, Any]:
    try:
        text = inputs.read_text(
            path,
            max_bytes=MAX_BYTES,
            what="stack outputs file",
            fix="pass the file `pulumi stack output --json --show-secrets > FILE` wrote",
        )
    except inputs.InputError as exc:
        raise OutputsError(f"--outputs {exc}") from None
    return _parse(text, f"--outputs {path}")


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        doc = inputs.loads_json(text, source, FIX)
    except inputs.InputError as exc:
        raise OutputsError(
            f"{source} is not JSON ({str(exc).removeprefix(source + ': ').split('; Fix: ')[0]}); Fix: {FIX}"
        ) from None
    if not isinstance(doc, dict):
        raise OutputsError(
            f"{source} is a JSON {type(doc).__name__}, not a map of outputs; Fix: write it with `pulumi stack output --json --show-secrets`"
        )
    register_keys(doc)
    return doc


KEY_OUTPUTS = ("apiKeys", "gatewayKeys")  # the stack's generated keys, one secret per endpoint or tenant


def register_keys(outputs: Any) -> None:
    """The generated keys a stack exports (read with --show-secrets) are registered with the scrubber, so no
    line or file this run writes shows one."""
    for name in KEY_OUTPUTS:
        keys = outputs.get(name) if isinstance(outputs, dict) else None
        if isinstance(keys, dict):
            secrets.REGISTRY.add_all(v for v in keys.values() if isinstance(v, str))
