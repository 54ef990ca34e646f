"""The shipped example stacks as a user runs them: with the lines marked `# SET THIS` that the plan
checks filled in, the way a user edits the file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from stacks import plan as plan_cmd

# A user's CI egress address (a NAT gateway's Elastic IP); not a documentation range.
USER_API_CIDRS = ["34.201.17.8/32"]
# What a user sets per stack, as cluster keys.
USER_SET: dict[str, dict[str, Any]] = {
    "eks": {"publicAccessCidrs": USER_API_CIDRS},
    "staging": {"publicAccessCidrs": USER_API_CIDRS},
}


def user_values(stack: str) -> dict[str, Any]:
    """The stack file's config map with the user's values set."""
    values = plan_cmd.read_stack_config(stack)
    key = f"{plan_cmd.project_name()}:cluster"
    return {**values, key: {**values[key], **USER_SET.get(stack, {})}}


def user_plan(stack: str, **kwargs: Any) -> plan_cmd.Plan:
    return plan_cmd.build_plan_from_values(stack, user_values(stack), **kwargs)


def user_project(directory: Path, stack: str) -> Path:
    """A project folder whose Pulumi.<stack>.yaml has the user's values in place of `[]`."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(plan_cmd.PROJECT_DIR / name, directory / name)
    text = (plan_cmd.PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()
    for key, value in USER_SET.get(stack, {}).items():
        unset = f"    {key}: []   # SET THIS"
        assert text.count(unset) == 1, f"Pulumi.{stack}.yaml: no `{unset}` line"
        text = text.replace(unset, f"    {key}: {value!r}   # SET THIS".replace("'", '"'))
    (directory / f"Pulumi.{stack}.yaml").write_text(text)
    return directory
