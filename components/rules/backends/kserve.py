"""The `kserve` backend: a KServe InferenceService (serving.kserve.io/v1beta1) in RawDeployment mode
with the engine as a custom predictor container, plus a real ClusterIP Service in front of it.

KServe's own predictor Service is headless (ClusterIP: None), which
gateway routes and ALB target groups handle badly; the stack adds `<name>-gateway`, a ClusterIP
Service on port 80 targeting the container port by name. KServe has no `hf://` storage,
so a Hugging Face model is downloaded by the engine itself (token from a Secret); S3 models come
through KServe's storage initializer (`STORAGE_URI`, mounted at /mnt/models).
"""

from __future__ import annotations

from typing import Any

import components.rules.backends.container as engine_container
import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.front as front
import components.rules.backends.kinds as kinds
import components.rules.backends.reader as reader
import components.rules.backends.state as state_rules

from .. import naming
from ..catalog import B1, G4, G5, G11
from ..endpoint import ResolvedEndpoint, resolve
from ..problems import Change, Problem
from ..spec import EndpointSpec, HuggingFaceSource, S3Source
from ..tree import copy_tree
from .base import Backend, LiveReference, PlatformNeeds, RenderContext, Upstream

GROUP = "serving.kserve.io"
API_VERSION = f"{GROUP}/v1beta1"
CONTAINER_NAME = "kserve-container"  # the name KServe's storage initializer and webhooks look for
MODEL_DIR = "/mnt/models"
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
ISVC_LABEL = "serving.kserve.io/inferenceservice"
# KServe's storage initializer (its error for an hf:// URI: "must be one of [gs://, s3://, pvc://, file://, https://, http://]").
STORAGE_SCHEMES = ("gs://", "s3://", "pvc://", "file://", "https://", "http://")


def gateway_service_name(spec: EndpointSpec) -> str:
    return naming.fit(f"{resolve(spec).name}-gateway", naming.MAX_NAME)


def inference_service(spec: EndpointSpec, api_key_secret: str | None = None) -> dict[str, Any]:
    r = resolve(spec)
    src = spec.model_source
    if isinstance(src, HuggingFaceSource):
        model_arg = src.model_id or spec.model
    else:
        model_arg = MODEL_DIR
    main = engine_container.container(r, model_arg, [], api_key_secret, name=CONTAINER_NAME)
    if isinstance(src, S3Source):
        main["env"].append({"name": "STORAGE_URI", "value": f"s3://{src.bucket}/{src.path.strip('/')}".rstrip("/")})
    scaling = spec.autoscaling
    predictor: dict[str, Any] = {
        "minReplicas": scaling.min_replicas if scaling else spec.replicas,
        "maxReplicas": scaling.max_replicas if scaling else max(spec.replicas, 1),
        **engine_container.placement(r),
        # G4: no surge pod waiting for the GPU the old pod holds.
        "deploymentStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
        "containers": [main],
        "volumes": [engine_container.shm_volume()],
    }
    if spec.kubernetes.service_account_name:
        predictor["serviceAccountName"] = spec.kubernetes.service_account_name  # S3 read for the storage initializer
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "name": r.name,
            "namespace": spec.namespace,
            "labels": r.labels,
            # No Knative on these clusters: plain Deployments (and the headless Service, hence ours).
            "annotations": {DEPLOYMENT_MODE: "RawDeployment"},
        },
        "spec": {"predictor": predictor},
    }


def gateway_service(spec: EndpointSpec) -> dict[str, Any]:
    svc = front.service(spec, BACKEND.load_balancer(spec))
    svc["metadata"]["name"] = gateway_service_name(spec)
    svc["spec"]["selector"] = {ISVC_LABEL: resolve(spec).name}
    return svc


def render(r: ResolvedEndpoint, context: RenderContext) -> list[dict[str, Any]]:
    spec = r.spec
    out = [inference_service(spec, context.api_key_secret), gateway_service(spec)]
    if BACKEND.load_balancer(spec) == "alb":
        out.append(front.ingress(spec, context.ingress, gateway_service_name(spec), context.alb_tags))
    return out


# ---------------------------------------------------------------- checks


def engine_views(obj: dict[str, Any]) -> list[engine_checks.EngineContainerView]:
    """The predictor's engine containers (a GPU limit or a known engine; sidecars are neither)."""
    if kinds.group_kind(obj) != (GROUP, "InferenceService"):
        return []
    predictor = (obj.get("spec") or {}).get("predictor") or {}
    instance = reader.instance_of(predictor)
    return [
        engine_checks.container_view(c, f"spec.predictor.containers[{i}]", instance)
        for i, c in enumerate(predictor.get("containers") or [])
        if isinstance(c, dict) and (reader.gpu_limit(c.get("resources")) is not None or reader.detect_engine(c))
    ]


def check_inference_service(obj: dict[str, Any]) -> list[Problem]:
    predictor = (obj.get("spec") or {}).get("predictor") or {}
    problems: list[Problem] = []
    uri = (predictor.get("model") or {}).get("storageUri")
    if isinstance(uri, str) and not uri.startswith(STORAGE_SCHEMES):
        problems.append(
            Problem(
                "spec.predictor.model.storageUri",
                uri,
                B1,
                f"KServe cannot download {uri.split('://')[0]}:// (`StorageURI not supported`: KServe has no hf:// storage)",
                "drop storageUri and let the engine download the model (--model org/name, HF_TOKEN from a Secret)",
            )
        )
    for i, c in enumerate(predictor.get("containers") or []):
        if not isinstance(c, dict):
            continue
        for e in c.get("env") or []:
            if (
                isinstance(e, dict)
                and e.get("name") == "STORAGE_URI"
                and isinstance(e.get("value"), str)
                and not e["value"].startswith(STORAGE_SCHEMES)
            ):
                problems.append(
                    Problem(
                        f"spec.predictor.containers[{i}].env[STORAGE_URI]",
                        e["value"],
                        B1,
                        "KServe's storage initializer cannot download this scheme (it has no hf:// storage)",
                        "drop it and let the engine download the model",
                    )
                )
    views = engine_views(obj)
    for view in views:
        problems += engine_container.check_engine_container(reader.at(obj, view.path), view)
    gpu_pod = any(v.gpu_limit is not None for v in views)
    if gpu_pod:
        problems += engine_container.check_placement(predictor, "spec.predictor")
        strategy = predictor.get("deploymentStrategy") or {}
        surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
        if strategy.get("type") != "Recreate" and str(surge) not in ("0", "0%"):
            problems.append(
                Problem(
                    "spec.predictor.deploymentStrategy.rollingUpdate.maxSurge",
                    surge,
                    G4,
                    "a surge pod waits for the GPU the old pod holds: the rollout deadlocks on a full node",
                    "set deploymentStrategy {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}",
                )
            )
    return problems


def check_service(obj: dict[str, Any]) -> list[Problem]:
    """A Service in front of a KServe InferenceService must not be headless (gateway routes to KServe's headless predictor Service failed)."""
    spec = obj.get("spec") or {}
    if ISVC_LABEL in (spec.get("selector") or {}) and spec.get("clusterIP") == "None":
        return [
            Problem(
                "spec.clusterIP",
                "None",
                B1,
                "a headless Service has no virtual IP; gateway routes and load balancers in front of it return 503",
                "drop clusterIP: None (a normal ClusterIP Service on port 80 targeting the container port by name)",
            )
        ]
    return []


def fix_inference_service(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """The predictor's engine containers repaired as every engine container is (container.fix_engine_container),
    and a GPU predictor's rollout that cannot deadlock (G4). Never mutates the input."""
    obj = copy_tree(obj)
    predictor = (obj.get("spec") or {}).get("predictor")
    if not isinstance(predictor, dict):
        return obj, []
    changes: list[Change] = []
    views = engine_views(obj)
    for view in views:
        changes += engine_container.fix_engine_container(
            reader.at(obj, view.path), view.path, predictor, reader.instance_of(predictor)
        )
    strategy = predictor.get("deploymentStrategy") or {}
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if (
        any(v.gpu_limit is not None for v in views)
        and strategy.get("type") != "Recreate"
        and str(surge) not in ("0", "0%")
    ):
        predictor["deploymentStrategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
        }
        changes.append(
            Change(
                "spec.predictor.deploymentStrategy",
                strategy or None,
                predictor["deploymentStrategy"],
                G4,
                "no surge pod waiting for a GPU the old pod holds",
            )
        )
    return obj, changes


# ---------------------------------------------------------------- by kind (manifests.py composes these)

CHECKERS: dict[kinds.Kind, kinds.Checker] = {
    (GROUP, "InferenceService"): check_inference_service,
    ("", "Service"): check_service,
}
FIXERS: dict[kinds.Kind, kinds.Fixer] = {(GROUP, "InferenceService"): fix_inference_service}
check = kinds.check_by_kind(CHECKERS)
fix = kinds.fix_by_kind(FIXERS)


# ---------------------------------------------------------------- config


def validate_platform(spec: EndpointSpec, where: str, needs: PlatformNeeds) -> list[Problem]:
    problems = front.needs_front(spec, where, needs, BACKEND.load_balancer(spec))
    if not needs.plan["cert_manager"] and not needs.adopted:
        problems.append(
            Problem(
                f"{where}.backend",
                "kserve",
                "BACKEND",
                "KServe's webhooks need cert-manager",
                f"set {needs.paths.platform}.certManager: true",
            )
        )
    source = spec.model_source
    if isinstance(source, HuggingFaceSource) and source.token_secret is None and spec.model.startswith("meta-llama/"):
        problems.append(
            Problem(
                f"{where}.modelSource.tokenSecret",
                None,
                "BACKEND",
                "a gated Hugging Face model downloads only with a token",
                "set modelSource.tokenSecret {name, key}",
                severity="warning",
            )
        )
    return problems


# Why G5 is not always repaired on a hand-written InferenceService.
_NOT_REPAIRED = "the served model name of a model read from a mounted path (KServe's storage initializer, /mnt/models) is not in the InferenceService; the command is repaired"

BACKEND: Backend = Backend(
    refusals={
        G5: _NOT_REPAIRED,
        G11: "which of the GPU limit and the tensor-parallel size is meant (or whether CUDA_VISIBLE_DEVICES is) is the user's call",
    },
    name="kserve",
    title="KServe",
    default_load_balancer="alb",
    render=render,
    engine_views=engine_views,
    checkers=CHECKERS,
    fixers=FIXERS,
    live=LiveReference(GROUP, "v1beta1", "inferenceservices", "InferenceService", state_rules.ready_condition),
    validate_platform=validate_platform,
    has_alb=lambda spec: BACKEND.load_balancer(spec) == "alb",
    public_load_balancer=lambda spec: front.public_load_balancer(BACKEND.load_balancer(spec)),
    upstream=lambda spec, platform: Upstream(
        front.in_cluster(gateway_service_name(spec), spec.namespace), front.SERVICE_PORT
    ),
    operator_addon="kserve_operator",
)
