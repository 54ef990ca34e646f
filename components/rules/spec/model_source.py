"""Where an endpoint's model files come from: S3, FSx for Lustre or Hugging Face."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..bounds import ONE_LINE, DnsSubdomain, Line, SecretKey
from .base import _Model


class S3Source(_Model):
    """Model files in an S3 bucket (`type: s3`). The hyperpod backend hands the location to the operator; the
    kubernetes backend mounts it (Mountpoint S3 CSI driver) or copies it (init container); ome and kserve
    download it.
    """

    type: Literal["s3"]
    """Selects an S3 model source. Example: `s3`"""
    bucket: Annotated[str, Field(max_length=63), ONE_LINE] = Field(min_length=3)
    """Name of the S3 bucket that holds the model files (the bucket name only, no `s3://`). On a new cluster the S3
    CSI driver's role may read it. Example: `my-models`
    """
    region: Annotated[str, Field(max_length=32), ONE_LINE] | None = None
    """AWS region of the bucket. Unset: the stack's `aws:region`. Example: `us-west-2`"""
    path: Annotated[str, Field(max_length=1024), ONE_LINE] = ""
    """S3 key prefix of the model files in the bucket (S3 keys are at most 1024 bytes). Empty: the bucket's root.
    Example: `models/Qwen3-8B/`
    """


class FsxSource(_Model):
    """Model files on an FSx for Lustre file system (`type: fsx`); the hyperpod backend only, which mounts it
    through the operator.
    """

    type: Literal["fsx"]
    """Selects an FSx for Lustre model source (hyperpod backend only). Example: `fsx`"""
    file_system_id: Annotated[str, Field(max_length=21), ONE_LINE] = Field(pattern=r"^fs-[0-9a-f]{8,17}$")
    """ID of the FSx for Lustre file system. Example: `fs-0123456789abcdef0`"""
    dns_name: Annotated[str, Field(max_length=253), ONE_LINE] | None = None
    """DNS name of the file system, passed to the operator as `fsxStorage.dnsName`. Unset: not passed. Example:
    `fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com`
    """
    mount_name: Annotated[str, Field(max_length=63), ONE_LINE] | None = None
    """Mount name of the file system, passed to the operator as `fsxStorage.mountName`. Unset: not passed. Example:
    `abcdefgh`
    """
    path: Line = ""
    """Directory of the model files on the file system (the operator's `modelLocation`). Example:
    `/models/Qwen3-8B`
    """


class SecretKeyRef(_Model):
    """A key of a Kubernetes Secret that holds a Hugging Face token. The stack does not create this Secret: create
    it in the endpoint's namespace before `pulumi up`.
    """

    name: DnsSubdomain
    """Name of the Secret. Example: `hf-token`"""
    key: SecretKey = "token"
    """Key in the Secret whose value is the Hugging Face token. The ome backend passes only the Secret name to OME
    and ignores this key. Example: `token`
    """


class HuggingFaceSource(_Model):
    """A model downloaded from the Hugging Face Hub (`type: huggingface`): by the operator (hyperpod), by the
    engine itself (kubernetes, kserve) or by OME (ome). hyperpod without `hyperpod.prefetch`: the operator passes the engine's
    model flag itself, so the stack renders none (vLLM gets `--download-dir /opt/ml/model`).
    """

    type: Literal["huggingface"]
    """Selects a Hugging Face Hub model source. Example: `huggingface`"""
    model_id: Annotated[str, Field(max_length=256), ONE_LINE] | None = Field(
        default=None, pattern=r"^[a-zA-Z0-9_.-]+/[a-zA-Z0-9_.-]+$"
    )
    """Hugging Face model id, `org/name`. Unset: the endpoint's `model`. Example: `Qwen/Qwen3-8B`"""
    revision: Annotated[str, Field(max_length=40), ONE_LINE] | None = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    """Commit SHA (40 hex characters) that pins the model files; a branch or tag name is not accepted. Unset: not
    pinned. Example: `0123456789abcdef0123456789abcdef01234567`
    """
    token_secret: SecretKeyRef | None = None
    """Secret with a Hugging Face token, needed for gated models such as `meta-llama/*`. hyperpod: the operator's
    `tokenSecretRef`; kubernetes and kserve: the engine's `HF_TOKEN` variable; ome: the ClusterBaseModel's
    storage key. Unset: anonymous download. Example: `{name: hf-token, key: token}`
    """


ModelSource = Annotated[S3Source | FsxSource | HuggingFaceSource, Field(discriminator="type")]
