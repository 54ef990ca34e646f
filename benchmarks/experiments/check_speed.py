"""`stacks check` on many small documents: this tree against a baseline revision, side by side.

    venv/bin/python -m benchmarks.experiments.check_speed [--documents 2000] [--baseline REV] [--repeat 1]

Generates one file of N ConfigMaps, extracts the baseline revision with `git archive` into a
temporary directory, runs `python -m stacks check FILE` in each tree (as a subprocess: benchmarks
does not import the project) and prints wall seconds, milliseconds per document and the ratio.
The default baseline is the commit before core schema validators were first cached. Not run in CI.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEED_UP_MARK = "def core_validator"  # the change measured: its parent is the default baseline


def default_baseline() -> str:
    found = subprocess.run(
        ["git", "log", "--reverse", "--format=%H", "-S", SPEED_UP_MARK, "--", "stacks/schemas.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not found:
        raise SystemExit(f"check_speed: error: no commit adds {SPEED_UP_MARK!r}; pass --baseline REV")
    return f"{found[0]}~1"


def extract(rev: str, dest: Path) -> None:
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"check_speed: error: --baseline {rev}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")


def write_configmaps(path: Path, count: int) -> None:
    docs = (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\n  namespace: team-{i % 7}\ndata:\n  key: value-{i}\n"
        for i in range(count)
    )
    path.write_text("---\n".join(docs))


def timed_check(tree: Path, manifest: Path, python: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([python, "-m", "stacks", "check", str(manifest)], cwd=tree, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"check_speed: error: `stacks check` in {tree} exited {done.returncode}: {(done.stdout + done.stderr).strip()[-300:]}"
        )
    return elapsed, done.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.check_speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--documents", type=int, default=2000, help="ConfigMaps in the generated file (2000)")
    parser.add_argument("--baseline", help="git revision to compare against (default: the commit before the speed-up)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tree; the fastest counts (1)")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter with the project's dependencies (this one)"
    )
    args = parser.parse_args(argv)
    if args.documents < 1 or args.repeat < 1:
        parser.error("--documents and --repeat must be at least 1")
    baseline = args.baseline or default_baseline()
    with tempfile.TemporaryDirectory(prefix="check-speed-") as tmp:
        tmp_dir = Path(tmp)
        extract(baseline, tmp_dir / "baseline")
        manifest = tmp_dir / "configmaps.yaml"
        write_configmaps(manifest, args.documents)
        results = {}
        for label, tree in (("baseline", tmp_dir / "baseline"), ("current", ROOT)):
            runs = [timed_check(tree, manifest, args.python) for _ in range(args.repeat)]
            results[label] = min(runs)
    print(f"stacks check on {args.documents} ConfigMaps (one file), fastest of {args.repeat} run(s):")
    for label, (seconds, summary) in results.items():
        name = baseline if label == "baseline" else "this tree"
        print(f"  {label:8} {name}: {seconds:7.2f} s  {1000 * seconds / args.documents:6.2f} ms/document  ({summary})")
    print(f"  speed-up: {results['baseline'][0] / results['current'][0]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
