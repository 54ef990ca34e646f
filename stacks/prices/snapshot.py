"""Price snapshot files: `stacks/prices/<region>.json`, one dated, sourced price per (service, instance type).

Readers refuse a file that is malformed or older than `MAX_AGE_DAYS`, with one line naming the file and the
fix (`python -m stacks prices refresh --region R`): a cost computed from a year-old price is a wrong number
that looks right.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from benchmarks import inputs
from benchmarks.outputs import Kind, Output, json_bytes, json_object_with
from components.rules.cost import priced_name

PRICES_DIR = Path(__file__).resolve().parent
MAX_AGE_DAYS = 180
MAX_BYTES = 16 * 1024 * 1024  # one line per instance type and service: the shipped one is a few kilobytes
# ec2: EKS node groups; sagemaker-hyperpod: HyperPod cluster instances (usage type <REGION>-Cluster:ml.*);
# sagemaker-hosting: SageMaker real-time endpoints (<REGION>-Host:ml.*).
Service = Literal["ec2", "sagemaker-hyperpod", "sagemaker-hosting"]


SNAPSHOT_FILE = Kind("price snapshot", "us-east-1.json", json_object_with("schema_version", "region", "prices"))


class SnapshotError(Exception):
    """A snapshot cannot be used: one line with the file, what is wrong and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# price-list-api: read by `prices refresh` (sku, offer term, effective date); price-list-file: a table generated
# from the AWS Price List and kept in a public repository; repository-table: a price table kept by hand in a
# public repository; page: a public web page. The file kinds name repo, commit and path.
SourceKind = Literal["price-list-api", "price-list-file", "repository-table", "page"]
FILE_KINDS = ("price-list-file", "repository-table")


class Source(_Model):
    """Where a price came from: the Price List API, a file in a public repository, or a public page."""

    kind: SourceKind
    url: str | None = None
    sku: str | None = None
    offer_term: str | None = None
    effective_date: str | None = None
    repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # owner/name
    commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    path: str | None = None
    published: str | None = None  # when the source's numbers were produced (generated, last changed)
    note: str | None = None

    @model_validator(mode="after")
    def _where(self) -> Source:
        if self.kind in FILE_KINDS and not (self.repo and self.commit and self.path):
            raise ValueError(f"a {self.kind} source names repo, commit and path")
        if self.kind == "page" and not self.url:
            raise ValueError("a page source names its url")
        return self

    def where(self) -> str:
        """`owner/name@commit7 path`, the url, or the Price List sku."""
        if self.kind in FILE_KINDS:
            return f"{self.repo}@{(self.commit or '')[:8]} {self.path}"
        return self.url or f"AWS Price List API sku {self.sku} {self.offer_term or ''}".strip()


class Price(_Model):
    service: Service
    instance_type: str = Field(min_length=1)  # as the service names it: g5.xlarge, ml.g5.xlarge
    usd_per_hour: float = Field(gt=0)
    source: Source
    taken: dt.date  # when the number was read


class Gap(_Model):
    """An instance type the snapshot has no price for, and why. `*`: every other type of
    components/rules/instances.py for that service."""

    service: Service
    instance_type: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Snapshot(_Model):
    schema_version: Literal[1] = 1
    region: str = Field(min_length=1)
    date: dt.date  # when the snapshot was written
    currency: Literal["USD"] = "USD"
    prices: list[Price] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)  # instance types with no price, and why

    def price(self, service: str, instance_type: str) -> Price | None:
        name = instance_type.strip().lower()
        return next((p for p in self.prices if p.service == service and p.instance_type.lower() == name), None)

    def gap(self, service: str, instance_type: str) -> Gap | None:
        """The gap entry naming this type (not the `*` catch-all)."""
        name = instance_type.strip().lower()
        return next((g for g in self.gaps if g.service == service and g.instance_type.lower() == name), None)


def path_for(region: str, directory: Path | None = None) -> Path:
    return (directory or PRICES_DIR) / f"{region}.json"


def shown(path: Path) -> str:
    """A snapshot path as messages show it: relative to the project (stacks/prices/us-east-1.json) when inside it."""
    try:
        return str(path.resolve().relative_to(PRICES_DIR.parent.parent))
    except ValueError:
        return str(path)


def load(
    region: str, directory: Path | None = None, today: dt.date | None = None, max_age_days: int = MAX_AGE_DAYS
) -> Snapshot:
    path = path_for(region, directory)
    fix = f"run `python -m stacks prices refresh --region {region}`"
    if not path.exists():
        raise SnapshotError(f"{path}: no price snapshot for region {region}. Fix: {fix}")
    try:
        text = inputs.read_text(path, max_bytes=MAX_BYTES, what="price snapshot", fix=fix)
        snap = Snapshot.model_validate(inputs.loads_json(text, str(path), fix))
    except inputs.InputError as exc:
        where = str(exc).removeprefix(f"{path}: ").split("; Fix: ")[0]
        raise SnapshotError(f"{path}: not a price snapshot ({where}). Fix: {fix}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]
        raise SnapshotError(f"{path}: not a price snapshot ({where}). Fix: {fix}") from None
    if snap.region != region:
        raise SnapshotError(f"{path}: holds region {snap.region}, not {region}. Fix: {fix}")
    age = ((today or dt.date.today()) - snap.date).days
    if age > max_age_days:
        raise SnapshotError(
            f"{path}: dated {snap.date}, {age} days old (limit {max_age_days}): prices change. Fix: {fix}"
        )
    return snap


def lookup(
    region: str, service: str, instance_type: str, directory: Path | None = None, today: dt.date | None = None
) -> Price:
    """The on-demand price of one instance, with its source, from the region's snapshot (either spelling,
    g5.xlarge or ml.g5.xlarge); SnapshotError naming the file, the type and the fix when it is missing."""
    name = priced_name(service, instance_type)
    price = load(region, directory, today).price(service, name)
    if price is None:
        raise SnapshotError(
            f"{path_for(region, directory)}: no {service} price for {name}. Fix: run `python -m stacks prices refresh --region {region}`, or use another instance type"
        )
    return price


def hourly_price(
    region: str, service: str, instance_type: str, directory: Path | None = None, today: dt.date | None = None
) -> float:
    """On-demand $/h of one instance (see `lookup`)."""
    return lookup(region, service, instance_type, directory, today).usd_per_hour


def describe(price: Price, region: str) -> str:
    """Where a price came from, in one line: `ec2 g5.xlarge us-east-1 on-demand, <where>, taken 2026-11-28`."""
    return f"{price.service} {price.instance_type} {region} on-demand, {price.source.where()}, taken {price.taken.isoformat()}"


def target(region: str, directory: Path | None = None) -> Output:
    """The snapshot file as an output: written atomically, and only over a price snapshot."""
    path = path_for(region, directory)
    return Output(path, SNAPSHOT_FILE, str(path), parents=True)


def save(snap: Snapshot, directory: Path | None = None) -> Path:
    """OutputError (one line) when the file is not a snapshot or cannot be written."""
    with target(snap.region, directory) as out:
        return out.write(json_bytes(snap.model_dump(mode="json", exclude_none=True), indent=2))
