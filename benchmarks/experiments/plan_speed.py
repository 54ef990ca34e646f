"""The offline plan of an example stack with 1, 50 and 100 endpoints: seconds, and each as a ratio to 1.

    venv/bin/python -m benchmarks.experiments.plan_speed [--stack dev|eks ...] [--endpoints 1,50,100] [--repeat 3]
                                             [--crd-dir DIR] [--tree DIR ...]

Writes one temporary project per stack and size (this project's Pulumi.yaml, __main__.py and models.lock.json, and a
`Pulumi.<stack>.yaml` with that example's cluster and N copies of its endpoints under new names, the
values a user must set filled in), then runs `python -m stacks plan` in each as a subprocess
(benchmarks does not import the project). `dev` is the HyperPod stack; `eks` adds the tenant gateway,
whose Envoy Gateway and AI Gateway objects carry the CRDs' CEL rules, so with schemas (`--crd-dir`, or
$LLM_SERVING_CRD_DIR) its time includes schema and CEL validation; the plan's own count of CEL rules is
printed beside the time. Runs are interleaved (1, 50, 100, 1, 50, 100, ...) so machine noise falls on
every size alike; the median counts. `--tree` plans with another checkout of the project (e.g.
`git archive <rev> | tar -x -C /tmp/base`); given twice or more, the checkouts run interleaved too, for
before/after numbers measured side by side. The goal: 50 endpoints under 5 s. Not run in CI.
"""

from __future__ import annotations

import argparse
import copy
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "eks")  # example stacks whose plan passes once the values below are set
# What a user sets in an example stack before it plans (the `# SET THIS` lines), by config key below the project's.
USER_SET: dict[str, dict[str, dict[str, Any]]] = {
    "eks": {
        "cluster": {"publicAccessCidrs": ["34.201.17.8/32"]},
        "platform.ingress": {
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
        },
        "gateway": {
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/89abcdef-0123-4567-89ab-cdef01234567"
        },
    },
}
CEL_LINE = "CRD rules (x-kubernetes-validations, CEL):"


def _set(config: dict, project: str, dotted: str, values: dict) -> None:
    """Set `values` in the config map under `<project>:<key>.<below...>`, as a user edits the file."""
    key, *below = dotted.split(".")
    if not isinstance(config.get(f"{project}:{key}"), dict):
        config[f"{project}:{key}"] = {}
    node = config[f"{project}:{key}"]
    for part in below:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node.update(values)


def stack_file(template: dict, project: str, count: int, stack: str = "dev") -> dict:
    """The template stack with `count` endpoints, cycling through its own, each under a new name."""
    doc = copy.deepcopy(template)
    config = doc["config"]
    for dotted, values in USER_SET.get(stack, {}).items():
        _set(config, project, dotted, values)
    key = f"{project}:endpoints"
    base = config[key]
    endpoints = []
    copies: dict[str, list[str]] = {}
    for i in range(count):
        endpoint = copy.deepcopy(base[i % len(base)])
        name = f"bench-{i:03d}-{endpoint.get('engine', 'ep')}"
        copies.setdefault(endpoint["name"], []).append(name)
        endpoint["name"] = name
        endpoints.append(endpoint)
    config[key] = endpoints
    # A tenant limited to some models gets every copy of them (the originals' names are gone).
    for tenant in (config.get(f"{project}:gateway") or {}).get("tenants", []):
        if tenant.get("models"):
            tenant["models"] = [copy_name for model in tenant["models"] for copy_name in copies.get(model, [])]
    # Enough nodes that no capacity rule refuses the larger stacks: the benchmark measures speed.
    cluster = config[f"{project}:cluster"]
    for group in cluster.get("instanceGroups", []):
        group["instanceCount"] = max(int(group.get("instanceCount", 1)), 2 * count)
    for group in cluster.get("gpuNodeGroups", []):
        group["maxSize"] = max(int(group.get("maxSize", 1)), 2 * count)
    return doc


def make_project(tree: Path, dest: Path, count: int, stack: str = "dev") -> Path:
    project_dir = dest / f"project-{stack}-{count}"
    project_dir.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        (project_dir / name).write_bytes((tree / name).read_bytes())
    if (tree / "models.lock.json").is_file():  # the model facts the plan sizes endpoints by (G23)
        (project_dir / "models.lock.json").write_bytes((tree / "models.lock.json").read_bytes())
    project = yaml.safe_load((tree / "Pulumi.yaml").read_text())["name"]
    template = yaml.safe_load((tree / f"Pulumi.{stack}.yaml").read_text())
    (project_dir / f"Pulumi.{stack}.yaml").write_text(
        yaml.safe_dump(stack_file(template, project, count, stack), sort_keys=False)
    )
    return project_dir


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_plan(
    tree: Path, project_dir: Path, out: Path, python: str, stack: str = "dev", crd_dir: Path | None = None
) -> tuple[float, float, str]:
    """Wall and CPU seconds of one plan (CPU time is what other processes on the machine do not inflate),
    and the plan's line counting the CRDs' CEL rules ("" when it printed none)."""
    cpu, start = _children_cpu(), time.perf_counter()
    command = [python, "-m", "stacks", "plan", "--stack", stack, "--project-dir", str(project_dir), "--out", str(out)]
    done = subprocess.run(
        command + (["--crd-dir", str(crd_dir)] if crd_dir else []), cwd=tree, capture_output=True, text=True
    )
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode not in (0, 1):  # 1: a guardrail failed; the plan still ran in full
        raise SystemExit(
            f"plan_speed: error: plan of {project_dir.name} exited {done.returncode}: {(done.stdout + done.stderr).strip()[-400:]}"
        )
    cel = next((line[len(CEL_LINE) :].strip() for line in done.stdout.splitlines() if line.startswith(CEL_LINE)), "")
    return elapsed, cpu, cel


def sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a comma-separated list of endpoint counts of 1 or more, e.g. 1,50,100"
        )
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.plan_speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--stack", choices=STACKS, action="append", help="example stack to grow; repeat for both (dev and eks)"
    )
    parser.add_argument(
        "--endpoints", type=sizes, default=[1, 50, 100], help="stack sizes; the first is the ratios' base (1,50,100)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median counts (3)")
    parser.add_argument(
        "--crd-dir",
        type=Path,
        help="CRD schema folder handed to the plan (default: the plan's own lookup, $LLM_SERVING_CRD_DIR first)",
    )
    parser.add_argument(
        "--tree",
        type=Path,
        action="append",
        help="checkout of the project to plan with; repeat it to compare checkouts, run interleaved (this one)",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter with the project's dependencies (this one)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.crd_dir and not args.crd_dir.is_dir():
        parser.error(f"--crd-dir {args.crd_dir}: not a directory")
    stacks = args.stack or list(STACKS)
    trees = [tree.resolve() for tree in args.tree or [ROOT]]
    for tree in trees:
        missing = [f"Pulumi.{stack}.yaml" for stack in stacks if not (tree / f"Pulumi.{stack}.yaml").is_file()]
        if not (tree / "stacks" / "plan.py").is_file() or missing:
            parser.error(f"--tree {tree}: not a checkout of this project (no stacks/plan.py or {', '.join(missing)})")
    keys = [(t, stack, n) for t in range(len(trees)) for stack in stacks for n in args.endpoints]
    runs: dict[tuple[int, str, int], list[tuple[float, float, str]]] = {key: [] for key in keys}
    with tempfile.TemporaryDirectory(prefix="plan-speed-") as tmp:
        projects = {(t, stack, n): make_project(trees[t], Path(tmp) / f"tree-{t}", n, stack) for t, stack, n in keys}
        for round_ in range(args.repeat):
            for t, stack, n in keys:
                out = Path(tmp) / f"out-{t}-{stack}-{n}-{round_}"
                runs[t, stack, n].append(
                    timed_plan(trees[t], projects[t, stack, n], out, args.python, stack, args.crd_dir)
                )
    base = args.endpoints[0]
    for t, tree in enumerate(trees):
        for stack in stacks:
            wall = {n: statistics.median(w for w, _, _ in runs[t, stack, n]) for n in args.endpoints}
            cpu = {n: statistics.median(c for _, c, _ in runs[t, stack, n]) for n in args.endpoints}
            print(
                f"python -m stacks plan, stack {stack} (Pulumi.{stack}.yaml's cluster), median of {args.repeat}, tree {tree}:"
            )
            for n in args.endpoints:
                ratio = "" if n == base else f"  {wall[n] / wall[base]:5.2f}x the {base}-endpoint plan"
                runs_text = ", ".join(f"{w:.2f}" for w, _, _ in runs[t, stack, n])
                cel = runs[t, stack, n][-1][2] or "none (no CRD schemas, or no CEL rule on these kinds)"
                print(
                    f"  {n:4d} endpoint(s): {wall[n]:6.2f} s{ratio}  (cpu {cpu[n]:.2f} s; wall runs: {runs_text}); CEL rules: {cel}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
