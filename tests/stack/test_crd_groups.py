"""The message of a `crds fetch` without network names the API groups whose custom resources stay
unchecked, and only groups: the Gateway API bundle (envoyproxy/gateway@097ab899
charts/gateway-helm/charts/crds/crds/gatewayapi-crds.yaml, pinned by blob f3795401) used to appear as
its file name `gatewayapi-crds.yaml` among them."""

from __future__ import annotations

import json
import re

import pytest

from stacks import schemas
from stacks.pinned import FetchError

GROUP = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")


def test_pinned_groups_are_api_groups_and_the_gateway_api_bundle_names_its_own():
    groups = schemas.pinned_groups()
    assert all(GROUP.match(g) and not g.endswith(".yaml") for g in groups), groups
    assert {"gateway.networking.k8s.io", "gateway.networking.x-k8s.io"} <= set(groups)


def test_a_bundle_without_groups_adds_no_file_name(tmp_path):
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps([{"path": "crds/gatewayapi-crds.yaml"}, {"path": "x/ome.io_basemodels.yaml"}]))
    assert schemas.pinned_groups(sources) == ["ome.io"]


def test_the_offline_message_lists_groups_only():
    def offline(url: str) -> bytes:
        raise OSError("network is unreachable")

    with pytest.raises(FetchError) as caught:
        schemas.fetch_crds(schemas.CACHE_DIR.parent / "never-written", offline)
    listed = str(caught.value).split("custom resources of ", 1)[1].split(" stay ", 1)[0].split(", ")
    assert listed == schemas.pinned_groups() and "gatewayapi-crds.yaml" not in str(caught.value)


def test_the_groups_listed_for_a_bundle_are_the_groups_inside_the_pinned_file(crd_dir):
    for entry in json.loads(schemas.SOURCES_FILE.read_text()):
        path = crd_dir / entry["local"]
        if not path.is_file():
            continue
        inside = set(re.findall(r"^  group: (\S+)$", path.read_text(), re.M))  # spec.group of each CRD in the file
        expected = set(entry.get("groups") or [entry["path"].rsplit("/", 1)[-1].split("_")[0]])
        assert inside == expected, entry["local"]
