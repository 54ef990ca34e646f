"""The project owns its docs and its paths. Every relative link in the README and in
docs/ resolves to a file (and heading) inside this repository, and nothing points at the upstream
folder beside it, which users do not have."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Built in two parts so this file does not contain what it looks for.
UPSTREAM = "../" + "shared"
NEEDLE = UPSTREAM.encode()
SCANNED = ["README.md", "docs", "components", "stacks", "policies", "benchmarks", "tests"]

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text a reader sees as links: code blocks and code spans are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


EXPLICIT_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids (lowercase, punctuation dropped, spaces to hyphens) and explicit `<a id>`s."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    ids = set(EXPLICIT_ANCHOR.findall(text))
    for title in HEADING.findall(text):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "")
        ids.add(re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-"))
    return ids


def _broken_links(page: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        where = f"{page.relative_to(root)}: ({target})"
        if not resolved.is_relative_to(root):
            broken.append(f"{where} points outside the repository")
        elif not resolved.exists():
            broken.append(f"{where} points at a missing file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{where} points at a missing heading")
    return broken


def test_every_relative_link_in_readme_and_docs_resolves_inside_the_repository():
    assert len(PAGES) > 5, PAGES  # README plus the docs/ pages
    broken = [line for page in PAGES for line in _broken_links(page)]
    assert broken == []


def test_link_checker_catches_a_link_outside_the_repository_and_a_missing_heading(tmp_path):
    # The checker itself, on a literal repository laid out like a user's clone beside an upstream folder.
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "GUARDRAILS.md").write_text("# Guardrails\n")
    (repo / "docs" / "tuning.md").write_text("# Tuning\n\n## A real engine on this machine\n")
    page = repo / "docs" / "index.md"
    page.write_text(
        f"[old](../{UPSTREAM}/GUARDRAILS.md) [gone](missing.md) [bad](tuning.md#no-such-heading)\n"
        "[ok](tuning.md#a-real-engine-on-this-machine) [web](https://example.com/x) [here](#tuning) `[code](nope.md)`\n"
        "```\n[fenced](nope.md)\n```\n"
    )
    assert _broken_links(page, repo) == [
        f"docs/index.md: (../{UPSTREAM}/GUARDRAILS.md) points outside the repository",
        "docs/index.md: (missing.md) points at a missing file",
        "docs/index.md: (tuning.md#no-such-heading) points at a missing heading",
        "docs/index.md: (#tuning) points at a missing heading",
    ]


def test_nothing_in_the_project_points_at_the_upstream_folder():
    files = []
    for name in SCANNED:
        base = ROOT / name
        files += (
            [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        )
    assert len(files) > 100
    hits = [str(p.relative_to(ROOT)) for p in files if NEEDLE in p.read_bytes()]
    assert hits == []


TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def test_every_test_a_page_names_exists():
    """docs/reliability.md and others cite `tests/...py::test_name`: a renamed test must fail here."""
    refs = {(file, name) for page in PAGES for file, name in TEST_REF.findall(page.read_text(encoding="utf-8"))}
    assert len(refs) > 20, "the reliability page cites its tests"
    missing = [
        f"{file}::{name}"
        for file, name in sorted(refs)
        if not (ROOT / file).is_file()
        or not re.search(rf"^\s*(async )?def {name}\(", (ROOT / file).read_text(encoding="utf-8"), re.M)
    ]
    assert missing == []
