"""`python -m stacks charts fetch`: the pinned HyperPod chart, each file checked against its git blob id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks import charts, pinned
from stacks.pinned import git_blob_id


def _sources(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "sources.json"
    path.write_text(
        json.dumps(
            [
                {
                    "name": "HyperPodHelmChart",
                    "repo": "o/r",
                    "commit": "c" * 40,
                    "path": "helm_chart/HyperPodHelmChart",
                    "files": [{"path": "Chart.yaml", "blob": git_blob_id(content), "bytes": len(content)}],
                }
            ]
        )
    )
    return path


def test_charts_fetch_writes_files_whose_git_blob_matches_the_pin(tmp_path):
    content = b"apiVersion: v2\nname: hyperpod-helm-chart\n"
    urls: list[str] = []
    assert charts.fetch_chart(tmp_path / "c", lambda url: urls.append(url) or content, _sources(tmp_path, content)) == [
        "Chart.yaml"
    ]
    assert urls == [f"https://raw.githubusercontent.com/o/r/{'c' * 40}/helm_chart/HyperPodHelmChart/Chart.yaml"]
    assert (
        charts.fetch_chart(tmp_path / "c", lambda url: pytest.fail("fetched again"), _sources(tmp_path, content)) == []
    )


def test_charts_fetch_refuses_content_that_differs_from_the_pin(tmp_path):
    with pytest.raises(ValueError, match="does not match the pinned git blob"):
        charts.fetch_chart(tmp_path / "c", lambda url: b"tampered", _sources(tmp_path, b"original"))
    assert not (tmp_path / "c" / "Chart.yaml").exists()


def test_charts_fetch_without_network_says_what_is_missing_and_the_fix(tmp_path):
    def offline(url: str) -> bytes:
        raise OSError("Network is unreachable")

    with pytest.raises(pinned.FetchError) as err:
        charts.fetch_chart(tmp_path / "c", offline, _sources(tmp_path, b"x"))
    assert "python -m stacks charts fetch" in str(err.value) and "\n" not in str(err.value)


def test_the_pin_lists_the_umbrella_chart_and_the_inference_operator_subchart():
    (entry,) = json.loads(charts.SOURCES_FILE.read_text())
    paths = {f["path"] for f in entry["files"]}
    assert entry["commit"] == "011ca927123e02b35a399935bbb3ab1905fe33c7" and len(paths) == 147
    assert {
        "Chart.yaml",
        "values.yaml",
        "charts/inference-operator/Chart.yaml",
        "charts/health-monitoring-agent/Chart.yaml",
    } <= paths
