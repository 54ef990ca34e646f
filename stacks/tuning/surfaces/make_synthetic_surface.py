"""Generates synthetic-g5-12xlarge.json: a response surface from a documented analytical model.

Where it comes from: not a measurement. A small serving model of a vLLM endpoint on ml.g5.12xlarge
(4 x A10G 24 GiB) serving an 8 B model (16 GiB of bf16 weights), used only to check that the
model-based strategy finds the optimum of a realistic-looking, partly infeasible surface:
  - KV-cache room = GPUs * 24 GiB * gpu_memory_utilization - weights; each sequence needs 0.25 GiB
    at the benchmark's context length; more sequences than room -> preemption (throughput falls);
  - decode throughput grows with batch size and saturates (compute bound), per GPU it falls with
    tensor parallelism (communication overhead 12 % per doubling);
  - TTFT p90 grows with queueing (small batched-token budgets chunk prefill) and with batch size;
  - gpu_memory_utilization 0.95 with tensor-parallel size 1 crashes at start (CUDA graphs): infeasible.
A deterministic hash gives +-3 % "noise" so the surface is not perfectly smooth.
Run: python stacks/tuning/surfaces/make_synthetic_surface.py
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

SEQS = [8, 16, 32, 64, 128, 256]
BATCHED = [512, 1024, 2048, 4096, 8192]
GMU = [0.8, 0.85, 0.9, 0.95]
TP = [1, 2, 4]


def jitter(*key: object) -> float:
    digest = hashlib.sha256(repr(key).encode()).digest()
    return 1 + (digest[0] / 255 - 0.5) * 0.06


def point(seqs: int, batched: int, gmu: float, tp: int) -> dict | None:
    if gmu == 0.95 and tp == 1:
        return None  # crashes at start: infeasible
    room_gib = tp * 24 * gmu - 16
    if room_gib <= 0:
        return None
    capacity = room_gib / 0.25
    effective = min(seqs, capacity)
    preempt = max(0.0, (seqs - capacity) / seqs)
    per_gpu_peak = 900.0 * (0.88 ** (tp.bit_length() - 1))
    decode = tp * per_gpu_peak * effective / (effective + 24) * (1 - 0.6 * preempt)
    chunk_penalty = 1 + 1024 / batched * 0.35
    ttft = 0.08 * chunk_penalty * (1 + seqs / 48) * (1 + preempt * 3) / (tp**0.5)
    throughput = decode * (0.96 if batched >= 8192 else 1.0)  # huge budgets starve decode steps
    j = jitter(seqs, batched, gmu, tp)
    return {
        "output_throughput": round(throughput * j, 3),
        "output_throughput_per_gpu": round(throughput * j / tp, 3),
        "ttft_p90": round(ttft * j, 4),
    }


def main() -> None:
    rows = []
    for seqs, batched, gmu, tp in itertools.product(SEQS, BATCHED, GMU, TP):
        params = {
            "engineArgs.maxNumSeqs": seqs,
            "engineArgs.maxNumBatchedTokens": batched,
            "engineArgs.gpuMemoryUtilization": gmu,
            "engineArgs.tensorParallelSize": tp,
        }
        rows.append({"params": params, "metrics": point(seqs, batched, gmu, tp)})
    out = {
        "source": "synthetic: analytical model in make_synthetic_surface.py (not a measurement)",
        "instanceType": "ml.g5.12xlarge",
        "objective": "output_throughput_per_gpu",
        "slo": {"ttft_p90": 1.0},
        "points": rows,
    }
    Path(__file__).with_name("synthetic-g5-12xlarge.json").write_text(json.dumps(out, indent=0) + "\n")


if __name__ == "__main__":
    main()
