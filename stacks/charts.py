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
from typing import Optional

from .schemas import Fetcher, _urlopen, git_blob_id

SOURCES_FILE = Path(__file__).with_name("chart_sources.json")
CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-serving" / "charts"
ENV_VAR = "LLM_SERVING_CHART_DIR"
HYPERPOD_CHART = "HyperPodHelmChart"
FIX = "run `python -m stacks charts fetch` where GitHub is reachable, or set " f"{ENV_VAR} to a checkout of aws/sagemaker-hyperpod-cli helm_chart/{HYPERPOD_CHART}"


class FetchError(RuntimeError):
    """The pinned chart could not be downloaded; the message says what `pulumi up` lacks and the fix."""


def _source(name: str = HYPERPOD_CHART, sources: Path = SOURCES_FILE) -> dict:
    return next(e for e in json.loads(sources.read_text()) if e["name"] == name)


def find_chart_dir(name: str = HYPERPOD_CHART, cache: Optional[Path] = None) -> tuple[Optional[Path], str]:
    """The chart directory and where it came from; (None, reason with the fix) when there is none."""
    for path, origin in ((os.environ.get(ENV_VAR), f"${ENV_VAR}"), (str((cache or CACHE_ROOT) / name), "cache")):
        if path and (Path(path) / "Chart.yaml").is_file():
            return Path(path), origin
    return None, f"the HyperPod Helm chart is not on this machine: {FIX}"


def fetch_chart(dest: Optional[Path] = None, fetch: Optional[Fetcher] = None, sources: Path = SOURCES_FILE, name: str = HYPERPOD_CHART) -> list[str]:
    """Download every pinned file of the chart into `dest` (default: the cache); returns the files written."""
    entry = _source(name, sources)
    dest, fetch = dest or CACHE_ROOT / name, fetch or _urlopen
    written = []
    for file in entry["files"]:
        target = dest / file["path"]
        if target.exists() and git_blob_id(target.read_bytes()) == file["blob"]:
            continue
        url = f"https://raw.githubusercontent.com/{entry['repo']}/{entry['commit']}/{entry['path']}/{file['path']}"
        try:
            data = fetch(url)
        except OSError as exc:  # URLError, timeouts and resets are all OSErrors
            reason = getattr(exc, "reason", None) or exc
            raise FetchError(f"HyperPod Helm chart not fetched ({reason}); `pulumi up` of a hyperpod stack needs it. Fix: {FIX}") from None
        if git_blob_id(data) != file["blob"]:
            raise ValueError(f"{url}: content does not match the pinned git blob {file['blob']}; refusing it")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(file["path"])
    return written
