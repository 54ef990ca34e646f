"""G23: the model fits its GPUs. Per replica, the weights plus the KV cache of one sequence of `maxModelLen` tokens
must fit in the memory the engine may use, before anything is deployed.

Pure: the model's facts (components/rules/model_facts.py, read from models.lock.json by stacks/model_lock.py) are
passed in. No facts for the model, or an instance type the table does not know: `unchecked`, never a pass.

The arithmetic, per GPU of one replica (tensor parallel over `tp` GPUs):

    weights      = checkpoint bytes / tp                (parameters x dtype bytes when the engine casts)
    KV per token = 2 (K and V) x layers x max(1, KV heads // tp) x head_dim x KV dtype bytes
    available    = GPU memory x gpuMemoryUtilization - weights - RESERVE_PER_GPU
    starts when    available >= KV per token x maxModelLen

vLLM refuses to start when its KV cache cannot hold one request of max_model_len tokens ("To serve at least one
request with the models's max seq len ...": vllm-project/vllm@001cabc1 vllm/v1/core/kv_cache_utils.py
check_enough_kv_cache_memory; the pinned v0.11.0 carries the same check). Its KV budget is total GPU memory x
gpu_memory_utilization less the weights, the activation peak of a dummy batch of max_num_batched_tokens and
non-torch memory (vllm/v1/worker/gpu_worker.py determine_available_memory, gpu_model_runner.py profile_run).
SGLang sizes its pool the same way from --mem-fraction-static (python/sglang/srt/model_executor/model_runner.py
init_memory_pool / profile_max_num_token) and stops with "Not enough memory" only when the pool is empty; a pool
shorter than --context-length starts but cannot take a request of that length, which G23 refuses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Optional, Sequence

from . import engines, instances
from .catalog import G23
from .model_facts import LOCK_FILE, ModelFacts
from .problems import Problem
from .spec import EndpointSpec, HuggingFaceSource

GIB = 1 << 30
MIB = 1 << 20
GB = 10**9
# Per GPU, inside the engine's budget, besides weights and KV cache: the activation peak of vLLM's profile run and
# non-torch memory (CUDA context growth, cuBLAS workspace, NCCL buffers), plus the gap between EC2's GPU memory
# figure and the total CUDA reports (an A10G: 22,888 MiB from EC2, 22.06 GiB in vLLM's log). vLLM's own profile
# log ("model weights take ...; non_torch_memory takes ...; PyTorch activation peak memory takes ...") shows an
# activation peak of 1.2-1.6 GiB and non-torch memory of 0.05-0.34 GiB for 0.5B-8B models at 8192 batched tokens
# (vllm/v1/worker/gpu_worker.py determine_available_memory).
RESERVE_PER_GPU = 2 * GIB
# vLLM sizes the KV cache in blocks of 16 tokens on CUDA (CacheConfig.block_size), so a length that fits is
# rounded down to a whole block.
BLOCK_TOKENS = 16
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "half": 2}
# `--quantization` values that quantize 16-bit weights to 8 bits at load time (vLLM and SGLang alike).
ONLINE_8BIT = ("fp8",)

Status = Literal["fits", "fails", "unchecked"]


@dataclass(frozen=True)
class Fit:
    """The verdict for one replica. Byte figures are per replica (all its GPUs)."""

    status: Status
    reason: str = ""  # why unchecked
    instance: str = ""
    gpus: int = 0  # tensor-parallel size: the replica's GPUs
    utilization: float = 0.0  # gpuMemoryUtilization as the engine gets it
    max_model_len: int = 0
    weight_bytes: int = 0
    kv_bytes_per_token: int = 0
    budget_bytes: int = 0  # GPU memory x utilization x GPUs
    reserve_bytes: int = 0
    kv_capacity_bytes: int = 0  # budget - weights - reserve: what is left for the KV cache (may be negative)
    sequences: int = 0  # full-length sequences the KV cache holds
    largest_max_model_len: int = 0  # the longest maxModelLen that fits (0: not even the weights fit)

    @property
    def needed_bytes(self) -> int:
        return self.weight_bytes + self.kv_bytes_per_token * self.max_model_len

    @property
    def available_bytes(self) -> int:
        return self.budget_bytes - self.reserve_bytes


def facts_for(spec: EndpointSpec, lock: Mapping[str, ModelFacts]) -> Optional[ModelFacts]:
    """The lock entry of the endpoint's model: `modelSource.modelId` for a Hugging Face source, else `model`."""
    src = spec.model_source
    if isinstance(src, HuggingFaceSource) and src.model_id and src.model_id in lock:
        return lock[src.model_id]
    return lock.get(spec.model)


def _flag(spec: EndpointSpec, flag: str) -> Optional[str]:
    value = engines.parse_args(list(spec.extra_args), spec.engine).get(flag)
    return value if isinstance(value, str) else None


def _compute_bytes(facts: ModelFacts, dtype: Optional[str]) -> int:
    """Bytes of one value in the engine's compute dtype. `auto` keeps a 16-bit checkpoint's dtype and runs a
    float32 checkpoint in 16 bits (vLLM and SGLang both do)."""
    if dtype in (None, "auto"):
        return min(DTYPE_BYTES[facts.dtype], 2)
    return DTYPE_BYTES[dtype]


def estimate(spec: EndpointSpec, facts: Optional[ModelFacts], instance_type: Optional[str] = None, tp: Optional[int] = None) -> Fit:
    """G23's numbers for `spec` (or for it on `instance_type` over `tp` GPUs, to look for a fix)."""
    name = instance_type or spec.instance_type
    inst = instances.lookup(name)
    if inst is None:
        return Fit("unchecked", f"instance type {name!r} is not in the GPU table, so its GPU memory is unknown", name)
    if facts is None:
        return Fit("unchecked", f"no entry for {spec.model} in {LOCK_FILE}", name)
    params = engines.resolve_params(spec.engine, spec.engine_args.set_values(), inst)
    if tp is not None:
        params["tensor_parallel_size"] = tp
    tp = int(params["tensor_parallel_size"])
    util = float(params["gpu_memory_utilization"])
    max_len = int(params["max_model_len"])
    compute = _compute_bytes(facts, params.get("dtype"))
    quantization = _flag(spec, "--quantization")
    if facts.quantization is not None:
        weights = facts.weight_bytes  # a quantized checkpoint: its own files' size; --dtype sets activations only
    elif quantization in ONLINE_8BIT:
        weights = facts.parameters  # one byte per parameter
    elif quantization is not None:
        return Fit("unchecked", f"--quantization {quantization} on a {facts.dtype} checkpoint: its size after quantization is not known here", name)
    elif compute != DTYPE_BYTES[facts.dtype]:
        weights = facts.parameters * compute  # the engine casts (dtype, or float32 under auto)
    else:
        weights = facts.weight_bytes
    kv_dtype = _flag(spec, "--kv-cache-dtype")
    kv_bytes = 1 if kv_dtype and kv_dtype.startswith("fp8") else compute
    kv_per_gpu_token = 2 * facts.layers * max(1, facts.kv_heads // tp) * facts.head_dim * kv_bytes
    budget_per_gpu = int(inst.gpu.memory_mib * MIB * util)
    left_per_gpu = budget_per_gpu - -(-weights // tp) - RESERVE_PER_GPU
    per_sequence = kv_per_gpu_token * max_len
    largest = max(0, left_per_gpu // kv_per_gpu_token) // BLOCK_TOKENS * BLOCK_TOKENS
    return Fit(
        "fits" if left_per_gpu >= per_sequence else "fails",
        instance=name,
        gpus=tp,
        utilization=util,
        max_model_len=max_len,
        weight_bytes=weights,
        kv_bytes_per_token=kv_per_gpu_token * tp,
        budget_bytes=budget_per_gpu * tp,
        reserve_bytes=RESERVE_PER_GPU * tp,
        kv_capacity_bytes=left_per_gpu * tp,
        sequences=max(0, left_per_gpu) // per_sequence,
        largest_max_model_len=largest,
    )


def _tp_choices(facts: ModelFacts, gpus: int) -> list[int]:
    """Tensor-parallel sizes an engine accepts on `gpus` GPUs: attention heads divide evenly."""
    return [t for t in range(1, gpus + 1) if facts.attention_heads % t == 0]


def smallest_instance(spec: EndpointSpec, facts: ModelFacts) -> Optional[str]:
    """The known instance type with the least GPU memory on which the endpoint fits (every GPU in tensor parallel),
    in the endpoint's own spelling (`ml.` or not); None when none does."""
    ml = spec.instance_type.strip().lower().startswith("ml.")
    ranked = sorted(instances.INSTANCE_TYPES.values(), key=lambda t: (t.gpus * t.gpu.memory_mib, t.gpus, t.vcpus, t.name))
    for inst in ranked:
        tp = max(_tp_choices(facts, inst.gpus))
        if estimate(spec, facts, inst.name, tp).status == "fits":
            return instances.sagemaker_name(inst.name) if ml else inst.name
    return None


def smallest_tp(spec: EndpointSpec, facts: ModelFacts, fit: Fit) -> Optional[int]:
    """The smallest tensor-parallel size above the current one, within the instance's GPUs, that fits."""
    inst = instances.lookup(spec.instance_type)
    for tp in _tp_choices(facts, inst.gpus if inst else 0):
        if tp > fit.gpus and estimate(spec, facts, tp=tp).status == "fits":
            return tp
    return None


def _gb(n: int) -> str:
    return f"{n / GB:,.1f} GB" if abs(n) >= 100 * GB else f"{n / GB:,.2f} GB"


def numbers(fit: Fit) -> str:
    """The arithmetic of a verdict, in one clause."""
    inst = instances.lookup(fit.instance)
    gpu = f"{fit.gpus} x {_gb(inst.gpu.memory_mib * MIB)}" if inst else f"{fit.gpus} GPU(s)"
    return (f"weights {_gb(fit.weight_bytes)} + KV cache {fit.kv_bytes_per_token:,} B/token x {fit.max_model_len:,} tokens "
            f"({_gb(fit.kv_bytes_per_token * fit.max_model_len)}) = {_gb(fit.needed_bytes)} needed; available {_gb(fit.available_bytes)} ({gpu} {fit.instance} GPU memory "
            f"x gpuMemoryUtilization {fit.utilization:g}, less {_gb(fit.reserve_bytes)} for activations and CUDA)")


def check(spec: EndpointSpec, facts: Optional[ModelFacts], path: str) -> tuple[Fit, list[Problem]]:
    """G23 on one endpoint: an error when one full-length sequence does not fit, a warning when fewer than the
    configured maxNumSeqs do; no problem but an `unchecked` verdict when the facts or the instance are unknown."""
    fit = estimate(spec, facts)
    if fit.status == "unchecked":
        return fit, []  # the plan says `fit: unchecked` and why (stacks/plan.py fit_lines); G11 rejects an unknown type
    assert facts is not None
    if fit.status == "fails":
        fixes = []
        bigger = smallest_instance(spec, facts)
        if bigger and instances.lookup(bigger) != instances.lookup(spec.instance_type):
            fixes.append(f"use instanceType {bigger} (the smallest known type it fits)")
        tp = smallest_tp(spec, facts, fit)
        if tp:
            fixes.append(f"set engineArgs.tensorParallelSize: {tp}")
        if fit.largest_max_model_len > 0:
            fixes.append(f"set engineArgs.maxModelLen <= {fit.largest_max_model_len}")
        if not fixes:
            fixes.append("no known instance type holds it: use a quantized checkpoint of the model")
        what = "the weights alone do not fit" if fit.largest_max_model_len == 0 else f"no room for one {fit.max_model_len}-token sequence"
        return fit, [Problem(f"{path}.instanceType", spec.instance_type, G23,
                             f"{spec.model} cannot start on it, {what}: {numbers(fit)}", "; or ".join(fixes))]
    configured = spec.engine_args.max_num_seqs
    if configured is not None and fit.sequences < configured:
        return fit, [Problem(f"{path}.engineArgs.maxNumSeqs", configured, G23,
                             f"the KV cache holds {fit.sequences} sequence(s) of {fit.max_model_len} tokens, not {configured}: "
                             f"{numbers(fit)}; longer batches wait for memory",
                             f"set maxNumSeqs <= {fit.sequences}, a lower maxModelLen, or more GPUs", "warning")]
    return fit, []


def check_endpoints(specs: Sequence[EndpointSpec], lock: Mapping[str, ModelFacts], endpoint_path) -> tuple[list[Fit], list[Problem]]:
    """G23 over a stack's endpoints; `endpoint_path(i)` names the i-th endpoint's config path."""
    fits, problems = [], []
    for i, spec in enumerate(specs):
        fit, found = check(spec, facts_for(spec, lock), endpoint_path(i))
        fits.append(fit)
        problems += found
    return fits, problems
