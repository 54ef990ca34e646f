"""Disaggregated prefill and decode on the HyperPod operator (`spec.pdSpec`, rules D1-D4): render, check.

Sources: the CRD (aws/sagemaker-hyperpod-cli@011ca927 helm_chart/HyperPodHelmChart/charts/inference-operator/config/
crd/inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml, `spec.pdSpec`) and AWS's page "Disaggregated
Prefill and Decode for HyperPod inference" (crowecawcaw/aws-docs-history@87e331ad docs/sagemaker/latest/dg/
sagemaker-hyperpod-model-deployment-dpd.md), cited below as "AWS's DPD page".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import engines, instances
from ..catalog import D1, D2, D3, D4
from ..endpoint import GPU, ResolvedEndpoint
from ..problems import Problem
from ..spec import Autoscaling, EndpointSpec
from ..spec.hyperpod_options import PdRole

DPD_PAGE = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-dpd.html"

# D2. AWS's DPD page, Prerequisites: "requires EFA-capable instances with GPU-Direct RDMA support. The following instance
# types are supported: ml.p5.48xlarge, ml.p5e.48xlarge, ml.p5en.48xlarge, ml.p6-b200.48xlarge, ml.p6-b300.48xlarge.
# Other instance types are not supported for DPD."
DPD_INSTANCE_TYPES = ("p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge", "p6-b200.48xlarge", "p6-b300.48xlarge")

# EFA per instance type, as EC2's DescribeInstanceTypes reports it: NetworkInfo.EfaInfo.MaximumEfaInterfaces, 0 where
# NetworkInfo.EfaSupported is false. Read from getmoto/moto@5.2.5 moto/ec2/resources/instance_types.json.gz (tests/rules/
# test_hyperpod_dpd.py compares every row with that file). EFA alone is not enough: g5 and g6e have EFA, and AWS's
# list above leaves them out (no GPU-Direct RDMA), so D2 goes by AWS's list and this table says why a type fails.
EFA_INTERFACES: dict[str, int] = {
    "g4dn.xlarge": 0,
    "g4dn.2xlarge": 0,
    "g4dn.4xlarge": 0,
    "g4dn.8xlarge": 1,
    "g4dn.12xlarge": 1,
    "g4dn.16xlarge": 1,
    "g4dn.metal": 1,
    "g5.xlarge": 0,
    "g5.2xlarge": 0,
    "g5.4xlarge": 0,
    "g5.8xlarge": 1,
    "g5.12xlarge": 1,
    "g5.16xlarge": 1,
    "g5.24xlarge": 1,
    "g5.48xlarge": 1,
    "g6.xlarge": 0,
    "g6.2xlarge": 0,
    "g6.4xlarge": 0,
    "g6.8xlarge": 1,
    "g6.12xlarge": 1,
    "g6.16xlarge": 1,
    "g6.24xlarge": 1,
    "g6.48xlarge": 1,
    "g6e.xlarge": 0,
    "g6e.2xlarge": 0,
    "g6e.4xlarge": 0,
    "g6e.8xlarge": 1,
    "g6e.12xlarge": 1,
    "g6e.16xlarge": 1,
    "g6e.24xlarge": 2,
    "g6e.48xlarge": 4,
    "p4d.24xlarge": 4,
    "p4de.24xlarge": 4,
    "p5.4xlarge": 1,
    "p5.48xlarge": 32,
    "p5e.48xlarge": 32,
    "p5en.48xlarge": 16,
    "p6-b200.48xlarge": 8,
    "p6-b300.48xlarge": 16,
}

# D1. AWS's DPD page, "DPD Environment Variables": applied to both roles. PYTHONHASHSEED "0": LMCache keys prompts with
# Python's hash(), randomised per process, "so identical prompts produce different keys on prefiller and decoder and
# lookups miss"; LMCACHE_SAVE_DECODE_CACHE "False": "Disables redundant L1 caching on the decoder".
HASH_SEED = ("PYTHONHASHSEED", "0")
SAVE_DECODE_CACHE = ("LMCACHE_SAVE_DECODE_CACHE", "False")
BUFFER_ENV = "PD_BUFFER_SIZE"

# D4. AWS's DPD page, "When DPD helps": all of these.
PAYOFF_PARAMETERS = 70_000_000_000
PAYOFF_INPUT_TOKENS = 4000
PAYOFF_REQUESTS_PER_SECOND = 2.0
PAYOFF_OUTPUT_TOKENS = 256

_LMCACHE_TAG = re.compile(r"^lmcache/vllm-openai:v?(\d+)\.(\d+)\.(\d+)")
_DPD_LMCACHE_MIN = (0, 4, 3)


def supported(instance_type: str) -> bool:
    return instances.ec2_name(instance_type.strip().lower()) in DPD_INSTANCE_TYPES


def pd_env(spec: EndpointSpec) -> dict[str, str]:
    """The PD environment of both roles (AWS's values), under the endpoint's own `env`."""
    assert spec.hyperpod.pd_spec is not None
    return {
        BUFFER_ENV: str(spec.hyperpod.pd_spec.buffer_mib * 1024**2),
        SAVE_DECODE_CACHE[0]: SAVE_DECODE_CACHE[1],
        HASH_SEED[0]: HASH_SEED[1],
    }


# ---------------------------------------------------------------- render


def _role(role: PdRole, r: ResolvedEndpoint) -> dict[str, Any]:
    """One role: its replicas, the worker's resources (AWS's DPD page: "Top-level worker.resources is ignored for DPD
    pods"; CRD: "Must include GPU resource requests"), and its own flags, which the operator merges into the
    worker's args ("flags already in worker.args are replaced with the per-role value")."""
    out: dict[str, Any] = {"replicas": role.replicas, "resources": {k: dict(v) for k, v in r.resources.items()}}
    args: list[str] = []
    if role.max_num_seqs is not None:
        args += ["--max-num-seqs", str(role.max_num_seqs)]
    if role.gpu_memory_utilization is not None:
        args += ["--gpu-memory-utilization", engines._fmt(role.gpu_memory_utilization)]
    if args:
        out["args"] = args
    return out


def render(
    spec: EndpointSpec, r: ResolvedEndpoint, autoscale: Callable[[ResolvedEndpoint, Autoscaling, str], dict[str, Any]]
) -> dict[str, Any]:
    """spec.pdSpec. `autoscale(r, scaling, suffix)` is the backend's KEDA block (one renderer for every trigger)."""
    pd = spec.hyperpod.pd_spec
    assert pd is not None
    out: dict[str, Any] = {
        "prefillSpec": _role(pd.prefill, r),
        "decodingSpec": _role(pd.decode, r),
        "routingThreshold": pd.routing_threshold,
    }
    scaling: dict[str, Any] = {}
    if pd.prefill.autoscaling is not None:
        scaling["prefillAutoScaling"] = autoscale(r, pd.prefill.autoscaling, "prefill")
    if pd.decode.autoscaling is not None:
        scaling["decodingAutoScaling"] = autoscale(r, pd.decode.autoscaling, "decode")
    if scaling:
        out["autoScalingSpec"] = scaling
    return out


# ---------------------------------------------------------------- the endpoint config (before anything is declared)


def _image_problem(image: str, path: str) -> Problem | None:
    if image in engines.DPD_IMAGES:
        return None
    m = _LMCACHE_TAG.match(image.lower())
    if m and tuple(int(g) for g in m.groups()) < _DPD_LMCACHE_MIN:
        return Problem(
            path,
            image,
            D1,
            f"AWS supports DPD on LMCache 0.4.3 with NIXL 1.0.0 ({', '.join(engines.DPD_IMAGES)}); this LMCache build is older",
            f"use {engines.DPD_IMAGES[0]} or leave image unset",
        )
    return Problem(
        path,
        image,
        D1,
        "not one of the worker images AWS names for DPD; it must carry vLLM, LMCache, NIXL and the EFA libfabric provider",
        f"use {engines.DPD_IMAGES[0]} or {engines.DPD_IMAGES[1]}, or leave image unset",
        severity="warning",
    )


def validate(spec: EndpointSpec, path: str) -> list[Problem]:
    """D1 and D2 on one endpoint spec."""
    pd = spec.hyperpod.pd_spec
    if pd is None:
        return []
    problems: list[Problem] = []
    if spec.engine != "vllm":
        # CRD pdSpec.{prefillSpec,decodingSpec}.args: "Additional vLLM args"; AWS's DPD page: "A worker image that includes
        # vLLM, LMCache, NVIDIA NIXL"; neither names SGLang.
        return [
            Problem(
                f"{path}.hyperpod.pdSpec",
                pd.model_dump(by_alias=True),
                D1,
                f'the operator\'s DPD wires vLLM workers through LMCache and NIXL (CRD: "Additional vLLM args" per role); AWS names no {spec.engine} support',
                f"use engine vllm, or remove hyperpod.pdSpec ({DPD_PAGE})",
            )
        ]
    if spec.replicas != 1:
        problems.append(
            Problem(
                f"{path}.replicas",
                spec.replicas,
                D1,
                "with pdSpec the prefill and decode Deployments have their own replica counts (CRD pdSpec.prefillSpec.replicas, decodingSpec.replicas)",
                "remove replicas; set hyperpod.pdSpec.prefill.replicas and hyperpod.pdSpec.decode.replicas",
            )
        )
    if spec.autoscaling is not None:
        problems.append(
            Problem(
                f"{path}.autoscaling",
                spec.autoscaling.model_dump(by_alias=True, exclude_none=True),
                D1,
                "with pdSpec each role scales on its own (CRD pdSpec.autoScalingSpec.prefillAutoScaling, decodingAutoScaling)",
                "move it to hyperpod.pdSpec.prefill.autoscaling and/or hyperpod.pdSpec.decode.autoscaling",
            )
        )
    for name, role in (("prefill", pd.prefill), ("decode", pd.decode)):
        if role.autoscaling is not None and (role.autoscaling.target or role.autoscaling.pods_metric):
            problems.append(
                Problem(
                    f"{path}.hyperpod.pdSpec.{name}.autoscaling",
                    role.autoscaling.model_dump(by_alias=True, exclude_none=True),
                    D1,
                    "a DPD role scales on the operator's KEDA triggers only (prometheus or cloudwatch)",
                    "set prometheus or cloudwatch; remove target and podsMetric",
                )
            )
    if spec.image is not None:
        found = _image_problem(spec.image, f"{path}.image")
        problems += [found] if found else []
    types = spec.hyperpod.instance_types or [spec.instance_type]
    key = "hyperpod.instanceTypes" if spec.hyperpod.instance_types else "instanceType"
    for i, t in enumerate(types):
        if not supported(t):
            where = f"{path}.{key}[{i}]" if spec.hyperpod.instance_types else f"{path}.{key}"
            efa = EFA_INTERFACES.get(instances.ec2_name(t.strip().lower()))
            why = (
                "no EFA"
                if efa == 0
                else ("EFA but not on AWS's DPD list (no GPU-Direct RDMA)" if efa else "not on AWS's DPD list")
            )
            problems.append(
                Problem(
                    where,
                    t,
                    D2,
                    f"DPD moves the KV cache over EFA with GPU-Direct RDMA; {t} has {why}",
                    f"use one of {', '.join(instances.sagemaker_name(x) for x in DPD_INSTANCE_TYPES)}, or remove hyperpod.pdSpec",
                )
            )
    return problems


@dataclass(frozen=True)
class WorkloadShape:
    """What the stack knows of an endpoint's traffic: typical and largest input, typical output, peak rate."""

    input_typical: int
    input_max: int
    output_typical: int
    requests_per_second: float | None
    source: str  # the config key it came from, for the message


def check_threshold(spec: EndpointSpec, shape: WorkloadShape | None, path: str) -> list[Problem]:
    """D3: with a known workload, a threshold above its largest input sends nothing through the prefillers."""
    pd = spec.hyperpod.pd_spec
    if pd is None:
        return []
    if shape is None:
        return [
            Problem(
                f"{path}.hyperpod.pdSpec.routingThreshold",
                pd.routing_threshold,
                D3,
                "unchecked: the endpoint declares no load.workload, so the stack cannot tell which prompts reach the prefillers",
                "declare load: {peakRequestsPerSecond, workload} to have the threshold checked",
                severity="warning",
            )
        ]
    if pd.routing_threshold > shape.input_max:
        return [
            Problem(
                f"{path}.hyperpod.pdSpec.routingThreshold",
                pd.routing_threshold,
                D3,
                f"no input of {shape.source} reaches it (largest {shape.input_max} tokens): every request goes straight to the decoder and the prefill pool idles",
                f"set hyperpod.pdSpec.routingThreshold <= {shape.input_max} (AWS: 0 always disaggregates), or remove hyperpod.pdSpec",
                severity="warning",
            )
        ]
    return []


def check_payoff(
    spec: EndpointSpec, parameters: int | None, architecture: str | None, shape: WorkloadShape | None, path: str
) -> list[Problem]:
    """D4: the conditions of AWS's "When DPD helps" the endpoint misses (warning), and those the stack cannot know."""
    if spec.hyperpod.pd_spec is None:
        return []
    missed, unknown = [], []
    if parameters is None:
        unknown.append("model size (no models.lock.json entry)")
    elif parameters < PAYOFF_PARAMETERS:
        missed.append(f"{parameters / 1e9:.1f}B parameters < 70B")
    if architecture and "moe" in architecture.lower():
        missed.append(f"{architecture} is a mixture of experts, not a dense model")
    if shape is None:
        unknown.append("input and output lengths and request rate (no load.workload)")
    else:
        if shape.input_typical < PAYOFF_INPUT_TOKENS:
            missed.append(f"{shape.input_typical} input tokens < 4,000")
        if shape.output_typical < PAYOFF_OUTPUT_TOKENS:
            missed.append(f"{shape.output_typical} output tokens < 256")
        if shape.requests_per_second is None:
            unknown.append("request rate")
        elif shape.requests_per_second < PAYOFF_REQUESTS_PER_SECOND:
            missed.append(f"{shape.requests_per_second:g} requests/s < 2")
    out = []
    if missed:
        out.append(
            Problem(
                f"{path}.hyperpod.pdSpec",
                "on",
                D4,
                f"outside the range where AWS says DPD pays off: {'; '.join(missed)}",
                f"measure it against a colocated endpoint (stacks/grids/dpd-shared-prefix.yaml), or remove hyperpod.pdSpec ({DPD_PAGE})",
                severity="warning",
            )
        )
    if unknown:
        out.append(
            Problem(
                f"{path}.hyperpod.pdSpec",
                "on",
                D4,
                f"pay-off range unchecked for: {'; '.join(unknown)}",
                "declare load and lock the model (python -m stacks models lock) to have it checked",
                severity="warning",
            )
        )
    return out


# ---------------------------------------------------------------- rendered objects (transform, policy pack, plan)


def _env(worker: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for e in worker.get("environmentVariables") or []:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            out[e["name"]] = e.get("value")
    return out


def check(spec: Mapping[str, Any], engine: str | None) -> list[Problem]:
    """D1 and D2 on an InferenceEndpointConfig's spec, hand-written ones too."""
    pd = spec.get("pdSpec")
    if not isinstance(pd, dict):
        return []
    problems: list[Problem] = []
    if engine not in (None, "vllm"):
        problems.append(
            Problem(
                "spec.pdSpec",
                "present",
                D1,
                f'the operator\'s DPD runs vLLM workers (CRD: "Additional vLLM args" per role), not {engine}',
                "use a vLLM worker, or remove spec.pdSpec (config: hyperpod.pdSpec)",
            )
        )
    for role in ("prefillSpec", "decodingSpec"):
        resources = (pd.get(role) or {}).get("resources") or {}
        if not ((resources.get("requests") or {}).get(GPU) or (resources.get("limits") or {}).get(GPU)):
            problems.append(
                Problem(
                    f"spec.pdSpec.{role}.resources",
                    resources or None,
                    D1,
                    'the role has no GPU request (CRD: "Must include GPU resource requests for DPD to function"; worker.resources is ignored for DPD pods)',
                    f"set spec.pdSpec.{role}.resources.requests and limits {GPU}",
                )
            )
    worker = spec.get("worker")
    worker = worker if isinstance(worker, dict) else {}
    seed = _env(worker).get(HASH_SEED[0])
    if seed != HASH_SEED[1]:
        problems.append(
            Problem(
                f"spec.worker.environmentVariables[{HASH_SEED[0]}]",
                seed,
                D1,
                "prefiller and decoder hash prompts with different seeds, so every KV lookup misses (AWS's DPD page)",
                f'set {HASH_SEED[0]}: "0"',
            )
        )
    image = worker.get("image")
    if isinstance(image, str):
        found = _image_problem(image, "spec.worker.image")
        problems += [found] if found else []
    listed = spec.get("instanceTypes")
    types = listed if isinstance(listed, list) else [spec.get("instanceType")]
    for i, t in enumerate(types):
        if isinstance(t, str) and not supported(t):
            where = f"spec.instanceTypes[{i}]" if isinstance(spec.get("instanceTypes"), list) else "spec.instanceType"
            problems.append(
                Problem(
                    where,
                    t,
                    D2,
                    "not an instance type AWS supports for DPD (EFA with GPU-Direct RDMA)",
                    f"use one of {', '.join(instances.sagemaker_name(x) for x in DPD_INSTANCE_TYPES)}",
                )
            )
    return problems
