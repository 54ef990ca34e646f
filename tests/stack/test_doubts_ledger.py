"""Doubts live in one ledger, docs/doubts.md. Each entry says what is assumed, what breaks if it is
wrong, what was read (an upstream `owner/repo@ref path`, or "closed source"), and the check that
catches it at `pulumi up` or in `stacks status`. Any other doc that says "verify", "unverified" or
"doubt" is a doubt written outside the ledger."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "docs" / "doubts.md"
SKIPPED = {".git", "venv", ".venv", "node_modules", ".pytest_cache"}
FIELDS = ("Assumed", "Breaks if wrong", "Read", "Caught by")
# `verify-full`/`verify-ca` are PostgreSQL sslmode values, not a request to check something.
DOUBT_WORDS = re.compile(r"\b(verify|verified|verifiable|unverified|doubts?)\b(?!-(?:full|ca)\b)", re.IGNORECASE)
UPSTREAM_CITATION = re.compile(r"[\w.-]+/[\w.-]+@[\w.-]+ \S+")


def entries(text: str) -> dict[str, dict[str, str]]:
    """`## title` sections and their `- **Field:** text` bullets."""
    found: dict[str, dict[str, str]] = {}
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, _, body = block.partition("\n")
        fields = dict(re.findall(r"^- \*\*([^*]+?):\*\* (.+(?:\n  .+)*)", body, flags=re.MULTILINE))
        found[title.strip()] = {k: " ".join(v.split()) for k, v in fields.items()}
    return found


def markdown_outside_the_ledger() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.md") if p != LEDGER and not SKIPPED & set(p.relative_to(ROOT).parts))


def test_every_ledger_entry_names_the_breakage_the_source_and_the_check():
    ledger = entries(LEDGER.read_text(encoding="utf-8"))
    assert len(ledger) >= 5
    incomplete = {title: [f for f in FIELDS if not fields.get(f)] for title, fields in ledger.items()}
    assert {t: missing for t, missing in incomplete.items() if missing} == {}
    unsourced = [
        t
        for t, f in ledger.items()
        if "closed source" not in f["Read"].lower() and not UPSTREAM_CITATION.search(f["Read"])
    ]
    assert unsourced == []


def test_no_doc_outside_the_ledger_names_a_doubt_or_asks_to_verify():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}"
        for path in markdown_outside_the_ledger()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if DOUBT_WORDS.search(line) and "doubts.md" not in line
    ]
    assert hits == []


def test_the_entry_parser_reads_fields_and_the_word_check_catches_a_doubt():
    sample = "## A thing\n- **Assumed:** x\n- **Breaks if wrong:** y\n  continued\n- **Read:** closed source\n- **Caught by:** z\n"
    assert entries(sample) == {
        "A thing": {"Assumed": "x", "Breaks if wrong": "y continued", "Read": "closed source", "Caught by": "z"}
    }
    assert (
        DOUBT_WORDS.search("Not verified here")
        and DOUBT_WORDS.search("Doubt: the port")
        and not DOUBT_WORDS.search("verification-free")
    )
    assert not DOUBT_WORDS.search("?sslmode=verify-full") and DOUBT_WORDS.search("verify the full path")
