"""Reading a model in S3: `config.json` and the safetensors index (or headers) under the model source's
prefix; the revision is config.json's ETag, so a re-upload shows as a changed lock entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from benchmarks import inputs
from components.rules.model_facts import ModelFacts
from components.rules.model_files import ModelFilesError, facts, header_length, quantization
from components.rules.spec import S3Source

from ..aws import Aws, AwsError
from .hub import INDEX, SINGLE, HubError


def prefix_of(src: S3Source) -> str:
    return src.path if not src.path or src.path.endswith("/") else src.path + "/"


def url_of(src: S3Source, name: str = "") -> str:
    return f"s3://{src.bucket}/{prefix_of(src)}{name}"


def lock_facts(aws: Aws, model: str, src: S3Source, region: str, today: dt.date | None = None) -> ModelFacts:
    """The facts of the checkpoint at `src` (HubError lines, like the hub's, for the caller to print)."""
    prefix, where = prefix_of(src), src.region or region

    def get(
        name: str, byte_range: tuple[int, int] | None = None, max_bytes: int = 32 << 20
    ) -> tuple[bytes, str] | None:
        try:
            return aws.s3_object(src.bucket, prefix + name, where, byte_range, max_bytes)
        except AwsError as exc:
            raise HubError(f"{model}: {exc}") from None
        except inputs.InputError as exc:
            raise HubError(f"{model}: {exc}") from None

    def json_of(name: str, data: bytes) -> Any:
        source = f"{model}: {url_of(src, name)}"
        try:
            return inputs.loads_json(inputs.decode(data, source, "re-upload the file"), source, "re-upload the file")
        except inputs.InputError as exc:
            raise HubError(str(exc)) from None

    def header(name: str, missing: str) -> dict[str, Any]:
        first = get(name, (0, 7), 8)
        if first is None:
            raise HubError(missing)
        try:
            length = header_length(first[0], url_of(src, name))
        except ModelFilesError as exc:
            raise HubError(str(exc)) from None
        body = get(name, (8, 8 + length - 1), length)
        doc = json_of(name, body[0] if body else b"")
        if not isinstance(doc, dict):
            raise HubError(
                f"{model}: {url_of(src, name)}: the safetensors header is not a JSON object. Fix: re-upload the file"
            )
        return doc

    found = get("config.json")
    if found is None:
        raise HubError(
            f"{model}: no {url_of(src, 'config.json')} [G14]. Fix: upload the model there or correct modelSource.path"
        )
    config, etag = json_of("config.json", found[0]), found[1]
    index_found = get(INDEX)
    index = json_of(INDEX, index_found[0]) if index_found else None
    headers = None
    if index is None:
        headers = {
            SINGLE: header(
                SINGLE,
                f"{model}: no {INDEX} and no {SINGLE} under {url_of(src)} [G14]. Fix: upload a safetensors checkpoint there",
            )
        }
    elif isinstance(config, dict) and quantization(config) is not None and isinstance(index, dict):
        shards = sorted({f for f in (index.get("weight_map") or {}).values() if isinstance(f, str)})
        headers = {
            f: header(f, f"{model}: no {url_of(src, f)}, which the index names. Fix: upload every shard")
            for f in shards
        }
    try:
        return facts(
            model,
            url_of(src, "config.json"),
            config,
            index=index,
            headers=headers,
            revision=etag or None,
            gated=None,
            locked_at=(today or dt.date.today()).isoformat(),
        )
    except ModelFilesError as exc:
        raise HubError(str(exc)) from None
