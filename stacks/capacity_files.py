"""Reading the capacity files endpoints name (`capacity:`), relative to the project directory, and applying
the capacity contract (rule C1) with the pure checks of components/rules/capacity.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from components.rules import capacity as rules
from components.rules import capacity_autoscaling
from components.rules.catalog import C1
from components.rules.paths import STACK_FILE, ConfigPaths
from components.rules.problems import Change, Problem
from components.rules.spec import EndpointSpec

from . import yamlio

MAX_BYTES = 1 << 20  # a capacity file is a few hundred bytes


def read(path_text: str, project_dir: Path, where: str) -> tuple[rules.CapacityFile | None, list[Problem]]:
    """The parsed file (JSON, read as YAML 1.1, of which it is a subset), or one problem naming it."""
    path = project_dir / path_text
    if not path.exists():  # anything else that exists goes to the reader, which names what it is
        return None, [
            Problem(
                where,
                path_text,
                C1,
                f"no capacity file at {path}",
                "give the path, relative to the project directory, of a file that stacks report --export-capacity wrote",
            )
        ]
    try:
        doc = yamlio.load_file(path, max_bytes=MAX_BYTES)
        return rules.CapacityFile.model_validate(doc), []
    except yamlio.YamlInputError as exc:
        return None, [
            Problem(
                where,
                path_text,
                C1,
                f"not a capacity file: {exc}",
                "export it again with stacks report --export-capacity",
            )
        ]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        return None, [
            Problem(
                where,
                path_text,
                C1,
                f"not a capacity file of schema version {rules.SCHEMA_VERSION}: {field}: {err['msg']}",
                "export it again with stacks report --export-capacity",
            )
        ]


class Applied(NamedTuple):
    endpoints: list[EndpointSpec]  # with the autoscaling `fromCapacity` derived
    problems: list[Problem]  # C1; a file that does not match warns, per field, and leaves the contract advisory
    changes: list[Change]  # the derived targets and $ a month at peak, for the plan's change log
    contracts: list[dict[str, Any] | None]  # per endpoint, the C1 numbers its scaled object records


def apply(
    endpoints: list[EndpointSpec],
    project_dir: Path,
    paths: ConfigPaths = STACK_FILE,
    prometheus_server: str | None = None,
) -> Applied:
    """C1 for every endpoint; `prometheus_server` is platform.prometheusServerAddress (fromCapacity's trigger reads it)."""
    out, problems, changes, contracts = [], [], [], []
    for i, spec in enumerate(endpoints):
        path = paths.endpoint(i)
        cap: rules.CapacityFile | None = None
        found: list[Problem] = []
        if spec.capacity:
            cap, found = read(spec.capacity, project_dir, f"{path}.capacity")
            if cap is not None:
                found += rules.stand_in(cap, path, spec.capacity)
                differ = rules.mismatches(spec, cap, path, spec.capacity)
                found += [Problem(p.path, p.value, p.rule, p.message, p.fix, severity="warning") for p in differ]
                cap = None if differ else cap
        problems += found
        problems += rules.check_contract(spec, cap, path, spec.capacity)
        contracts.append(rules.contract(spec, cap, spec.capacity))
        changes += rules.peak_cost(spec, cap, path, spec.capacity)
        scaling, made, refused = capacity_autoscaling.derive_autoscaling(
            spec, cap, path, spec.capacity, prometheus_server
        )
        problems += refused
        changes += made
        out.append(spec.model_copy(update={"autoscaling": scaling}) if scaling is not None else spec)
    return Applied(out, problems, changes, contracts)
