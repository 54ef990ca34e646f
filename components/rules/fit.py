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
check_enough_kv_cache_memory, read on main: the v0.11.0 tag the stack pins was not fetchable here). Its KV budget
is total GPU memory x gpu_memory_utilization less the weights, the activation peak of a dummy batch of
max_num_batched_tokens and non-torch memory (vllm/v1/worker/gpu_worker.py determine_available_memory,
gpu_model_runner.py profile_run). SGLang sizes its pool the same way from --mem-fraction-static (sgl-project/sglang
main, python/sglang/srt/model_executor/ init_memory_pool and profile_max_num_token) and stops with "Not enough
memory" only when the pool is empty; a pool shorter than --context-length starts but cannot take a request of that
length, which G23 refuses too. The stack always passes the memory fraction (0.9 unless set, engines.DEFAULTS), so
SGLang's own computed default never applies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import engines, instances
from .backends import BACKENDS
from .catalog import G23
from .model_facts import LOCK_FILE, LockEntryError, ModelFacts, from_lock_entry, to_lock_entry
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
# Pipeline parallelism (vLLM `--pipeline-parallel-size`/`-pp`, SGLang `--pp-size`, engines.FLAG_ALIASES) spreads
# layers over more GPUs than the pod's limit (tensor-parallel size, G11): not sized here.
PIPELINE_FLAG = {"vllm": "--pipeline-parallel-size", "sglang": "--pp-size"}
# `--quantization` values that quantize 16-bit weights to 8 bits at load time (vLLM and SGLang alike).
ONLINE_8BIT = ("fp8",)

Status = Literal["fits", "fails", "unchecked"]
# The rendered engine object carries the model's facts, so the policy pack judges it without reading any file.
FACTS_ANNOTATION = "llm-serving.io/model-facts"


@dataclass(frozen=True)
class Setting:
    """What G23 needs of an engine's settings, from an endpoint spec or from a rendered engine container."""

    engine: str
    model: str
    instance_type: str
    tp: int | None  # None: every GPU of the instance
    utilization: float
    max_model_len: int
    dtype: str | None = None  # None or auto: the checkpoint's (16 bits for a float32 checkpoint)
    kv_cache_dtype: str | None = None
    quantization: str | None = None
    max_num_seqs: int | None = None  # as configured; None: the engine's default, not held against it
    pipeline: str | None = (
        None  # a pipeline-parallel size from extraArgs (vLLM --pipeline-parallel-size, SGLang --pp-size)
    )


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
    facts: ModelFacts | None = field(default=None, compare=False, repr=False)  # what it was sized by

    @property
    def needed_bytes(self) -> int:
        return self.weight_bytes + self.kv_bytes_per_token * self.max_model_len

    @property
    def available_bytes(self) -> int:
        return self.budget_bytes - self.reserve_bytes


def facts_for(spec: EndpointSpec, lock: Mapping[str, ModelFacts]) -> ModelFacts | None:
    """The lock entry of the endpoint's model: `modelSource.modelId` for a Hugging Face source, else `model`."""
    src = spec.model_source
    if isinstance(src, HuggingFaceSource) and src.model_id and src.model_id in lock:
        return lock[src.model_id]
    return lock.get(spec.model)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def setting(spec: EndpointSpec) -> Setting:
    """An endpoint's setting: its engine args over the stack's defaults (G10), flags in extraArgs."""
    args = spec.engine_args
    defaults = engines.DEFAULTS[spec.engine]
    extra = engines.parse_args(list(spec.extra_args), spec.engine)
    return Setting(
        engine=spec.engine,
        model=spec.model,
        instance_type=spec.instance_type,
        tp=args.tensor_parallel_size,
        utilization=float(args.gpu_memory_utilization or defaults["gpu_memory_utilization"]),
        max_model_len=int(args.max_model_len or defaults["max_model_len"]),
        dtype=args.dtype,
        kv_cache_dtype=_str(extra.get("--kv-cache-dtype")),
        quantization=_str(extra.get("--quantization")),
        max_num_seqs=args.max_num_seqs,
        pipeline=_str(extra.get(PIPELINE_FLAG[spec.engine])),
    )


def _compute_bytes(facts: ModelFacts, dtype: str | None) -> int:
    """Bytes of one value in the engine's compute dtype. `auto` keeps a 16-bit checkpoint's dtype and runs a
    float32 checkpoint in 16 bits (vLLM and SGLang both do)."""
    if dtype in (None, "auto") or dtype not in DTYPE_BYTES:
        return min(DTYPE_BYTES[facts.dtype], 2)
    return DTYPE_BYTES[dtype]


def size(s: Setting, facts: ModelFacts | None, instance_type: str | None = None, tp: int | None = None) -> Fit:
    """G23's numbers for a setting (or for it on `instance_type` over `tp` GPUs, to look for a fix)."""
    name = instance_type or s.instance_type
    inst = instances.lookup(name)
    if inst is None:
        return Fit("unchecked", f"instance type {name!r} is not in the GPU table, so its GPU memory is unknown", name)
    if facts is None:
        return Fit("unchecked", f"no entry for {s.model} in {LOCK_FILE}", name)
    if s.pipeline not in (None, "1"):
        return Fit(
            "unchecked",
            f"pipeline-parallel size {s.pipeline}: the replica's GPUs are more than its tensor-parallel size",
            name,
        )
    tp = tp or s.tp or inst.gpus
    compute = _compute_bytes(facts, s.dtype)
    if facts.quantization is not None:
        weights = facts.weight_bytes  # a quantized checkpoint: its own files' size; --dtype sets activations only
    elif s.quantization in ONLINE_8BIT:
        weights = facts.parameters  # one byte per parameter
    elif s.quantization is not None:
        return Fit(
            "unchecked",
            f"--quantization {s.quantization} on a {facts.dtype} checkpoint: its size after quantization is not known here",
            name,
        )
    elif compute != DTYPE_BYTES[facts.dtype]:
        weights = facts.parameters * compute  # the engine casts (dtype, or float32 under auto)
    else:
        weights = facts.weight_bytes
    kv_bytes = 1 if s.kv_cache_dtype and s.kv_cache_dtype.startswith("fp8") else compute
    kv_per_gpu_token = 2 * facts.layers * max(1, facts.kv_heads // tp) * facts.head_dim * kv_bytes
    budget_per_gpu = int(inst.gpu.memory_mib * MIB * s.utilization)
    left_per_gpu = budget_per_gpu - -(-weights // tp) - RESERVE_PER_GPU
    per_sequence = kv_per_gpu_token * s.max_model_len
    largest = max(0, left_per_gpu // kv_per_gpu_token) // BLOCK_TOKENS * BLOCK_TOKENS
    return Fit(
        "fits" if left_per_gpu >= per_sequence else "fails",
        instance=name,
        gpus=tp,
        utilization=s.utilization,
        max_model_len=s.max_model_len,
        weight_bytes=weights,
        kv_bytes_per_token=kv_per_gpu_token * tp,
        budget_bytes=budget_per_gpu * tp,
        reserve_bytes=RESERVE_PER_GPU * tp,
        kv_capacity_bytes=left_per_gpu * tp,
        sequences=max(0, left_per_gpu) // per_sequence,
        largest_max_model_len=largest,
        facts=facts,
    )


def estimate(
    spec: EndpointSpec, facts: ModelFacts | None, instance_type: str | None = None, tp: int | None = None
) -> Fit:
    """G23's numbers for an endpoint spec."""
    return size(setting(spec), facts, instance_type, tp)


def _tp_choices(facts: ModelFacts, gpus: int) -> list[int]:
    """Tensor-parallel sizes an engine accepts on `gpus` GPUs: attention heads divide evenly."""
    return [t for t in range(1, gpus + 1) if facts.attention_heads % t == 0]


def smallest_instance(s: Setting, facts: ModelFacts) -> tuple[str, int] | None:
    """The known instance type with the least GPU memory on which the setting fits (every GPU in tensor parallel),
    in the setting's own spelling (`ml.` or not), and that tensor-parallel size; None when none does."""
    ml = s.instance_type.strip().lower().startswith("ml.")
    ranked = sorted(
        instances.INSTANCE_TYPES.values(), key=lambda t: (t.gpus * t.gpu.memory_mib, t.gpus, t.vcpus, t.name)
    )
    for inst in ranked:
        tp = max(_tp_choices(facts, inst.gpus))
        if size(s, facts, inst.name, tp).status == "fits":
            return (instances.sagemaker_name(inst.name) if ml else inst.name), tp
    return None


def smallest_tp(s: Setting, facts: ModelFacts, fit: Fit) -> int | None:
    """The smallest tensor-parallel size above the current one, within the instance's GPUs, that fits."""
    inst = instances.lookup(s.instance_type)
    for tp in _tp_choices(facts, inst.gpus if inst else 0):
        if tp > fit.gpus and size(s, facts, tp=tp).status == "fits":
            return tp
    return None


def _gb(n: int) -> str:
    return f"{n / GB:,.1f} GB" if abs(n) >= 100 * GB else f"{n / GB:,.2f} GB"


def numbers(fit: Fit) -> str:
    """The arithmetic of a verdict, in one clause."""
    inst = instances.lookup(fit.instance)
    gpu = f"{fit.gpus} x {_gb(inst.gpu.memory_mib * MIB)}" if inst else f"{fit.gpus} GPU(s)"
    return (
        f"weights {_gb(fit.weight_bytes)} + KV cache {fit.kv_bytes_per_token:,} B/token x {fit.max_model_len:,} tokens "
        f"({_gb(fit.kv_bytes_per_token * fit.max_model_len)}) = {_gb(fit.needed_bytes)} needed; available {_gb(fit.available_bytes)} ({gpu} {fit.instance} GPU memory "
        f"x gpuMemoryUtilization {fit.utilization:g}, less {_gb(fit.reserve_bytes)} for activations and CUDA)"
    )


@dataclass(frozen=True)
class Where:
    """How a verdict names what to change: config keys for a spec, engine flags for a rendered object."""

    fails: str  # the path a cannot-start error is reported at
    fails_value: object
    seqs: str  # the path of the maxNumSeqs warning
    instance: str = "instanceType"
    tp: str = "engineArgs.tensorParallelSize"
    max_len: str = "engineArgs.maxModelLen"
    max_seqs: str = "maxNumSeqs"


def judge(s: Setting, facts: ModelFacts | None, where: Where) -> tuple[Fit, list[Problem]]:
    """G23: an error when one full-length sequence does not fit, a warning when fewer than the configured
    maxNumSeqs do; no problem but an `unchecked` verdict when the facts or the instance are unknown."""
    fit = size(s, facts)
    if fit.status == "unchecked":
        return fit, []  # the plan says `fit: unchecked` and why (stacks/plan.py fit_lines); G11 rejects an unknown type
    assert facts is not None
    if fit.status == "fails":
        fixes = []
        bigger = smallest_instance(s, facts)
        if bigger and instances.lookup(bigger[0]) != instances.lookup(s.instance_type):
            with_tp = f" with {where.tp}: {bigger[1]}" if s.tp is not None and s.tp != bigger[1] else ""
            fixes.append(f"use {where.instance} {bigger[0]}{with_tp} (the smallest known type it fits)")
        tp = smallest_tp(s, facts, fit)
        if tp:
            fixes.append(f"set {where.tp}: {tp}")
        if fit.largest_max_model_len > 0:
            fixes.append(f"set {where.max_len} <= {fit.largest_max_model_len}")
        if not fixes:
            fixes.append("no known instance type holds it: use a quantized checkpoint of the model")
        what = (
            "the weights alone do not fit"
            if fit.largest_max_model_len == 0
            else f"no room for one {fit.max_model_len}-token sequence"
        )
        return fit, [
            Problem(
                where.fails,
                where.fails_value,
                G23,
                f"{s.model} cannot start on {fit.instance}, {what}: {numbers(fit)}",
                "; or ".join(fixes),
            )
        ]
    if s.max_num_seqs is not None and fit.sequences < s.max_num_seqs:
        return fit, [
            Problem(
                where.seqs,
                s.max_num_seqs,
                G23,
                f"the KV cache holds {fit.sequences} sequence(s) of {fit.max_model_len} tokens, not {s.max_num_seqs}: "
                f"{numbers(fit)}; longer batches wait for memory",
                f"set {where.max_seqs} <= {fit.sequences}, a lower {where.max_len}, or more GPUs",
                "warning",
            )
        ]
    return fit, []


def check(spec: EndpointSpec, facts: ModelFacts | None, path: str) -> tuple[Fit, list[Problem]]:
    """G23 on one endpoint spec, at its config paths."""
    return judge(
        setting(spec), facts, Where(f"{path}.instanceType", spec.instance_type, f"{path}.engineArgs.maxNumSeqs")
    )


def check_endpoints(
    specs: Sequence[EndpointSpec], lock: Mapping[str, ModelFacts], endpoint_path: Callable[[int], str]
) -> tuple[list[Fit], list[Problem]]:
    """G23 over a stack's endpoints; `endpoint_path(i)` names the i-th endpoint's config path."""
    fits, problems = [], []
    for i, spec in enumerate(specs):
        fit, found = check(spec, facts_for(spec, lock), endpoint_path(i))
        fits.append(fit)
        problems += found
    return fits, problems


# ---------------------------------------------------------------- rendered objects (the policy pack)


def _engine_views(obj: dict[str, Any]) -> list[Any]:
    """The object's engine containers, as every registered backend sees them."""
    return [v for backend in BACKENDS.values() for v in backend.engine_views(obj) if v.engine in engines.ENGINES]


def annotate(manifests: list[dict[str, Any]], facts: ModelFacts | None) -> list[dict[str, Any]]:
    """The manifests with the model's facts on each object that runs the engine with its flags (a copy; unchanged
    without facts)."""
    if facts is None:
        return manifests
    text = json.dumps({"model": facts.model, **to_lock_entry(facts)}, sort_keys=True)
    out = []
    for obj in manifests:
        if any(engines.value_flag("max_model_len", v.engine) in v.flags for v in _engine_views(obj)):
            # New dicts down to the annotations only: the object may hold Pulumi outputs (the API key), which cannot be copied.
            meta = obj.get("metadata") or {}
            obj = {
                **obj,
                "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}), FACTS_ANNOTATION: text}},
            }
        out.append(obj)
    return out


def _number(value: Any, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def check_manifest(manifest: dict[str, Any]) -> list[Problem]:
    """G23 on a rendered object carrying FACTS_ANNOTATION: its engine container's own flags (a hand-edited
    --max-model-len is judged too) against the model's facts and the instance type it is pinned to."""
    text = ((manifest.get("metadata") or {}).get("annotations") or {}).get(FACTS_ANNOTATION)
    if text is None:
        return []
    where = f"metadata.annotations.{FACTS_ANNOTATION}"
    try:
        doc = json.loads(text) if isinstance(text, str) else None
        facts = (
            from_lock_entry(doc.pop("model"), doc)
            if isinstance(doc, dict) and isinstance(doc.get("model"), str)
            else None
        )
    except (ValueError, LockEntryError):
        facts = None
    if facts is None:
        shown = text if isinstance(text, str) and len(text) <= 200 else f"{str(text)[:200]}…"
        return [
            Problem(
                where,
                shown,
                G23,
                "not the model facts the stack records",
                "let the stack write it from models.lock.json",
            )
        ]
    problems = []
    for view in _engine_views(manifest):
        if view.instance_type is None:
            continue  # not pinned to an instance type: G11's finding, nothing to size by
        flag = {p.key: f.on for p in engines.PARAMS if (f := p.flag(view.engine)) and f.on}
        defaults = engines.DEFAULTS[view.engine]
        max_len = _number(view.flags.get(flag["max_model_len"]), int)
        util = _number(view.flags.get(flag["gpu_memory_utilization"], defaults["gpu_memory_utilization"]), float)
        seqs = _number(view.flags.get(flag["max_num_seqs"]), int) if flag["max_num_seqs"] in view.flags else None
        if seqs == defaults.get("max_num_seqs"):
            seqs = None  # the stack's default, written on every vLLM worker: like the config check, only a chosen value warns
        if max_len is None or util is None or not 0 < util <= 1 or max_len <= 0:
            continue  # G10's finding
        s = Setting(
            view.engine,
            facts.model,
            view.instance_type,
            view.tp,
            util,
            max_len,
            _str(view.flags.get("--dtype")),
            _str(view.flags.get("--kv-cache-dtype")),
            _str(view.flags.get("--quantization")),
            seqs,
            _str(view.flags.get(PIPELINE_FLAG[view.engine])),
        )
        names = Where(
            f"{view.path}.args[{flag['max_model_len']}]",
            max_len,
            f"{view.path}.args[{flag['max_num_seqs']}]",
            "the instance type",
            flag["tensor_parallel_size"],
            flag["max_model_len"],
            flag["max_num_seqs"],
        )
        problems += judge(s, facts, names)[1]
    return problems
