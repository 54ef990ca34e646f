"""Pool routing as a tuning dimension (`kubernetes.routing: [service, inferencePool]`): the shipped grid's points
are all to try against its base stack with the gateway the grid gives its trials; a pool point no trial can run is
pruned with its rule (no gateway: CONFIG; another backend: CONFIG; target local: TARGET); and the driver stops a
pool point before `up`, since it would otherwise time the Service's round robin and call it the pool's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.tuning import grid as grid_mod
from stacks.tuning.deploy import DeployError
from stacks.tuning.pulumi_target import PulumiDeployer, with_cluster_context
from tests.tuning.test_base_stack import EKS, grid_file, project

GRIDS = Path(grid_mod.__file__).resolve().parents[1] / "grids"
BASE = {
    "name": "ep",
    "model": "org/m",
    "engine": "vllm",
    "instanceType": "g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "models"},
    "backend": "kubernetes",
}
GATEWAY = {
    "enabled": True,
    "counterStore": "in-cluster",
    "tiers": [{"name": "bench", "tokensPerMinute": 1000000}],
    "tenants": [{"name": "tuner", "tier": "bench"}],
}
EKS_G5 = {
    **EKS,
    "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.12xlarge", "minSize": 0, "desiredSize": 1, "maxSize": 1}],
}


def points(path: Path) -> list[grid_mod.Point]:
    return grid_mod.expand(with_cluster_context(grid_mod.load(path)))


def errors(found: list[grid_mod.Point]) -> dict[str, set[str]]:
    return {
        p.params.get("kubernetes.routing", "-") + "/" + str(p.params.get("backend", "kubernetes")): {
            str(x) for x in p.problems if x.severity == "error"
        }
        for p in found
    }


def test_the_shipped_pool_grid_has_every_point_to_try_as_shipped(monkeypatch):
    """It brings its own cluster, so no SET THIS value of another stack stands between a user and its dry run."""
    monkeypatch.chdir(GRIDS.parent.parent)  # pulumi.projectDir: . is the project, where `tune` runs
    found = points(GRIDS / "qwen3-4b-pool-routing.yaml")
    assert sorted((p.params["kubernetes.routing"], p.params["engine"], p.pruned) for p in found) == [
        ("inferencePool", "sglang", False),
        ("inferencePool", "vllm", False),
        ("service", "sglang", False),
        ("service", "vllm", False),
    ]


def _grid(tmp_path: Path, parameters: dict, gateway: dict | None) -> Path:
    directory = project(tmp_path, "plain", EKS_G5)
    path = grid_file(tmp_path, directory, "plain", parameters, BASE)
    if gateway is not None:
        doc = yaml.safe_load(path.read_text())
        doc["pulumi"]["config"] = {"llm-serving:gateway": gateway}
        path.write_text(yaml.safe_dump(doc))
    return path


def test_pool_points_without_a_trial_gateway_are_pruned_with_the_config_line(tmp_path):
    found = errors(points(_grid(tmp_path, {"kubernetes.routing": ["service", "inferencePool"]}, None)))
    assert found["service/kubernetes"] == set()
    assert found["inferencePool/kubernetes"] == {
        (
            "base.kubernetes.routing = 'inferencePool': [CONFIG] an InferencePool is reached only through a Gateway route, and an ALB cannot target one: "
            "without the tenant gateway nothing would send traffic to the pool. Fix: set Pulumi.plain.yaml:gateway.enabled: true (a tuning grid: `llm-serving:gateway` in "
            "pulumi.config, since trials leave the base stack's gateway), or kubernetes.routing: service"
        )
    }


def test_pool_points_on_a_backend_without_pools_are_pruned(tmp_path):
    found = errors(
        points(_grid(tmp_path, {"kubernetes.routing": ["inferencePool"], "backend": ["kubernetes", "kserve"]}, GATEWAY))
    )
    assert not any("kubernetes.routing" in line for line in found["inferencePool/kubernetes"])
    assert any(
        line.startswith(
            "base.kubernetes.routing = 'inferencePool': [CONFIG] pool routing is rendered by the kubernetes backend only"
        )
        for line in found["inferencePool/kserve"]
    )


def test_pool_points_on_target_local_are_pruned_with_target(tmp_path):
    doc = {
        "name": "g",
        "target": "local",
        "base": {**BASE, "instanceType": "g5.xlarge"},
        "parameters": {"kubernetes.routing": ["service", "inferencePool"]},
    }
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(doc))
    found = {
        p.params["kubernetes.routing"]: [(x.rule, x.path) for x in p.problems if x.severity == "error"]
        for p in grid_mod.expand(grid_mod.load(path))
    }
    assert found == {"service": [], "inferencePool": [("TARGET", "kubernetes.routing")]}


class _Runner:
    def __init__(self):
        self.ups: list[str] = []

    def up(self, stack, config, log):
        self.ups.append(stack)
        return {}


def test_the_driver_stops_a_pool_point_before_up(tmp_path):
    path = _grid(tmp_path, {"kubernetes.routing": ["inferencePool"]}, GATEWAY)
    grid = with_cluster_context(grid_mod.load(path))
    (point,) = grid_mod.expand(grid)
    runner = _Runner()
    deployer = PulumiDeployer(grid.pulumi, runner, tmp_path / "logs", "g")
    with pytest.raises(
        DeployError, match="measured through the tenant gateway, which the tuning driver does not call yet"
    ):
        deployer.start("k1", point.spec)
    assert runner.ups == []
