"""No tracked file points at the project's own issue, incident or bug numbers ("issue 19", "incident
§11", "autotuner bug 3", a devlog's name, `test_item8_...`): a user has none of those notes, so docs,
comments, messages, policy anchors and test names say what happened instead. Upstream projects'
issues stay, written `owner/repo#N` or `owner/repo issue N`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()

INTERNAL = re.compile(
    r"\b(?:issues?|bugs?|incidents?|findings?|items?|deliverables?)\s+#?\d+"
    r"|§\s?\d+"
    r"|autotuner bug"
    r"|devlog"
    r"|\btest_\w*?(?:issue|incident|finding|bug|item|deliverable|perf_eval)_?\d+",
    re.IGNORECASE,
)
UPSTREAM_BEFORE = re.compile(r"[\w.-]+/[\w.-]+\s+$")  # `owner/repo issue N`


def internal_references(text: str) -> list[str]:
    """Each internal reference in `text`, as the matched words; upstream `owner/repo issue N` is allowed."""
    found = []
    for m in INTERNAL.finditer(text):
        if m.group(0).lower().startswith("issue") and UPSTREAM_BEFORE.search(text[max(0, m.start() - 100) : m.start()]):
            continue
        found.append(m.group(0))
    return found


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no tracked-file list to scan")
    return [f for f in out.splitlines() if f and f != SELF]


@pytest.mark.parametrize(
    "text",
    [
        "The gateway config of issue 19.",
        "Dependency direction (Issue 14, item 7)",
        "the router key (incident §11)",
        "incidents §15, §16",
        "perf-eval-eks-notes §1",
        "autotuner bug 11",
        "(bugs 4, 5)",
        'anchors=("maas-kserve-devlog: tiers",)',
        "finding 7 of the review",
        "def test_item8_plan_prints_literally():",
        "def test_g4_incident_13_rollout():",
    ],
)
def test_internal_references_are_found(text):
    assert internal_references(text)


@pytest.mark.parametrize(
    "text",
    [
        "pulumi-kubernetes #3176, #3247",
        "([kubernetes-client/python#2582](https://github.com/kubernetes-client/python/issues/2582))",
        "kubernetes-sigs/aws-load-balancer-controller issue 2894",
        "https://github.com/pulumi/pulumi/issues/2710",
        "a 1-second readiness timeout failed against an engine that answers in just over a second",
        "def test_g4_one_second_probe_timeout_is_caught():",
    ],
)
def test_upstream_references_and_plain_words_pass(text):
    assert internal_references(text) == []


def test_no_tracked_file_cites_internal_issue_incident_or_bug_numbers():
    hits = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        for lineno, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            for ref in internal_references(line):
                hits.append(f"{name}:{lineno}: {ref!r}")
    assert not hits, "say what happened instead of citing an internal number:\n" + "\n".join(hits)
