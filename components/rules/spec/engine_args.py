"""Engine parameters and the KV cache: one config mapped to vLLM's and SGLang's flags."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..bounds import ONE_LINE, Int32, Line, Number, Text
from .base import _Model


class KvCache(_Model):
    """KV-cache offload of the HyperPod operator (its `kvCacheSpec`): hyperpod backend and engine vllm only (rule
    G21), on an image with LMCache (rule G22); any other combination is rejected.
    """

    l1: bool = False
    """Turn on the operator's L1 cache, which offloads KV cache to CPU memory (`enableL1Cache`). Example: `true`"""
    l2: bool = False
    """Turn on the operator's L2 cache, a remote KV-cache tier (`enableL2Cache`). The operator then manages prefix
    caching: `hyperpod.prefetch` and `engineArgs.enablePrefixCaching: true` are rejected with it (rule G7). Example:
    `true`
    """
    l2_backend: Literal["tieredstorage", "redis"] = "tieredstorage"
    """Storage of the L2 cache (`l2CacheBackend`); used only with `l2: true`. `tieredstorage` is known broken (a
    warning is printed): prefer `redis`. Example: `redis`
    """
    l2_local_url: Line | None = None
    """URL of the L2 cache's storage, passed to the operator as `l2CacheLocalUrl`; used only with `l2: true`.
    Unset: not passed to the operator. Example: `redis://redis.cache.svc.cluster.local:6379`
    """

    @property
    def enabled(self) -> bool:
        return self.l1 or self.l2


class EngineArgs(_Model):
    """Engine parameters (rule G10). Each key becomes the matching flag of the chosen engine (vLLM or SGLang), so
    one config serves both; a key the engine has no flag for is rejected rather than dropped. Unset keys get the
    stack's defaults where it has one, otherwise the engine's own.
    """

    max_model_len: Int32 | None = Field(default=None, gt=0)
    """Maximum context length in tokens: vLLM `--max-model-len`, SGLang `--context-length`. Sizes the KV cache.
    Unset: `12288` (without a limit the engine sizes the cache for the model's full context and can run out of
    memory). Example: `16384`
    """
    tensor_parallel_size: Int32 | None = Field(default=None, ge=1)
    """GPUs one replica shards the model across: vLLM `--tensor-parallel-size`, SGLang `--tp-size`. It is also the
    pod's GPU limit and must not exceed the instance's GPUs. Unset: every GPU of the instance type. Example: `4`
    """
    gpu_memory_utilization: Number | None = Field(default=None, gt=0, le=1)
    """Fraction of GPU memory the engine may use for weights and KV cache: vLLM `--gpu-memory-utilization`, SGLang
    `--mem-fraction-static`. Unset: `0.9`. Example: `0.85`
    """
    max_num_seqs: Int32 | None = Field(default=None, ge=1)
    """Maximum number of requests running at once: vLLM `--max-num-seqs`, SGLang `--max-running-requests`. Unset:
    `256` with vLLM, SGLang's own default with SGLang. Example: `128`
    """
    max_num_batched_tokens: Int32 | None = Field(default=None, ge=1)
    """Token budget of one scheduler step: vLLM `--max-num-batched-tokens`; SGLang `--max-prefill-tokens`, its
    closest equivalent (the prefill batch budget). Unset: the engine's default. Example: `8192`
    """
    enable_prefix_caching: bool | None = None
    """Reuse the KV cache of shared prompt prefixes. vLLM: `--enable-prefix-caching` /
    `--no-enable-prefix-caching`; SGLang: `false` adds `--disable-radix-cache`, `true` passes nothing (it is on
    by default). Dropped with `hyperpod.kvCache.l2`, where the operator manages it. Unset: the engine's default. Example:
    `true`
    """
    enforce_eager: bool | None = None
    """Run without CUDA graphs (slower, less memory, faster start): vLLM `--enforce-eager`, SGLang
    `--disable-cuda-graph`. `false` passes nothing. Unset: the engine's default (CUDA graphs on). Example:
    `true`
    """
    dtype: Literal["auto", "float16", "bfloat16", "half", "float32"] | None = None
    """Data type of weights and activations (`--dtype`). Unset: the engine's `auto`, except `float16` on GPUs below
    compute capability 8.0 (T4), which have no bfloat16. Example: `bfloat16`
    """
    chat_template: Text | None = None
    """Chat template (`--chat-template`): a file path in the image or an inline Jinja template (may span lines).
    Unset: the model's own template. Example: `/templates/tool_chat.jinja`
    """
    tool_call_parser: Annotated[str, Field(max_length=64), ONE_LINE] | None = None
    """Tool-call parser of the model family (`--tool-call-parser`); with vLLM the stack also adds
    `--enable-auto-tool-choice`, without which the parser is inert. Unset: no tool calling. Example: `hermes`
    """
    limit_mm_per_prompt: Line | None = None
    """Maximum multimodal items per prompt, as vLLM's `--limit-mm-per-prompt` value (vLLM only; rejected with
    SGLang). Unset: vLLM's default. Example: `'{"image": 4}'`
    """

    def set_values(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}
