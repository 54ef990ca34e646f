"""`python -m stacks prices refresh --region R`: on-demand prices from the AWS Price List API into
`stacks/prices/<R>.json`, for every instance type of `components/rules/instances.py`.

Queries (boto3 `pricing`, `get_products`, paginated; the API answers from us-east-1):
- EC2 (`AmazonEC2`): Linux, shared tenancy, no pre-installed software, capacity status Used, the
  `BoxUsage:<type>` usage type (on-demand; dedicated and reservation usage types are other products);
- SageMaker HyperPod (`AmazonSageMaker`): usage type `<REGION>-Cluster:ml.<type>`, the line HyperPod
  cluster instances bill under (AWS Cost and Usage Report; "SageMaker HyperPod pricing",
  https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-ref.html);
- SageMaker hosting (`AmazonSageMaker`): usage type `<REGION>-Host:ml.<type>` (real-time endpoints).
Filter types TERM_MATCH / CONTAINS / ANY_OF: botocore service model `pricing` 2017-10-15, `Filter.Type`;
ANY_OF's values are one comma-separated string of at most 1024 characters (API Reference, `Filter`).
Each item of `PriceList` is a JSON string (product, terms.OnDemand with priceDimensions per hour).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

import boto3

from benchmarks import inputs
from benchmarks.outputs import OutputError
from components.rules import instances

from ..aws import _CONFIG, AwsError, guarded
from .snapshot import Gap, Price, Snapshot, Source, save, target

PRICING_ENDPOINT_REGION = "us-east-1"
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
USAGE = {"sagemaker-hyperpod": "Cluster:", "sagemaker-hosting": "Host:"}
# Wall-clock seconds for one service's query, all pages: botocore's connect/read timeouts (stacks/aws.py
# _CONFIG) bound each socket read only, so a server sending a byte a second would never trip them.
DEFAULT_TIMEOUT = 300.0


def _filters(**terms: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


def queries(region: str, types: list[str]) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """service -> (ServiceCode, Filters)."""
    ec2 = _filters(
        regionCode=region, operatingSystem="Linux", tenancy="Shared", preInstalledSw="NA", capacitystatus="Used"
    )
    ec2.append({"Type": "ANY_OF", "Field": "instanceType", "Value": ",".join(types)})
    sagemaker = {
        s: (
            "AmazonSageMaker",
            [*_filters(regionCode=region), {"Type": "CONTAINS", "Field": "usagetype", "Value": f"{u}ml."}],
        )
        for s, u in USAGE.items()
    }
    return {"ec2": ("AmazonEC2", ec2), **sagemaker}


def instance_name(service: str, attributes: dict[str, Any]) -> str | None:
    """The instance type a product prices, or None for a product of another kind (dedicated, reserved, storage)."""
    usage = str(attributes.get("usagetype", ""))
    if service == "ec2":
        name = str(attributes.get("instanceType", ""))
        return name if usage.endswith(f"BoxUsage:{name}") else None
    marker = USAGE[service]
    if marker not in usage:
        return None
    name = usage.split(marker, 1)[1]
    return name if re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", name) else None  # ml.g5.xlarge, not ml.g5.xlarge-Reserved


def on_demand(item: dict[str, Any]) -> tuple[float, Source] | None:
    """The hourly on-demand price of one Price List product, with its SKU, offer term and effective date."""
    for term in (item.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = float((dim.get("pricePerUnit") or {}).get("USD", "0") or 0)
            if dim.get("unit") == "Hrs" and usd > 0:
                return usd, Source(
                    kind="price-list-api",
                    sku=term.get("sku") or item.get("product", {}).get("sku"),
                    offer_term=term.get("offerTermCode"),
                    effective_date=term.get("effectiveDate"),
                )
    return None


def fetch(
    client: Any,
    region: str,
    today: dt.date,
    services: Iterable[str] = ("ec2", "sagemaker-hyperpod", "sagemaker-hosting"),
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[Snapshot, list[str]]:
    """Every wanted price; the warnings name each instance type the API had no price for."""
    ec2_types = sorted(instances.INSTANCE_TYPES)
    wanted = {
        "ec2": ec2_types,
        "sagemaker-hyperpod": [instances.sagemaker_name(t) for t in ec2_types],
        "sagemaker-hosting": [instances.sagemaker_name(t) for t in ec2_types],
    }
    prices: list[Price] = []
    warnings: list[str] = []
    gaps: list[Gap] = []
    for service in services:
        code, filters = queries(region, ec2_types)[service]

        def run(code: str = code, filters: Any = filters) -> list[str]:
            pages = client.get_paginator("get_products").paginate(
                ServiceCode=code,
                Filters=filters,
                FormatVersion="aws_v1",
            )
            return [item for page in pages for item in page.get("PriceList", [])]

        found: dict[str, Price] = {}
        what = f"read {code} prices for {region} from the Price List API"
        try:
            items = inputs.within(timeout, lambda: guarded(what, run, "pricing:GetProducts"), what)  # noqa: B023 - the lambda is called within this iteration
        except inputs.DeadlineExceeded:
            raise AwsError(
                f"{what}: no complete answer within {timeout:g} s. Fix: retry, or give more time with --timeout"
            ) from None
        for raw in items:
            try:
                item = (
                    inputs.loads_json(raw, f"{what}: a PriceList item", "retry; the API sent a malformed item")
                    if isinstance(raw, str)
                    else raw
                )
            except inputs.InputError as exc:
                raise AwsError(str(exc)) from None
            if not isinstance(item, dict):
                raise AwsError(
                    f"{what}: a PriceList item is a JSON {type(item).__name__}, not an object. Fix: retry; the API sent a malformed item"
                )
            name = instance_name(service, item.get("product", {}).get("attributes", {}))
            price = on_demand(item)
            if name in wanted[service] and price is not None and name not in found:
                found[name] = Price(
                    service=service, instance_type=name, usd_per_hour=price[0], source=price[1], taken=today
                )
        missing = [t for t in wanted[service] if t not in found]
        if missing:
            warnings.append(
                f"{service} in {region}: no on-demand price for {', '.join(missing)} (not offered there, or not in the Price List); left out of the snapshot"
            )
            gaps += [
                Gap(
                    service=service,
                    instance_type=t,
                    reason=f"the Price List API had no on-demand price for it in {region} on {today.isoformat()} (not offered there, or not in the Price List)",
                )
                for t in missing
            ]
        prices += [found[t] for t in wanted[service] if t in found]
    return Snapshot(region=region, date=today, prices=prices, gaps=gaps), warnings


def main(
    region: str,
    console: Any,
    out_dir: Any = None,
    client_factory: Callable[[], Any] | None = None,
    today: dt.date | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    from ..literal import labelled, plain

    if not REGION_PATTERN.match(region):
        console.print(
            labelled("error", "red", f"--region {region!r} is not an AWS region name. Fix: give one such as us-east-1"),
            soft_wrap=True,
        )
        return 2
    try:
        target(region, out_dir).check()  # a file that is not a snapshot is refused before the first request
    except OutputError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 2
    client = (
        client_factory or (lambda: boto3.client("pricing", region_name=PRICING_ENDPOINT_REGION, config=_CONFIG))
    )()
    try:
        snap, warnings = fetch(client, region, today or dt.date.today(), timeout=timeout)
    except AwsError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 1
    for line in warnings:
        console.print(labelled("warning", "yellow", line), soft_wrap=True)
    if not snap.prices:  # a region name AWS does not know: keep whatever snapshot exists
        console.print(
            labelled(
                "error",
                "red",
                f"the Price List API has no price for any instance type in {region}; nothing written. Fix: check the region name",
            ),
            soft_wrap=True,
        )
        return 1
    try:
        path = save(snap, out_dir)
    except OutputError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 1
    console.print(plain(f"{len(snap.prices)} price(s) for {region} written to {path}"), soft_wrap=True)
    return 0
