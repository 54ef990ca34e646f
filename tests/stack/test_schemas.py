"""Where CRD schemas come from, and how they are checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks import pinned, schemas


def test_explicit_dir_wins_then_env_var(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("kind: CustomResourceDefinition\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "y.yaml").write_text("kind: CustomResourceDefinition\n")
    monkeypatch.setenv(schemas.ENV_VAR, str(tmp_path / "b"))
    assert schemas.find_crd_dir(str(tmp_path / "a")) == (tmp_path / "a", "--crd-dir")
    assert schemas.find_crd_dir() == (tmp_path / "b", f"${schemas.ENV_VAR}")


def test_explicit_dir_that_does_not_exist_is_an_error_not_a_fallback(tmp_path):
    directory, reason = schemas.find_crd_dir(str(tmp_path / "missing"))
    assert directory is None and "--crd-dir" in reason


def test_unknown_fields_are_errors_because_the_api_server_would_prune_them(schema_validator, make_endpoint):
    from components.rules.backends import hyperpod

    obj = hyperpod.endpoint_config(make_endpoint())
    obj["spec"]["worker"]["tolerations"] = []  # not in this CRD version: silently dropped by the API server
    result = schema_validator.validate(obj)
    assert result.status == "failed"
    assert "spec.worker: Additional properties are not allowed ('tolerations' was unexpected)" in result.errors


def test_core_objects_use_the_kubernetes_schemas(schema_validator):
    ok = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"}, "stringData": {"a": "b"}}
    assert schema_validator.validate(ok).status == "passed"
    bad = dict(ok, stringdata={"a": "b"})
    assert schema_validator.validate(bad).status == "failed"


@pytest.mark.parametrize(
    "api_version,kind,spec",
    [
        ("networking.k8s.io/v1", "Ingress", {"ingressClassName": "alb", "rules": [{"http": {"paths": []}}]}),
        ("storage.k8s.io/v1", "StorageClass", None),
    ],
)
def test_built_in_groups_with_dots_are_kubernetes_schemas_not_crds(schema_validator, api_version, kind, spec):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    obj.update({"spec": spec} if spec else {"provisioner": "s3.csi.aws.com"})
    result = schema_validator.validate(obj)
    assert result.status == "passed" and result.source.startswith("kubernetes"), result
    assert schema_validator.validate({**obj, "bogus": 1}).status == "failed"


def test_a_crd_in_a_k8s_io_group_without_a_schema_is_unchecked(schema_validator):
    # No CRD file defines this kind (HTTPRoute no longer serves: the Gateway API bundle defines it).
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "NoSuchRoute", "metadata": {"name": "r"}, "spec": {}}
    assert schema_validator.validate(route).status == "unchecked"


def _sources(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "sources.json"
    path.write_text(
        json.dumps(
            [
                {
                    "local": "hp/x.yaml",
                    "repo": "o/r",
                    "path": "p/x.yaml",
                    "commit": "c" * 40,
                    "blob": pinned.git_blob_id(content),
                    "bytes": len(content),
                }
            ]
        )
    )
    return path


def test_fetch_writes_files_whose_git_blob_matches_the_pin(tmp_path):
    content = b"kind: CustomResourceDefinition\n"
    urls = []
    written = schemas.fetch_crds(
        tmp_path / "cache", lambda url: urls.append(url) or content, _sources(tmp_path, content)
    )
    assert written == ["hp/x.yaml"] and (tmp_path / "cache" / "hp/x.yaml").read_bytes() == content
    assert urls == [f"https://raw.githubusercontent.com/o/r/{'c' * 40}/p/x.yaml"]
    # already cached and verified: nothing fetched again
    assert (
        schemas.fetch_crds(tmp_path / "cache", lambda url: pytest.fail("fetched again"), _sources(tmp_path, content))
        == []
    )


def test_fetch_refuses_content_that_differs_from_the_pin(tmp_path):
    with pytest.raises(ValueError, match="does not match the pinned git blob"):
        schemas.fetch_crds(tmp_path / "cache", lambda url: b"tampered", _sources(tmp_path, b"original"))
    assert not (tmp_path / "cache" / "hp/x.yaml").exists()


def test_pinned_sources_match_the_schema_folder_in_use(crd_dir):
    """The pinned blob ids are those of the files CI (or `crds fetch`) provides."""
    entries = json.loads(schemas.SOURCES_FILE.read_text())
    present = [e for e in entries if (crd_dir / e["local"]).is_file()]
    assert present, f"none of the {len(entries)} pinned files is in {crd_dir}"
    for entry in present:
        assert pinned.git_blob_id((crd_dir / entry["local"]).read_bytes()) == entry["blob"], entry["local"]
