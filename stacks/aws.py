"""The thin AWS client layer: every boto3 call the project makes, each turning AWS errors into one
clear line (`AwsError`). Tested with moto; Service Quotas with botocore's Stubber (moto 5.2 has
no EC2 or SageMaker quotas)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

T = TypeVar("T")
_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=15)

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "403"}
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}


class AwsError(Exception):
    """One line: what was attempted, what AWS said, what to do."""


class Aws:
    """boto3 clients for one region; `factory` is injectable for tests (moto, Stubber)."""

    def __init__(self, region: str, factory: Callable[..., Any] | None = None):
        self.region = region
        self._factory = factory or (
            lambda service, region_name: boto3.client(service, region_name=region_name, config=_CONFIG)
        )
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._factory(service, region_name=key[1])
        return self._clients[key]

    # ------------------------------------------------------------ calls

    def s3_keys(self, bucket: str, prefix: str, region: str | None = None, limit: int = 10_000) -> list[str]:
        what = f"list s3://{bucket}/{prefix}"

        def run() -> list[str]:
            keys: list[str] = []
            pages = self.client("s3", region).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                keys += [o["Key"] for o in page.get("Contents", [])]
                if len(keys) >= limit:
                    break
            return keys

        return guarded(what, run, f"s3:ListBucket on arn:aws:s3:::{bucket}")

    def s3_object(
        self,
        bucket: str,
        key: str,
        region: str | None = None,
        byte_range: tuple[int, int] | None = None,
        max_bytes: int = 32 << 20,
    ) -> tuple[bytes, str] | None:
        """(bytes, ETag) of one object, or of `byte_range` (inclusive) of it; None when there is no such key.
        Refused past `max_bytes` (a model's JSON files are kilobytes)."""
        from benchmarks import inputs

        def run() -> tuple[bytes, str] | None:
            extra = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
            try:
                resp = self.client("s3", region).get_object(Bucket=bucket, Key=key, **extra)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            body = inputs.read_capped(resp["Body"].read, max_bytes, f"s3://{bucket}/{key}")
            return body, str(resp.get("ETag", "")).strip('"')

        return guarded(f"read s3://{bucket}/{key}", run, f"s3:GetObject on arn:aws:s3:::{bucket}/{key}")

    def instance_type_offered(self, instance_type: str) -> bool:
        def run() -> bool:
            resp = self.client("ec2").describe_instance_type_offerings(
                LocationType="region", Filters=[{"Name": "instance-type", "Values": [instance_type]}]
            )
            return bool(resp.get("InstanceTypeOfferings"))

        return guarded(
            f"look up instance type {instance_type} in {self.region}", run, "ec2:DescribeInstanceTypeOfferings"
        )

    def quota(self, service_code: str, quota_code: str) -> float:
        def run() -> float:
            return float(
                self.client("service-quotas").get_service_quota(ServiceCode=service_code, QuotaCode=quota_code)[
                    "Quota"
                ]["Value"]
            )

        return guarded(f"read quota {service_code}/{quota_code} in {self.region}", run, "servicequotas:GetServiceQuota")

    def quotas_named(self, service_code: str, pattern: str) -> dict[str, float]:
        """Quotas of a service whose name matches a glob (`ml.g5.12xlarge for cluster usage`)."""

        def run() -> dict[str, float]:
            out: dict[str, float] = {}
            for page in (
                self.client("service-quotas").get_paginator("list_service_quotas").paginate(ServiceCode=service_code)
            ):
                for q in page.get("Quotas", []):
                    if fnmatch.fnmatch(q.get("QuotaName", "").lower(), pattern.lower()):
                        out[q["QuotaName"]] = float(q["Value"])
            return out

        return guarded(f"list {service_code} quotas in {self.region}", run, "servicequotas:ListServiceQuotas")

    def acm_certificate(self, arn: str, region: str) -> dict[str, Any] | None:
        """`describe_certificate`'s Certificate (Status, DomainName, SubjectAlternativeNames), or None when the
        account has no such certificate in `region` (ResourceNotFoundException)."""

        def run() -> dict[str, Any] | None:
            try:
                return dict(self.client("acm", region).describe_certificate(CertificateArn=arn)["Certificate"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return None
                raise

        return guarded(f"describe ACM certificate {arn} in {region}", run, "acm:DescribeCertificate")

    def amp_workspace_status(self, workspace_id: str, region: str) -> str | None:
        """The workspace's `status.statusCode` (`ACTIVE`, `CREATING`, ...), or None when the account has no
        such workspace in `region`."""

        def run() -> str | None:
            try:
                return str(
                    self.client("amp", region).describe_workspace(workspaceId=workspace_id)["workspace"]["status"][
                        "statusCode"
                    ]
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return None
                raise

        return guarded(f"describe Prometheus workspace {workspace_id} in {region}", run, "aps:DescribeWorkspace")

    def hyperpod_status(self, cluster: str) -> str:
        return guarded(
            f"describe HyperPod cluster {cluster}",
            lambda: str(self.client("sagemaker").describe_cluster(ClusterName=cluster)["ClusterStatus"]),
            "sagemaker:DescribeCluster",
        )


def guarded(what: str, run: Callable[[], T], permission: str) -> T:
    try:
        return run()
    except NoCredentialsError:
        raise AwsError(f"{what}: no AWS credentials. Fix: set AWS_PROFILE or run `aws configure`") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")).splitlines()[0] if err.get("Message") else code
        if code in ACCESS_DENIED:
            raise AwsError(f"{what}: access denied. Fix: grant {permission} to the caller") from None
        if code in THROTTLED:
            raise AwsError(f"{what}: throttled by AWS ({code}). Fix: retry in a minute") from None
        if code in ("NoSuchBucket",):
            raise AwsError(f"{what}: the bucket does not exist. Fix: check modelSource.bucket and region") from None
        raise AwsError(f"{what}: {code}: {message}") from None
    except BotoCoreError as exc:
        raise AwsError(f"{what}: {str(exc).splitlines()[0]}") from None
