"""The README's per-example costs are the numbers the plan prints: its table row for each example stack
names what the stack runs and the per-hour and per-month totals `stacks/cost_summary.py` computes from
the shipped snapshots, and says so when part of the stack has no price."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from stacks import cost_summary
from stacks import plan as plan_cmd
from tests.example_stacks import user_values

README = (plan_cmd.PROJECT_DIR / "README.md").read_text()
ROW = re.compile(
    r"^\| (?P<stack>\w+) \| (?P<region>[a-z0-9-]+) \| (?P<instances>[^|]+) \| (?P<hour>[^|]+) \| (?P<month>[^|]+) \|$",
    re.M,
)
ROWS = {m["stack"]: m for m in ROW.finditer(README) if m["stack"] != "stack"}
ALL_EXAMPLES = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in plan_cmd.PROJECT_DIR.glob("Pulumi.*.yaml"))
# An endpoint-only stack (platformStack) runs on its platform stack's instances and adds none of its own.
EXAMPLES = [s for s in ALL_EXAMPLES if not user_values(s).get("llm-serving:platformStack")]
SNAPSHOT_DAY = dt.date(2026, 12, 6)  # the shipped snapshots' date: the check does not go stale with them


def test_the_readme_has_one_cost_row_per_example_stack_that_runs_instances():
    assert sorted(ROWS) == EXAMPLES == ["dev", "eks", "staging"]
    assert [s for s in ALL_EXAMPLES if s not in EXAMPLES] == ["staging-endpoints"]
    assert "`staging-endpoints` runs on `staging`'s instances" in README


@pytest.mark.parametrize("stack", EXAMPLES)
def test_readme_cost_row_equals_what_the_plan_computes(stack):
    cfg = plan_cmd.parse_stack_config(user_values(stack), plan_cmd.project_name(), stack)
    bill, _ = cost_summary.bill(cfg, today=SNAPSHOT_DAY)
    row = ROWS[stack]
    assert row["region"] == cfg.region
    for line in bill.lines:
        assert f"{line.count} x {line.instance_type}" in row["instances"], (stack, line)
    hour, month = row["hour"].strip(), row["month"].strip()
    assert hour.split(" ")[0] == cost_summary.money(bill.per_hour)
    assert month.split(" ")[0] == cost_summary.money(bill.per_month)
    # A partial total says what it leaves out; a whole one says nothing more.
    assert ("+ HyperPod" in hour and "+ HyperPod" in month and "no price" in row["instances"]) == bool(bill.unpriced)
    assert bill.unpriced or (" " not in hour and " " not in month)


def test_readme_numbers_for_the_eks_example_worked_by_hand():
    # 2 x m6i.xlarge $0.192 + 2 x g5.2xlarge $1.212 + 1 x g4dn.xlarge $0.526 = $3.334/h; x 730 h = $2,433.82
    assert (ROWS["eks"]["hour"].strip(), ROWS["eks"]["month"].strip()) == ("$3.33", "$2,433.82")
