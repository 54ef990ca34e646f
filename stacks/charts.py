"""The HyperPod Helm chart (aws/sagemaker-hyperpod-cli `helm_chart/HyperPodHelmChart`), pinned by commit.

AWS publishes it in no Helm repository: it lives in the git repository, its subcharts under `charts/`
(`helm dependencies update` then `helm install`, as `helm_chart/readme.md` says). `python -m stacks
charts fetch` downloads every file of the pinned commit listed in `chart_sources.json` into the user
cache and refuses any whose git blob id differs, as `crds fetch` does. The program reads it from
`$LLM_SERVING_CHART_DIR` (a checkout of `helm_chart/HyperPodHelmChart`) or that cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .pinned import Fetcher, PinnedFile, fetch_pinned, raw_url
from .pinned import urlopen as _urlopen

SOURCES_FILE = Path(__file__).with_name("chart_sources.json")
CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-serving" / "charts"
ENV_VAR = "LLM_SERVING_CHART_DIR"
HYPERPOD_CHART = "HyperPodHelmChart"
FIX = (
    "run `python -m stacks charts fetch` where GitHub is reachable, or set "
    f"{ENV_VAR} to a checkout of aws/sagemaker-hyperpod-cli helm_chart/{HYPERPOD_CHART}"
)


def _source(name: str = HYPERPOD_CHART, sources: Path = SOURCES_FILE) -> dict:
    return next(e for e in json.loads(sources.read_text()) if e["name"] == name)


def find_chart_dir(name: str = HYPERPOD_CHART, cache: Path | None = None) -> tuple[Path | None, str]:
    """The chart directory and where it came from; (None, reason with the fix) when there is none."""
    for path, origin in ((os.environ.get(ENV_VAR), f"${ENV_VAR}"), (str((cache or CACHE_ROOT) / name), "cache")):
        if path and (Path(path) / "Chart.yaml").is_file():
            return Path(path), origin
    return None, f"the HyperPod Helm chart is not on this machine: {FIX}"


def fetch_chart(
    dest: Path | None = None, fetch: Fetcher | None = None, sources: Path = SOURCES_FILE, name: str = HYPERPOD_CHART
) -> list[str]:
    """Download every pinned file of the chart into `dest` (default: the cache); returns the files written."""
    entry = _source(name, sources)
    dest = dest or CACHE_ROOT / name
    files = [
        PinnedFile(
            raw_url(entry["repo"], entry["commit"], f"{entry['path']}/{f['path']}"),
            f["blob"],
            dest / f["path"],
            f["path"],
        )
        for f in entry["files"]
    ]
    return fetch_pinned(
        files,
        fetch or _urlopen,
        lambda reason: (
            f"HyperPod Helm chart not fetched ({reason}); `pulumi up` of a hyperpod stack needs it. Fix: {FIX}"
        ),
    )
