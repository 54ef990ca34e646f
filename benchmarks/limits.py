"""Bounds on what the load generator is given: options, files and what a file expands to in memory.

Each has a one-line reason; docs/load-generator.md ("Limits") lists them with the bounds kept in other
modules, and tests/loadgen/test_limits.py holds that list to these values. Options are checked when
the command line is parsed and again by `BenchmarkConfig.validate` (tuning grids build configs too).
"""

from __future__ import annotations

from .scenario import MAX_TOKENS

MIB = 1024 * 1024

DEFAULT_MAX_FILE_MB = 256.0  # --max-file-mb unset: datasets and traces are read whole into memory
MAX_FILE_MB = 4096.0  # --max-file-mb: above a few GB a file read whole no longer fits a client machine
MAX_PREFIX_TOKENS = MAX_TOKENS  # --prefix-tokens: a prefix longer than any request's input cannot be sent
MAX_PREFIX_WORDS = 20_000_000  # groups x prefix tokens held as text at once (about 120 MB)
MAX_REQUESTS = 1_000_000  # --max-requests per level: every request's record is kept for the report
MAX_WARMUP = 10_000  # --warmup: warm-up is a handful of requests, not a run
MAX_SECONDS = 7 * 24 * 3600.0  # --max-seconds per level: a week
MAX_TIMEOUT = 24 * 3600.0  # --timeout per request: a day
MAX_THINK_TIME = 3600.0  # --think-time between turns: an hour
MIN_METRICS_INTERVAL = 0.01  # --metrics-interval: over 100 scrapes a second would load the engine more than the run
MAX_TRACE_REQUESTS = 1_000_000  # lines of a trace: the published traces hold tens of thousands
MAX_CACHED_BLOCKS = 4096  # Mooncake block texts kept for reuse (512 words each, about 12 MB)
KEYS_MAX_BYTES = 4 * MIB  # --api-keys: 10,000 keys (tenants.MAX_KEYS) of a few hundred bytes each
