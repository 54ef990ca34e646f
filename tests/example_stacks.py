"""The shipped example stacks as a user runs them: with the lines marked `# SET THIS` that the plan
checks filled in, the way a user edits the file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from stacks import plan as plan_cmd

# A user's CI egress address (a NAT gateway's Elastic IP); not a documentation range.
USER_API_CIDRS = ["34.201.17.8/32"]
# A user's ACM certificate (S2). The plan cannot tell accounts apart (preflight looks the ARN up in ACM),
# so the documentation account's ARN the goldens were made with serves.
USER_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
# A user's Route 53 zone for the endpoint names and the certificate the stack issues (S2).
USER_DOMAIN = {"name": "llm.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
# What a user sets per stack: config key (dotted below the project's) -> key -> value.
USER_SET: dict[str, dict[str, dict[str, Any]]] = {
    "eks": {
        "cluster": {"publicAccessCidrs": USER_API_CIDRS},
        "platform.ingress": {"certificateArn": USER_CERTIFICATE_ARN},
        "gateway": {"certificateArn": USER_CERTIFICATE_ARN},
    },
    "staging": {"cluster": {"publicAccessCidrs": USER_API_CIDRS}},
    "staging-endpoints": {"platform.ingress": {"domain": USER_DOMAIN}},
}


def _merged(values: dict[str, Any], path: list[str], keys: dict[str, Any]) -> dict[str, Any]:
    if not path:
        return {**values, **keys}
    return {**values, path[0]: _merged(values.get(path[0]) or {}, path[1:], keys)}


def user_values(stack: str) -> dict[str, Any]:
    """The stack file's config map with the user's values set."""
    values = plan_cmd.read_stack_config(stack)
    for dotted, keys in USER_SET.get(stack, {}).items():
        config_key, *below = dotted.split(".")
        values = _merged(values, [f"{plan_cmd.project_name()}:{config_key}", *below], keys)
    return values


def user_plan(stack: str, **kwargs: Any) -> plan_cmd.Plan:
    return plan_cmd.build_plan_from_values(stack, user_values(stack), **kwargs)


def user_project(directory: Path, stack: str) -> Path:
    """A project folder whose Pulumi.<stack>.yaml has the user's values in place of `[]` / `null`, beside its
    platform stack's file when it is an endpoints-only stack (the plan reads that file's node groups)."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(plan_cmd.PROJECT_DIR / name, directory / name)
    text = (plan_cmd.PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()
    platform = re.search(rf"^  {plan_cmd.project_name()}:platformStack: ([\w.-]+)", text, re.MULTILINE)
    if platform and (plan_cmd.PROJECT_DIR / f"Pulumi.{platform.group(1)}.yaml").is_file():
        user_project(directory, platform.group(1))
    for dotted, keys in USER_SET.get(stack, {}).items():
        # The key's line inside its config block (`  llm-serving:<key>:` up to the next block).
        block = re.search(
            rf"^  {plan_cmd.project_name()}:{dotted.split('.')[0]}:\n(?:(?:    .*)?\n)*", text, re.MULTILINE
        )
        assert block, f"Pulumi.{stack}.yaml: no {dotted.split('.')[0]} block"
        body = block.group(0)
        for key, value in keys.items():
            unset = re.compile(rf"^( +{key}): (\[\]|null)   # SET THIS", re.MULTILINE)
            assert len(unset.findall(body)) == 1, (
                f"Pulumi.{stack}.yaml: no `{key}: [] / null   # SET THIS` line under {dotted}"
            )
            body = unset.sub(lambda m: f"{m.group(1)}: {json.dumps(value)}   # SET THIS", body)  # noqa: B023 - the substitution runs within this iteration
        text = text[: block.start()] + body + text[block.end() :]
    (directory / f"Pulumi.{stack}.yaml").write_text(text)
    return directory
