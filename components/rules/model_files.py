"""What a checkpoint's own files say about its model: `config.json` and the safetensors metadata become
`ModelFacts` (the lock entry the fit rule reads). Pure: `stacks/models/` reads the files.

- The geometry (layers, heads, head size, context) comes from `config.json`; a multimodal config keeps
  the language model's values under `text_config`, which wins over the top level.
- The bytes come from the safetensors metadata: each header's `data_offsets` (end - start per tensor)
  when the headers are given, else the index's `metadata.total_size`.
- The parameter count comes from the tensor shapes when the headers are given (quantised checkpoints:
  a packed integer element holds several weights, and scales, zero points and group indices are not
  weights); from an index alone it is `total_size` / the checkpoint dtype's size, which assumes every
  tensor has that dtype (a few float32 norms make it a slight overcount). A quantised checkpoint has
  no single element size, so its count needs the headers.

Every missing or malformed field is one `ModelFilesError` line naming the file and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .model_facts import ModelFacts

# Bytes per element of each checkpoint dtype config.json may name (`torch_dtype`, or `dtype` since
# transformers 4.56 renamed it).
CONFIG_DTYPES = {"bfloat16": 2, "float16": 2, "float32": 4}

# Quantisation methods whose files this module can count (quantization_config.quant_method).
PACKED_METHODS = ("awq", "gptq", "compressed-tensors")  # 4/8-bit weights packed into int32 elements
FLOAT8_METHODS = ("fp8", "fbgemm_fp8")  # one float8 element per weight, plus scales
# Tensors of a quantised checkpoint that carry no weights of the model (suffixes of the tensor name).
AUX_SUFFIXES = (
    ".qzeros",
    ".scales",
    ".g_idx",  # GPTQ / AWQ
    ".weight_scale",
    ".weight_scale_inv",
    ".weight_zero_point",
    ".weight_shape",
    ".weight_g_idx",
    ".weight_global_scale",
    ".input_scale",
    ".input_global_scale",
    ".input_zero_point",  # compressed-tensors, fp8
)
# How each quantiser packs: AutoAWQ `qweight` [in, out / (32 // w_bit)] int32 (casper-hansen/AutoAWQ@v0.2.9
# awq/modules/linear/gemm.py WQLinear_GEMM), AutoGPTQ `qweight` [in // 32 * bits, out] int32 (AutoGPTQ/AutoGPTQ@v0.7.1
# auto_gptq/nn_modules/qlinear/qlinear_cuda.py), compressed-tensors `weight_packed` [out, ceil(in / (32 // num_bits))]
# int32, and NVFP4 two 4-bit weights per uint8 (neuralmagic/compressed-tensors@0.12.2
# src/compressed_tensors/compressors/quantized_compressors/pack_quantized.py, nvfp4_quantized.py). A row whose
# length is not a multiple of the pack factor is padded, so its count is high by under one element per row.
PACKED_SUFFIXES = (".qweight", ".weight_packed")
PACKED_DTYPES = {"I32": 32, "U32": 32, "I64": 64, "U8": 8}  # bits of the integer element that holds packed weights


MAX_HEADER_BYTES = 25_000_000


class ModelFilesError(ValueError):
    """A model file that cannot be read as what it should be: one line naming file, field and fix."""


def _section(config: Mapping[str, Any]) -> Mapping[str, Any]:
    text = config.get("text_config")
    return text if isinstance(text, Mapping) else {}


def _get(config: Mapping[str, Any], key: str) -> Any:
    """`text_config.<key>` when a multimodal config has it, else the top level's."""
    text = _section(config)
    return text[key] if key in text and text[key] is not None else config.get(key)


def _where(config: Mapping[str, Any], key: str) -> str:
    return f"text_config.{key}" if key in _section(config) else key


def _positive_int(config: Mapping[str, Any], key: str, source: str, required: bool = True) -> int | None:
    value = _get(config, key)
    if value is None:
        if not required:
            return None
        nested = " (nor text_config." + key + ")" if "text_config" in config else ""
        raise ModelFilesError(
            f"{source}: config.json has no {key}{nested}; Fix: lock a checkpoint whose config.json sets it"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ModelFilesError(
            f"{source}: config.json {_where(config, key)} = {value!r} is not a positive integer; Fix: correct the checkpoint's config.json"
        )
    return value


def config_dtype(config: Mapping[str, Any], source: str) -> str:
    key = "dtype" if _get(config, "dtype") is not None else "torch_dtype"
    value = _get(config, key)
    if value is None:
        raise ModelFilesError(
            f"{source}: config.json has no torch_dtype (or dtype); Fix: lock a checkpoint whose config.json sets it"
        )
    if value not in CONFIG_DTYPES:
        raise ModelFilesError(
            f"{source}: config.json {_where(config, key)} = {value!r} is not one of {', '.join(CONFIG_DTYPES)}; Fix: correct the checkpoint's config.json"
        )
    return str(value)


def quantization(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The quantisation config, wherever this checkpoint keeps it; None when not quantised."""
    for section in (config, _section(config)):
        for key in ("quantization_config", "compression_config"):  # compression_config: older compressed-tensors
            value = section.get(key)
            if isinstance(value, Mapping):
                found = dict(value)
                if key == "compression_config":
                    found.setdefault("quant_method", "compressed-tensors")
                return found
    return None


def _quant_method(quant: Mapping[str, Any] | None, source: str) -> str | None:
    if quant is None:
        return None
    method = quant.get("quant_method")
    if not isinstance(method, str) or not method:
        raise ModelFilesError(
            f"{source}: config.json quantization_config has no quant_method; Fix: correct the checkpoint's config.json"
        )
    return method.lower()


def _weight_bits(quant: Mapping[str, Any], method: str, source: str) -> int:
    """Bits of one packed weight: GPTQ `bits`, AWQ `bits` (older AutoAWQ: `w_bit`), compressed-tensors
    `config_groups.*.weights.num_bits` (one value for every group, or the count is ambiguous)."""
    if method == "compressed-tensors":
        groups = quant.get("config_groups")
        found = (
            {g.get("weights", {}).get("num_bits") for g in groups.values() if isinstance(g, Mapping)}
            if isinstance(groups, Mapping)
            else set()
        )
        found.discard(None)
        if len(found) != 1:
            raise ModelFilesError(
                f"{source}: config.json quantization_config.config_groups gives weight bits {sorted(map(str, found)) or 'none'}, not one value; Fix: lock a checkpoint with one weight scheme"
            )
        bits = found.pop()
        where = "quantization_config.config_groups.*.weights.num_bits"
    else:
        bits = quant.get("bits", quant.get("w_bit"))
        where = "quantization_config.bits"
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in (2, 3, 4, 8):
        raise ModelFilesError(
            f"{source}: config.json {where} = {bits!r} is not 2, 3, 4 or 8; Fix: correct the checkpoint's config.json"
        )
    return bits


def _tensors(headers: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str, list[int], int]]:
    """(file, tensor, dtype, shape, bytes) of every tensor in the safetensors headers."""
    out = []
    for file, header in headers.items():
        if not isinstance(header, Mapping):
            raise ModelFilesError(f"{file}: the safetensors header is not a JSON object; Fix: re-upload the file")
        for name, info in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype, shape, (start, end) = info["dtype"], list(info["shape"]), info["data_offsets"]
                if (
                    not isinstance(dtype, str)
                    or not all(isinstance(n, int) and n >= 0 for n in [*shape, start, end])
                    or end < start
                ):
                    raise ValueError
            except (KeyError, TypeError, ValueError):
                raise ModelFilesError(
                    f"{file}: tensor {name!r} has no valid dtype, shape and data_offsets in the safetensors header; Fix: re-upload the file"
                ) from None
            out.append((file, name, dtype, shape, end - start))
    return out


def _count_from_headers(
    headers: Mapping[str, Mapping[str, Any]], quant: Mapping[str, Any] | None, method: str | None, source: str
) -> tuple[int, int]:
    """(parameters, tensor bytes) from the headers' shapes and data offsets."""
    tensors = _tensors(headers)
    if not tensors:
        raise ModelFilesError(f"{source}: the safetensors headers list no tensors; Fix: lock a checkpoint with weights")
    total_bytes = sum(size for *_, size in tensors)
    if method is None:
        return sum(math.prod(shape) for _, _, _, shape, _ in tensors), total_bytes
    if method not in PACKED_METHODS + FLOAT8_METHODS:
        raise ModelFilesError(
            f"{source}: quantization_config.quant_method = {method!r}: its packed files cannot be counted here "
            f"(counted: {', '.join(PACKED_METHODS + FLOAT8_METHODS)}); Fix: lock a checkpoint quantised with one of these, or the unquantised one"
        )
    bits = _weight_bits(quant or {}, method, source) if method in PACKED_METHODS else 8
    params = 0
    for file, name, dtype, shape, _ in tensors:
        if name.endswith(AUX_SUFFIXES):
            continue
        count = math.prod(shape)
        if name.endswith(PACKED_SUFFIXES):
            if dtype not in PACKED_DTYPES:
                raise ModelFilesError(
                    f"{file}: packed tensor {name!r} has dtype {dtype}, not an integer element; Fix: lock the checkpoint as its quantiser wrote it"
                )
            count *= PACKED_DTYPES[dtype] // bits  # e.g. eight 4-bit weights per int32
        params += count
    return params, total_bytes


def _index_total(index: Mapping[str, Any], source: str) -> int:
    meta = index.get("metadata") if isinstance(index, Mapping) else None
    total = meta.get("total_size") if isinstance(meta, Mapping) else None
    if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
        raise ModelFilesError(
            f"{source}: model.safetensors.index.json has no positive metadata.total_size (got {total!r}); Fix: re-upload the index the checkpoint was saved with"
        )
    return total


def facts(
    model: str,
    source_url: str,
    config: Mapping[str, Any],
    *,
    index: Mapping[str, Any] | None = None,
    headers: Mapping[str, Mapping[str, Any]] | None = None,
    revision: str | None = None,
    gated: bool | None = None,
    locked_at: str,
) -> ModelFacts:
    """The lock entry of `model` from its config.json and either the safetensors headers (file name ->
    parsed header: preferred, exact) or the sharded checkpoint's index."""
    source = model
    if not isinstance(config, Mapping):
        raise ModelFilesError(
            f"{source}: config.json is not a JSON object; Fix: lock a checkpoint with a transformers config.json"
        )
    layers = _positive_int(config, "num_hidden_layers", source)
    heads = _positive_int(config, "num_attention_heads", source)
    hidden = _positive_int(config, "hidden_size", source)
    assert layers is not None and heads is not None and hidden is not None
    kv_heads = _positive_int(config, "num_key_value_heads", source, required=False) or heads
    head_dim = _positive_int(config, "head_dim", source, required=False)
    if head_dim is None:
        if hidden % heads:
            raise ModelFilesError(
                f"{source}: config.json has no head_dim and hidden_size {hidden} is not a multiple of num_attention_heads {heads}; Fix: lock a checkpoint whose config.json sets head_dim"
            )
        head_dim = hidden // heads
    context = _positive_int(config, "max_position_embeddings", source, required=False)
    dtype = config_dtype(config, source)
    quant = quantization(config)
    method = _quant_method(quant, source)
    architectures = config.get("architectures")
    architecture = (
        architectures[0]
        if isinstance(architectures, list) and architectures and isinstance(architectures[0], str)
        else None
    )
    if headers:
        parameters, weight_bytes = _count_from_headers(headers, quant, method, source)
    elif index is not None:
        weight_bytes = _index_total(index, source)
        if method is not None:
            raise ModelFilesError(
                f"{source}: a {method} checkpoint packs several weights per element, so its parameter count needs the safetensors headers, not the index alone; Fix: read the headers (`stacks models lock` does)"
            )
        parameters = weight_bytes // CONFIG_DTYPES[dtype]
    else:
        raise ModelFilesError(
            f"{source}: neither model.safetensors.index.json nor a safetensors header was read; Fix: lock a safetensors checkpoint"
        )
    return ModelFacts(
        model=model,
        source_url=source_url,
        revision=revision,
        architecture=architecture,
        layers=layers,
        attention_heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        hidden_size=hidden,
        max_position_embeddings=context,
        parameters=parameters,
        dtype=dtype,
        quantization=method,
        weight_bytes=weight_bytes,
        gated=gated,
        locked_at=locked_at,
    )


def header_length(prefix: bytes, source: str) -> int:
    """The JSON header's length from a safetensors file's first 8 bytes (little-endian u64), bounded so a
    corrupt file cannot make the reader ask for gigabytes: huggingface_hub refuses headers over 25 MB too
    (huggingface/huggingface_hub@v2.4.0 src/huggingface_hub/constants.py SAFETENSORS_MAX_HEADER_LENGTH)."""
    if len(prefix) < 8:
        raise ModelFilesError(f"{source}: shorter than the 8-byte safetensors header length; Fix: re-upload the file")
    length = int.from_bytes(prefix[:8], "little")
    if length <= 1 or length > MAX_HEADER_BYTES:
        raise ModelFilesError(f"{source}: safetensors header length {length} is out of range; Fix: re-upload the file")
    return length
