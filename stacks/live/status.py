"""`python -m stacks status --stack <env>`: each endpoint's live state, ready replicas, URL and the
last condition message, read from the cluster (what `kubectl describe` users look for).

Exit 0 when every endpoint is ready, 1 when one is not (pending, failed, API server not answering) or,
with --probe, when a probe of a deployed endpoint or gateway tenant fails (stacks/live/probe.py),
2 on bad input (outputs missing or malformed, kubeconfig refused)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from components.kube_reader import KubeReader, LiveError, Unreachable

from ..literal import plain
from .args import StatusArgs
from .outputs import OutputsError, read_outputs
from .reader import LiveEndpoint, read_autoscaler, read_endpoint


@dataclass(frozen=True)
class Row:
    name: str
    live: LiveEndpoint | None
    error: str = ""  # the API server did not answer for this endpoint
    autoscaler: str = ""  # the HPA cannot read its metric (kubernetes backend)


def main(args: StatusArgs, console: Console) -> int:
    try:
        outputs = read_outputs(args.stack, args.outputs, args.project_dir)
        rows = collect(outputs, args.timeout, f"stack {args.stack}")
    except (OutputsError, LiveError, ValueError) as exc:
        console.print(plain(str(exc)), soft_wrap=True)
        return 2
    console.print(table(rows))
    for line in messages(rows):
        console.print(line, soft_wrap=True)
    code = 0 if rows and all(r.live is not None and r.live.readiness == "ready" for r in rows) else 1
    if args.probe:
        from .probe import run as probe

        if not probe(outputs, rows, args.timeout, console, f"stack {args.stack}"):
            code = 1
    return code


def collect(outputs: dict[str, Any], timeout: float, where: str) -> list[Row]:
    endpoints = outputs.get("endpoints")
    if not isinstance(endpoints, dict) or not endpoints:
        raise ValueError(f"{where} exports no `endpoints` map; Fix: declare endpoints and run `pulumi up`")
    kubeconfig = outputs.get("kubeconfig")
    if not kubeconfig or kubeconfig == "[secret]":
        raise ValueError(
            f"{where} exports no readable `kubeconfig` (an endpoints-only stack exports none, a secret needs --show-secrets); "
            "Fix: pass --outputs FILE with the platform stack's `kubeconfig` added"
        )
    rows = []
    silent: str | None = None  # the API server let a read pass its deadline: the others are not asked
    with KubeReader(kubeconfig, f"the `kubeconfig` output of {where}", timeout) as kube:
        for name, entry in endpoints.items():
            if not isinstance(entry, dict):
                raise ValueError(f"endpoints.{name} is not a map; Fix: pass the stack's own outputs")
            if silent:
                rows.append(Row(name, None, f"not read: {silent}"))
                continue
            try:
                live = read_endpoint(kube, name, entry)
            except Unreachable as exc:
                rows.append(Row(name, None, str(exc)))
                if exc.timed_out:  # --timeout bounds the command, not each of many endpoints in turn
                    silent = f"the API server gave no answer within {timeout:g} s for {name}"
                continue
            scaling = ""
            if live.readiness == "ready":  # before, an HPA without ready pods has no metric to read anyway
                try:
                    scaling = read_autoscaler(kube, entry)
                except Unreachable as exc:
                    scaling = f"not read: {exc}"
                    if exc.timed_out:
                        silent = f"the API server gave no answer within {timeout:g} s for {name}"
                except LiveError as exc:
                    scaling = f"not read: {exc}"
            rows.append(Row(name, live, autoscaler=scaling))
    return rows


def table(rows: list[Row]) -> Table:
    """Every cell is literal `Text`: server messages may hold `[...]`, which must not be read as markup.
    URLs are never wrapped (they are copied); the messages follow the table, one line each."""
    t = Table("Endpoint", "Backend", "State", "Ready", "URL (kind)")
    t.columns[4].no_wrap = True
    for row in rows:
        live = row.live
        if live is None:
            t.add_row(Text(row.name), Text("-"), Text("unreachable", style="yellow"), Text("-"), Text("-"))
            continue
        style = {"ready": "green", "failed": "red"}.get(live.readiness, "yellow")
        ready = (
            "-"
            if live.ready_replicas is None
            else f"{live.ready_replicas}/{live.replicas if live.replicas is not None else '?'}"
        )
        url = f"{live.url or '-'} ({live.url_kind})" if live.url_kind else (live.url or "-")
        t.add_row(
            Text(live.name),
            Text(live.backend),
            Text(f"{live.readiness}: {live.state}", style=style),
            Text(ready),
            Text(url),
        )
    return t


def messages(rows: list[Row]) -> list[Text]:
    """Per endpoint, what `kubectl describe` shows last: a failed object's own message first (G15),
    else the newest condition's message, else why it is pending."""
    lines = []
    for row in rows:
        live = row.live
        message = (
            row.error
            if live is None
            else (live.detail if live.readiness == "failed" else (live.message or live.detail))
        )
        if message:
            lines.append(plain(f"{row.name}: {message}"))
        if row.autoscaler:
            lines.append(plain(f"{row.name}: autoscaler: {row.autoscaler}"))
    return lines
