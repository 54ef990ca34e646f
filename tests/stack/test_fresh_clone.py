"""A fresh clone on a user's machine: no schema folder beside the project, no network."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

from rich.console import Console

from stacks import pinned, schemas
from stacks import plan as plan_cmd
from stacks.__main__ import main as cli


def no_schemas(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(schemas.ENV_VAR, raising=False)
    monkeypatch.setattr(schemas, "CACHE_DIR", tmp_path / "empty-cache")


def test_no_schema_folder_is_found_beside_the_project(monkeypatch, tmp_path):
    # No folder of CRDs next to the checkout is looked at (a developer machine may have one):
    # users never do, so the project must not depend on it.
    no_schemas(monkeypatch, tmp_path)
    directory, reason = schemas.find_crd_dir()
    assert directory is None, f"found {directory} although neither --crd-dir, ${schemas.ENV_VAR} nor the cache is set"
    assert "crds fetch" in reason


def test_fetch_without_network_names_what_stays_unchecked_and_the_fix(tmp_path):
    def offline(url: str) -> bytes:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    try:
        schemas.fetch_crds(dest=tmp_path, fetch=offline)
    except pinned.FetchError as exc:
        message = str(exc)
    else:
        raise AssertionError("fetch_crds succeeded without a network")
    assert "Name or service not known" in message
    for group in ("inference.sagemaker.aws.amazon.com", "ome.io", "serving.kserve.io"):
        assert group in message
    assert "python -m stacks crds fetch" in message and schemas.ENV_VAR in message
    assert list(tmp_path.iterdir()) == [], "nothing half-written"


def test_crds_fetch_cli_fails_in_one_line_without_network(monkeypatch, tmp_path, capsys):
    no_schemas(monkeypatch, tmp_path)
    monkeypatch.setattr(schemas, "_urlopen", lambda url: (_ for _ in ()).throw(urllib.error.URLError("offline")))
    assert cli(["crds", "fetch"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("CRD schemas not fetched (offline)")


def test_crds_fetch_is_a_no_op_when_ci_hands_schemas_in(monkeypatch, tmp_path, capsys):
    (tmp_path / "crd.yaml").write_text("kind: CustomResourceDefinition\n")
    monkeypatch.setenv(schemas.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(schemas, "_urlopen", lambda url: (_ for _ in ()).throw(AssertionError("no download expected")))
    assert cli(["crds", "fetch"]) == 0
    assert "nothing to fetch" in capsys.readouterr().out


def test_plan_with_unchecked_custom_resources_does_not_say_a_bare_plan_passed(monkeypatch, tmp_path):
    no_schemas(monkeypatch, tmp_path)
    console = Console(record=True, width=400)
    code = plan_cmd.run("dev", str(tmp_path / "out"), None, "1.33", False, console)
    text = console.export_text()
    assert code == 0
    assert "Plan passed, schemas unchecked for InferenceEndpointConfig" in text
    assert "crds fetch" in text
    assert "Plan passed." not in text


def test_pinned_groups_are_read_from_the_sources_file(tmp_path):
    sources = tmp_path / "sources.json"
    sources.write_text(
        json.dumps(
            [{"path": "config/crd/full/serving.kserve.io_inferenceservices.yaml"}, {"path": "x/ome.io_basemodels.yaml"}]
        )
    )
    assert schemas.pinned_groups(sources) == ["ome.io", "serving.kserve.io"]
