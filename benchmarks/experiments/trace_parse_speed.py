"""Trace parsing speed and memory on a generated million-line trace (not run in CI).

    venv/bin/python -m benchmarks.experiments.trace_parse_speed [--lines 1000000] [--format mooncake|azure|both]

Writes the trace to a temporary directory (Mooncake: ~15 hash ids per line, chained so later lines
share leading blocks with earlier ones, as the published trace does; Azure: the CSV layout of
AzureLLMInferenceTrace_code.csv), then parses it in a fresh process, which prints its wall time and
peak RSS (VmHWM: this process's own high-water mark, imports included).  The goal: a million lines in
under 5 s and under 300 MB.  The machine may be shared: the load average is printed beside the numbers,
and the CPU seconds (what the parse costs, whatever else runs) beside the wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = (
    "import re, sys, time\n"
    "from pathlib import Path\n"
    "t, c = time.perf_counter(), time.process_time()\n"
    "from benchmarks.workloads.trace import load_trace, SharedBlocks\n"
    "table = load_trace(sys.argv[1], sys.argv[2], 4096)\n"
    "parsed = time.perf_counter() - t\n"
    "SharedBlocks(table.hash_ids)\n"
    "total, cpu = time.perf_counter() - t, time.process_time() - c\n"
    "peak = int(re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1)) / 1024\n"
    "print(len(table), parsed, total, cpu, peak)\n"
)


def write_mooncake(path: Path, lines: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    next_id, t = 0, 0
    roots: list[list[int]] = []
    with path.open("w") as f:
        for _ in range(lines):
            blocks = rng.randint(8, 22)
            if roots and rng.random() < 0.5:  # shares the leading blocks of an earlier request
                ids = list(rng.choice(roots)[: rng.randint(1, blocks)])
            else:
                ids = []
            while len(ids) < blocks:
                ids.append(next_id)
                next_id += 1
            if len(roots) < 512:
                roots.append(ids)
            else:
                roots[rng.randrange(512)] = ids
            t += rng.choice((0, 0, 1, 3, 40, 250))
            n_in, n_out = blocks * 512 - rng.randrange(512), rng.randint(1, 800)
            f.write(
                f'{{"timestamp": {t}, "input_length": {n_in}, "output_length": {n_out}, "hash_ids": [{", ".join(map(str, ids))}]}}\n'
            )


def write_azure(path: Path, lines: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    at = datetime(2023, 11, 16, 18, 15, 46)
    with path.open("w") as f:
        f.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
        for _ in range(lines):
            at += timedelta(microseconds=rng.choice((100, 5_000, 200_000, 900_000)))
            f.write(f"{at:%Y-%m-%d %H:%M:%S.%f}0,{rng.randint(1, 8000)},{rng.randint(1, 700)}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--format", choices=("mooncake", "azure", "both"), default="both")
    a = ap.parse_args()
    print(
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs (shared machine: other jobs run too)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("mooncake", "azure") if a.format == "both" else (a.format,):
            path = Path(tmp) / f"trace.{'jsonl' if fmt == 'mooncake' else 'csv'}"
            (write_mooncake if fmt == "mooncake" else write_azure)(path, a.lines)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), fmt], cwd=ROOT, capture_output=True, text=True, check=True
            )
            n, parsed, total, cpu, peak = out.stdout.split()
            print(
                f"{fmt:8} {int(n):,} lines ({path.stat().st_size / 2**20:.0f} MB): parsed in {float(parsed):.2f} s, "
                f"with shared blocks {float(total):.2f} s wall, {float(cpu):.2f} s CPU; peak RSS {float(peak):.0f} MB"
            )


if __name__ == "__main__":
    main()
