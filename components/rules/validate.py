"""Combination rules on typed endpoint specs (G1, G2, G10, G11, G12, G17), and each backend's own config rules
(`Backend.validate`: the HyperPod operator's G7, G8, G21, G22, the kubernetes backend's HPA metric).

Called before any resource is declared (stack config), and by the tuning driver to prune grid points.
Every problem names the config path, the value, the rule and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import engines, hyperpod_fields, instances, naming, security
from .addons import OPERATOR_NAMESPACE
from .backends import backend_for, hyperpod, hyperpod_dpd
from .catalog import G2, G10, G11, G12
from .endpoint import resolve
from .paths import STACK_FILE, ConfigPaths
from .problems import Problem
from .spec import EndpointSpec, FsxSource

# Flags the stack sets itself; passing them through extraArgs would fork the truth (G3, G5, G10).
# Keyed by canonical spelling per engine (engines.canonical_flag), so `--api_key=x`, `-tp 8` and
# `--served_model_name` are caught as well as the spelling the stack uses.
_CORE_MANAGED: dict[str, str | None] = {
    "--port": "port",
    "--host": None,
    "--model": "model",
    "--model-path": "model",
    "--served-model-name": "model",
    "--api-key": "apiKey",
}


def managed_flags(engine_name: str) -> dict[str, str | None]:
    """Canonical flag -> the config key that sets it (None: nothing to set, the stack owns it)."""
    out = {engines.canonical_flag(engine_name, f): where for f, where in _CORE_MANAGED.items()}
    for param in engines.PARAMS:
        for flag in (param.vllm, param.sglang):
            for name in (flag.on, flag.off) if flag else ():
                if name:
                    out[engines.canonical_flag(engine_name, name)] = f"engineArgs.{param.config_key}"
    return out


def validate_endpoint(spec: EndpointSpec, path: str) -> list[Problem]:
    problems: list[Problem] = []
    problems += hyperpod_fields.first_type_path(spec, _instance_rules(spec, path), path)
    if backend_for(spec).operator_features:  # elsewhere the keys are refused once (backends._refuse_operator_features)
        problems += hyperpod_fields.validate(spec, path, _instance_rules) + hyperpod_dpd.validate(spec, path)
    problems += _engine_arg_rules(spec, path)
    problems += security.check_endpoint_env(spec.env, f"{path}.env")
    problems += security.check_url_credentials(spec.model_dump(by_alias=True), path)
    problems += security.check_credential_args(
        spec.extra_args, f"{path}.extraArgs", skip=[f for f in managed_flags(spec.engine)]
    )
    problems += _routing_rules(spec, path)
    problems += _name_rules(spec, path)
    problems += _scaling_rules(spec, path)
    problems += _source_rules(spec, path)
    return problems + backend_for(spec).validate(spec, path)


def _source_rules(spec: EndpointSpec, path: str) -> list[Problem]:
    """`prefetch` is rendered for S3 and Hugging Face sources only: no upstream sample or doc shows the
    operator prefetching from FSx, so it is refused there rather than dropped without a word."""
    if spec.hyperpod.prefetch and isinstance(spec.model_source, FsxSource):
        return [
            Problem(
                f"{path}.hyperpod.prefetch",
                True,
                "CONFIG",
                "the stack renders prefetch (the operator's prefetchEnabled) for s3 and huggingface sources only; no upstream source shows it for fsx",
                "remove hyperpod.prefetch: an FSx for Lustre volume is read in place",
            )
        ]
    return []


def validate_endpoints(specs: Iterable[EndpointSpec], paths: ConfigPaths = STACK_FILE) -> list[Problem]:
    specs = list(specs)
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for i, spec in enumerate(specs):
        item = paths.endpoint(i)
        problems += validate_endpoint(spec, item)
        key = (spec.namespace, resolve(spec).name)
        if key in seen:
            problems.append(
                Problem(
                    f"{item}.name",
                    spec.name,
                    G2,
                    f"becomes {key[1]!r} in namespace {key[0]!r}, the same Kubernetes name as {paths.endpoint(seen[key])}",
                    "give each endpoint a name that differs after lowercasing and '_' -> '-'",
                )
            )
        else:
            seen[key] = i
    problems += _cluster_wide_names(specs, paths)
    return problems


def _cluster_wide_names(specs: list[EndpointSpec], paths: ConfigPaths) -> list[Problem]:
    """G2 across namespaces: the HyperPod operator names what it creates for an endpoint in its own
    namespace after the endpoint alone (`{name}-router`, `alb-{name}`), and the stack's key Secret and
    Ingress live there too. Two HyperPod endpoints with one name in two namespaces would share them."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if not backend_for(spec).names_cluster_wide:
            continue
        name = resolve(spec).name
        if name not in first:
            first[name] = i
            continue
        other = specs[first[name]]
        if other.namespace == spec.namespace:
            continue  # reported above as a same-namespace clash
        problems.append(
            Problem(
                f"{paths.endpoint(i)}.name",
                spec.name,
                G2,
                f"becomes {name!r}, like {paths.endpoint(first[name])} in namespace {other.namespace!r}; the HyperPod operator names "
                f"the router and its Ingress in {OPERATOR_NAMESPACE} after the endpoint name alone, so the two would share them",
                f"give HyperPod endpoints names unique in the cluster, e.g. {naming.k8s_name(f'{name}-{spec.namespace}', naming.HYPERPOD_DERIVED)!r}",
            )
        )
    return problems


def _instance_rules(spec: EndpointSpec, path: str) -> list[Problem]:
    inst = instances.lookup(spec.instance_type)
    if inst is None:
        return [
            Problem(
                f"{path}.instanceType",
                spec.instance_type,
                G11,
                "not a known GPU instance type",
                f"use one of the families {', '.join(instances.FAMILIES)} (e.g. ml.g5.8xlarge or g5.8xlarge)",
            )
        ]
    problems = []
    tp = spec.engine_args.tensor_parallel_size
    if tp is not None and tp > inst.gpus:
        problems.append(
            Problem(
                f"{path}.engineArgs.tensorParallelSize",
                tp,
                G11,
                f"{inst.name} has {inst.gpus} GPU(s); tensor-parallel size cannot exceed it",
                f"set tensorParallelSize <= {inst.gpus} or pick a larger instance type",
            )
        )
    if "CUDA_VISIBLE_DEVICES" in spec.env:
        problems.append(
            Problem(
                f"{path}.env.CUDA_VISIBLE_DEVICES",
                spec.env["CUDA_VISIBLE_DEVICES"],
                G11,
                "GPUs are assigned by the nvidia.com/gpu limit; CUDA_VISIBLE_DEVICES fights the device plugin",
                "remove it; set engineArgs.tensorParallelSize instead",
            )
        )
    if inst.gpu.compute_capability < 8.0 and spec.engine_args.dtype == "bfloat16":
        problems.append(
            Problem(
                f"{path}.engineArgs.dtype",
                "bfloat16",
                G12,
                f"{inst.gpu.model} (compute capability {inst.gpu.compute_capability}) has no bfloat16",
                "use dtype float16 or leave it unset",
            )
        )
    return problems


def _engine_arg_rules(spec: EndpointSpec, path: str) -> list[Problem]:
    problems = []
    for key, value in spec.engine_args.set_values().items():
        param = engines.PARAMS_BY_KEY[key]
        if param.flag(spec.engine) is None:
            problems.append(
                Problem(
                    f"{path}.engineArgs.{param.config_key}",
                    value,
                    G10,
                    f"{spec.engine} has no equivalent of {param.config_key}; it would be silently dropped",
                    f"remove it, or use engine {'vllm' if spec.engine == 'sglang' else 'sglang'}",
                )
            )
    managed = managed_flags(spec.engine)
    for i, arg in enumerate(spec.extra_args):
        if not engines.is_flag(arg, spec.engine):
            continue
        flag = engines.canonical_flag(spec.engine, arg)
        if flag in managed:
            where = managed[flag]
            spelled = arg.split("=", 1)[0]
            alias = "" if spelled == flag else f" ({spelled} is {spec.engine}'s spelling of {flag})"
            problems.append(
                Problem(
                    f"{path}.extraArgs[{i}]",
                    f"{spelled}={security.redacted(arg)}" if flag == "--api-key" else arg,
                    G10,
                    f"{flag} is set by the stack from the endpoint config{alias}; a later flag overrides it",
                    f"set {where} instead" if where else "remove it",
                )
            )
    return problems


def _routing_rules(spec: EndpointSpec, path: str) -> list[Problem]:
    """G17, the one check the operator's objects get too (backends/hyperpod.py:check_kvaware)."""
    return hyperpod.check_kvaware(
        spec.hyperpod.intelligent_routing,
        spec.hyperpod.routing_strategy,
        spec.invocation_endpoint,
        hyperpod.config_fields(path),
    )


def _name_rules(spec: EndpointSpec, path: str) -> list[Problem]:
    problems = []
    if not naming.normalise(spec.name):
        problems.append(
            Problem(
                f"{path}.name",
                spec.name,
                G2,
                "no letters or digits survive normalisation",
                "use a name with letters or digits",
            )
        )
    namespace_problems = naming.check_name(spec.namespace, f"{path}.namespace")
    problems += namespace_problems
    return problems


def _scaling_rules(spec: EndpointSpec, path: str) -> list[Problem]:
    scaling = spec.autoscaling
    if scaling is None:
        return []
    problems = []
    if scaling.min_replicas > scaling.max_replicas:
        problems.append(
            Problem(
                f"{path}.autoscaling.minReplicas",
                scaling.min_replicas,
                "CONFIG",
                f"greater than maxReplicas ({scaling.max_replicas})",
                "set minReplicas <= maxReplicas",
            )
        )
    return problems
