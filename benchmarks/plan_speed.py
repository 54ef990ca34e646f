"""The offline plan of a HyperPod stack with 1, 50 and 100 endpoints: seconds, and each as a ratio to 1.

    venv/bin/python -m benchmarks.plan_speed [--endpoints 1,50,100] [--repeat 3] [--tree DIR ...]

Writes one temporary project per size (this project's Pulumi.yaml and __main__.py, and a
`Pulumi.dev.yaml` with this project's dev cluster and N copies of its endpoints under new names),
then runs `python -m stacks plan` in each as a subprocess (benchmarks does not import the project). Runs are interleaved (1, 50, 100, 1, 50, 100, ...) so machine noise
falls on every size alike; the median counts. `--tree` plans with another checkout of the project
(e.g. `git archive <rev> | tar -x -C /tmp/base`); given twice or more, the checkouts run interleaved too,
for before/after numbers measured side by side. The issue's goal: 50 endpoints under 5 s.
Not run in CI.
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
STACK = "dev"  # the example stack's name: S4 accepts its public API endpoint, so the plan passes
TEMPLATE = "Pulumi.dev.yaml"


def stack_file(template: dict, project: str, count: int) -> dict:
    """The template stack with `count` endpoints, cycling through its own, each under a new name."""
    doc = copy.deepcopy(template)
    config = doc["config"]
    key = f"{project}:endpoints"
    base = config[key]
    endpoints = []
    for i in range(count):
        endpoint = copy.deepcopy(base[i % len(base)])
        endpoint["name"] = f"bench-{i:03d}-{endpoint.get('engine', 'ep')}"
        endpoints.append(endpoint)
    config[key] = endpoints
    # Enough nodes that no capacity rule refuses the larger stacks: the benchmark measures speed.
    for group in config[f"{project}:cluster"].get("instanceGroups", []):
        group["instanceCount"] = max(int(group.get("instanceCount", 1)), 2 * count)
    return doc


def make_project(tree: Path, dest: Path, count: int) -> Path:
    project_dir = dest / f"project-{count}"
    project_dir.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        (project_dir / name).write_bytes((tree / name).read_bytes())
    project = yaml.safe_load((tree / "Pulumi.yaml").read_text())["name"]
    template = yaml.safe_load((tree / TEMPLATE).read_text())
    (project_dir / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(stack_file(template, project, count), sort_keys=False))
    return project_dir


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_plan(tree: Path, project_dir: Path, out: Path, python: str) -> tuple[float, float]:
    """Wall and CPU seconds of one plan; CPU time is what other processes on the machine do not inflate."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [python, "-m", "stacks", "plan", "--stack", STACK, "--project-dir", str(project_dir), "--out", str(out)],
        cwd=tree, capture_output=True, text=True,
    )
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode not in (0, 1):  # 1: a guardrail failed; the plan still ran in full
        raise SystemExit(f"plan_speed: error: plan of {project_dir.name} exited {done.returncode}: {(done.stdout + done.stderr).strip()[-400:]}")
    return elapsed, cpu


def sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated list of endpoint counts of 1 or more, e.g. 1,50,100")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=sizes, default=[1, 50, 100], help="stack sizes; the first is the ratios' base (1,50,100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median counts (3)")
    parser.add_argument("--tree", type=Path, action="append", help="checkout of the project to plan with; repeat it to compare checkouts, run interleaved (this one)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the project's dependencies (this one)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    trees = [tree.resolve() for tree in args.tree or [ROOT]]
    for tree in trees:
        if not (tree / "stacks" / "plan.py").is_file() or not (tree / TEMPLATE).is_file():
            parser.error(f"--tree {tree}: not a checkout of this project (no stacks/plan.py or {TEMPLATE})")
    runs: dict[tuple[int, int], list[tuple[float, float]]] = {(t, n): [] for t in range(len(trees)) for n in args.endpoints}
    with tempfile.TemporaryDirectory(prefix="plan-speed-") as tmp:
        projects = {(t, n): make_project(tree, Path(tmp) / f"tree-{t}", n) for t, tree in enumerate(trees) for n in args.endpoints}
        for round_ in range(args.repeat):
            for t, tree in enumerate(trees):
                for n in args.endpoints:
                    runs[t, n].append(timed_plan(tree, projects[t, n], Path(tmp) / f"out-{t}-{n}-{round_}", args.python))
    base = args.endpoints[0]
    for t, tree in enumerate(trees):
        wall = {n: statistics.median(w for w, _ in runs[t, n]) for n in args.endpoints}
        cpu = {n: statistics.median(c for _, c in runs[t, n]) for n in args.endpoints}
        print(f"python -m stacks plan, HyperPod stack ({TEMPLATE}'s cluster), median of {args.repeat}, tree {tree}:")
        for n in args.endpoints:
            ratio = "" if n == base else f"  {wall[n] / wall[base]:5.2f}x the {base}-endpoint plan"
            runs_text = ", ".join(f"{w:.2f}" for w, _ in runs[t, n])
            print(f"  {n:4d} endpoint(s): {wall[n]:6.2f} s{ratio}  (cpu {cpu[n]:.2f} s; wall runs: {runs_text})")
    return 0

if __name__ == "__main__":
    sys.exit(main())
