"""Exact merge of several load-generator processes' raw records (benchmarks/raw.py).

    python -m benchmarks.merge raw-0.jsonl raw-1.jsonl raw-2.jsonl [--out merged.json]

Why raw records and not mergeable histograms: a percentile of the union is computed from every request of
every process, exactly as one process would have computed it (``LevelResult.from_records``, the same code),
and an average of per-process percentiles is not a percentile of anything.  A histogram (HDR, t-digest)
would merge in constant memory but round each latency to its bucket; at the request counts a tuning level
has (hundreds to a million) the records fit in memory, so there is nothing to trade the exactness for.

Per-request latencies (TTFT, ITL, TPOT, e2e) are differences of one process's monotonic clock: no clock
offset between processes enters them.  What the offsets do move is the level's window (first start to
last end across processes) and so every throughput; and the start and end spread of the processes.  Each
process's stamps are laid on one time line by:

- ``reference``: when every process measured its wall clock's offset from the same reference clock
  (benchmarks/clocks.py: a time endpoint, or a server's Date header) and either the reference is exact or
  the offsets differ by more than a Date header can blur, each is moved onto the reference; the alignment
  error of a process is the half-width of its offset interval plus its sample's;
- ``wall clocks, checked against the reference``: Date-header offsets that one value fits (the clocks agree
  within a Date's resolution): each process stays on its wall clock, with the reference's bound on how far
  they can disagree as the uncertainty;
- ``wall clocks``: no reference for every process: its own wall clock (NTP-synchronised hosts agree to
  milliseconds; this merge cannot tell, and says so).

Either way the result states, per process, the measured offsets, their uncertainty and the wall clock's
drift during the run, and per level the window's uncertainty (the largest error at each end).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from . import clocks
from .outputs import Kind, Output, OutputError, json_bytes, json_object_with
from .raw import RawError, RawFile, read, record_of
from .results import BenchmarkResult, LevelResult

MERGED_FILE = Kind(
    "merged load-generator results JSON", "merged.json", json_object_with("schema_version", "levels", "merge")
)
SPREAD_WARN_FRACTION = 0.05  # processes starting a level further apart than this share of its duration: said


@dataclass
class ProcessClock:
    source: str
    index: int
    host: str
    wall_minus_mono: float  # at the start sample
    drift_s: float | None  # how far the wall clock moved against the monotonic one during the run
    sample_uncertainty_s: float
    reference_start: clocks.Offset | None
    reference_end: clocks.Offset | None
    reference_error: str | None
    shift_s: float = 0.0  # added to a monotonic stamp to put it on the merged time line (before the epoch)
    uncertainty_s: float = 0.0  # of this process's placement on that line

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "index": self.index,
            "host": self.host,
            "wall_minus_monotonic_s": self.wall_minus_mono,
            "wall_drift_s": self.drift_s,
            "sample_uncertainty_s": self.sample_uncertainty_s,
            "reference_offset_start": self.reference_start.to_dict() if self.reference_start else None,
            "reference_offset_end": self.reference_end.to_dict() if self.reference_end else None,
            "reference_error": self.reference_error,
            "alignment_uncertainty_s": self.uncertainty_s,
        }


def process_clock(f: RawFile) -> ProcessClock:
    clock = f.header.get("clock") or {}
    start, end = clocks.sample_from(clock.get("start")), clocks.sample_from(clock.get("end"))
    if start is None:
        raise RawError(f"{f.source}: the header has no start clock sample; Fix: pass the files `--raw` wrote, whole")
    ref_s, ref_e = clocks.offset_from(clock.get("reference_start")), clocks.offset_from(clock.get("reference_end"))
    errors = [
        str(d["error"])
        for d in (clock.get("reference_start"), clock.get("reference_end"))
        if isinstance(d, dict) and d.get("error")
    ]
    process = f.header.get("process") or {}
    return ProcessClock(
        f.source,
        int(process.get("index", 0)),
        str(process.get("host", "?")),
        start.offset,
        (end.offset - start.offset) if end else None,
        max(start.uncertainty, end.uncertainty if end else 0.0),
        ref_s,
        ref_e,
        "; ".join(errors) or None,
    )


def reference(p: ProcessClock) -> clocks.Offset | None:
    """The process's offset from the reference: its start probe, narrowed by its end probe (both bound the same
    wall clock, less its drift) when they overlap."""
    ref, end, drift = p.reference_start, p.reference_end, p.drift_s or 0.0
    if ref is None or end is None:
        return ref
    lo, hi = max(ref.lo, end.lo - drift), min(ref.hi, end.hi - drift)
    return clocks.Offset(lo, hi, ref.kind, ref.probes + end.probes) if lo <= hi else ref


ON_REFERENCE = "reference"
ON_WALL_CHECKED = "wall clocks, checked against the reference"
ON_WALL = "wall clocks"


def align(procs: list[ProcessClock]) -> str:
    """Sets each process's shift and uncertainty; returns the alignment used:

    - every process has an exact reference (a time endpoint): on the reference;
    - every process has a Date-header reference and one offset fits them all: the wall clocks agree within
      what whole-second Dates can tell, and moving each by its own interval's midpoint could only add error,
      so on the wall clocks, with the reference's bound on their disagreement as the uncertainty;
    - Date references that no one offset fits (the wall clocks disagree by more than a Date can blur): on the
      reference;
    - otherwise on the wall clocks, unchecked."""
    refs = [reference(p) for p in procs]
    if all(r is not None for r in refs):
        lo, hi = max(r.lo for r in refs), min(r.hi for r in refs)  # type: ignore[union-attr]
        exact = all(r.kind == "time" for r in refs)  # type: ignore[union-attr]
        if not exact and lo <= hi:
            bound = (max(r.hi for r in refs) - min(r.lo for r in refs)) / 2  # type: ignore[union-attr]
            for p in procs:
                p.shift_s = p.wall_minus_mono
                p.uncertainty_s = bound + p.sample_uncertainty_s + abs(p.drift_s or 0.0)
            return ON_WALL_CHECKED
        for p, r in zip(procs, refs):
            p.shift_s = p.wall_minus_mono + r.mid  # type: ignore[union-attr]
            p.uncertainty_s = r.uncertainty + p.sample_uncertainty_s + abs(p.drift_s or 0.0)  # type: ignore[union-attr]
        return ON_REFERENCE
    for p in procs:
        p.shift_s = p.wall_minus_mono
        p.uncertainty_s = p.sample_uncertainty_s + abs(p.drift_s or 0.0)
    return ON_WALL


@dataclass
class Merged:
    result: BenchmarkResult
    merge: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, with_records: bool = False) -> dict[str, Any]:
        return {**self.result.to_dict(with_records), "merge": self.merge}


def merge(files: list[RawFile], slo: dict[str, float] | None = None) -> Merged:
    """Every process's records as one run: per level, the union of the processes' requests, on one time line."""
    if not files:
        raise RawError("no raw records files to merge; Fix: pass one file per load-generator process")
    shapes = [[(lv.get("mode")) for lv in f.levels] for f in files]
    if any(s != shapes[0] for s in shapes):
        raise RawError(
            f"the files ran different levels ({', '.join(f'{f.source}: {len(f.levels)} {s[:1]}' for f, s in zip(files, shapes))}); "
            "Fix: merge only the processes of one run"
        )
    procs = [process_clock(f) for f in files]
    alignment = align(procs)
    config = dict(files[0].header.get("config") or {})
    slo = dict(slo if slo is not None else config.get("slo") or {})
    # The merged time line starts at the earliest aligned level start, so its numbers stay small.
    epoch = min((lv["t0"] + p.shift_s for f, p in zip(files, procs) for lv in f.levels), default=0.0)
    levels: list[LevelResult] = []
    level_notes: list[dict[str, Any]] = []
    warnings: list[str] = []
    for j, first in enumerate(files[0].levels):
        records = []
        starts, ends, per_process = [], [], []
        cpu = 0.0
        value = 0.0
        engine = None
        for f, p in zip(files, procs):
            lv = f.levels[j]
            shift = p.shift_s - epoch
            mine = []
            for line in f.requests:
                if line.get("level") != j:
                    continue
                r = record_of(line)
                r.scheduled += shift
                r.start += shift
                if r.end is not None:
                    r.end += shift
                mine.append(r)
            records += mine
            t0 = float(lv["t0"]) + shift
            end = max((r.end for r in mine if r.end is not None), default=t0)
            starts.append(t0)
            ends.append(end)
            cpu += float(lv.get("cpu_s") or 0.0)
            value += float(lv.get("value") or 0.0)
            engine = engine or lv.get("engine_metrics")
            per_process.append(
                {"index": p.index, "value": lv.get("value"), "requests": len(mine), "start_s": t0, "end_s": end}
            )
        level = LevelResult.from_records(str(first["mode"]), value, records, min(starts), slo, cpu)
        level.engine_metrics = engine
        err = max(p.uncertainty_s for p in procs)
        spread = max(starts) - min(starts)
        note = {
            "level": j,
            "processes": len(files),
            "start_spread_s": spread,
            "end_spread_s": max(ends) - min(ends),
            "window_uncertainty_s": 2 * err,
            "per_process": per_process,
        }
        if level.duration_s > 0 and spread > SPREAD_WARN_FRACTION * level.duration_s:
            warn = (
                f"level {j} ({first['mode']} {value:g}): the processes started {spread:.2f} s apart, "
                f"{spread / level.duration_s:.0%} of its {level.duration_s:.1f} s: part of the window ran below the full load"
            )
            level.warnings.append(warn)
            warnings.append(warn)
        levels.append(level)
        level_notes.append(note)
    headers = [f.header for f in files]
    result = BenchmarkResult(
        config={**config, "clients": len(files)},
        levels=levels,
        started_at=min(str(h.get("process", {}).get("started_at", "")) for h in headers),
        finished_at=max(str(h.get("process", {}).get("finished_at", "")) for h in headers),
        interrupted=any(h.get("interrupted") for h in headers),
        aborted="; ".join(str(h["aborted"]) for h in headers if h.get("aborted")) or None,
        warnings=warnings,
    )
    refs = [r for r in (reference(p) for p in procs) if r is not None]
    mids = [r.mid for r in refs]
    clock_note: dict[str, Any] = {
        "alignment": alignment,
        "processes": [p.to_dict() for p in procs],
        "max_alignment_uncertainty_s": max(p.uncertainty_s for p in procs),
    }
    if alignment != ON_WALL and len(mids) > 1:
        # wall_q - wall_p = offset_p - offset_q: how far the processes' own clocks disagree, as measured
        clock_note["wall_clock_spread_s"] = max(mids) - min(mids)
        clock_note["wall_clock_spread_uncertainty_s"] = 2 * max(r.uncertainty for r in refs)
    else:
        clock_note["note"] = (
            "no common reference for every process: aligned on each process's own wall clock, whose offsets from the others were not measured"
        )
    return Merged(
        result,
        {
            "files": [f.source for f in files],
            "requests": sum(len(f.requests) for f in files),
            "clocks": clock_note,
            "levels": level_notes,
        },
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.merge", description="Merge raw request records of several load-generator processes."
    )
    ap.add_argument("files", nargs="+", help="raw records files (--raw) of one run, one per process")
    ap.add_argument("--out", help="write the merged results JSON here")
    a = ap.parse_args(argv)
    try:
        merged = merge([read(path) for path in a.files])
        if a.out:
            with Output(a.out, MERGED_FILE, f"--out {a.out}") as out:
                out.write(json_bytes(merged.to_dict()))
    except (RawError, OutputError) as exc:
        sys.stderr.write(f"benchmarks.merge: error: {exc}\n")
        return 2
    clock = merged.merge["clocks"]
    print(
        f"{merged.merge['requests']} requests from {len(a.files)} processes; aligned on {clock['alignment']}, "
        f"largest alignment uncertainty {clock['max_alignment_uncertainty_s'] * 1000:.1f} ms"
    )
    for lv, note in zip(merged.result.levels, merged.merge["levels"]):
        print(
            f"{lv.mode} {lv.value:g}: {lv.completed} ok, {lv.failed} failed; TTFT p50 {_ms(lv.ttft.p50)} p99 {_ms(lv.ttft.p99)}; "
            f"ITL p99 {_ms(lv.itl.p99)}; {lv.output_throughput:.1f} tok/s; start spread {note['start_spread_s'] * 1000:.1f} ms"
        )
    return 0


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
