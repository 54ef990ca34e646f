"""The `kubernetes` backend: Deployment + Service (+ HPA, ALB Ingress or NLB Service, S3 weights).

Weights from S3 come through the Mountpoint S3 CSI driver (a static PV/PVC, read-only; the platform's
driver role can read the model buckets) or an init container running `aws s3 sync` into an emptyDir;
Hugging Face models are downloaded by the engine itself with the token from a Secret. The rollout
never surges (G4: a surge pod waits forever for the GPU the old pod holds).
"""

from __future__ import annotations

from typing import Any

import components.rules.backends.container as engine_container
import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.front as front
import components.rules.backends.kinds as kinds
import components.rules.backends.reader as reader
import components.rules.backends.state as state_rules

from .. import autoscaling, engines, naming
from .. import ingress as ingress_rules
from ..catalog import G4, G5, G11
from ..endpoint import ResolvedEndpoint, resolve
from ..problems import Change, Problem
from ..spec import EndpointSpec, HuggingFaceSource, KubernetesBackend, S3Source
from ..tree import copy_tree
from .base import Backend, LiveReference, PlatformNeeds, RenderContext, Upstream
from .front import ingress, service

MODEL_VOLUME = "model-weights"
HF_CACHE_VOLUME = "hf-cache"
HF_HOME = "/models-cache"
S3_CSI_DRIVER = "s3.csi.aws.com"
# The queue-length metric each engine exports (rules/autoscaling.py cites the engines' source): the HPA default
# when autoscaling.podsMetric is unset.
QUEUE_METRIC = autoscaling.QUEUE_METRIC
DEFAULT_QUEUE_TARGET = autoscaling.DEFAULT_QUEUE_TARGET


def names(spec: EndpointSpec) -> dict[str, str]:
    name = resolve(spec).name
    return {
        "deployment": name,
        "service": name,
        "weights": naming.fit(f"{name}-weights", naming.MAX_NAME),  # the claim, in the endpoint's namespace
        # The PersistentVolume is cluster-scoped (and its CSI volumeHandle unique per driver): per namespace.
        "volume": naming.scoped_name(spec.namespace, name, "-weights"),
        "ingress": ingress_rules.ingress_name(name),
        "hpa": name,
    }


def _weights(r: ResolvedEndpoint, region: str | None) -> tuple[str, list[dict], list[dict], list[dict], list[dict]]:
    """(model argument, volumes, mounts, init containers, extra objects) for the model source."""
    spec = r.spec
    src = spec.model_source
    mount = engines.DEFAULT_MODEL_DIR
    if isinstance(src, HuggingFaceSource):
        volume = {"name": HF_CACHE_VOLUME, "emptyDir": {"sizeLimit": spec.resources.ephemeral_storage}}
        return src.model_id or spec.model, [volume], [{"name": HF_CACHE_VOLUME, "mountPath": HF_HOME}], [], []
    assert isinstance(src, S3Source), "validated: FSx only with the hyperpod backend"
    bucket_region = src.region or region or "us-east-1"
    if spec.kubernetes.weights == "init-container":
        volume = {"name": MODEL_VOLUME, "emptyDir": {"sizeLimit": spec.resources.ephemeral_storage}}
        init = {
            "name": "fetch-weights",
            "image": spec.kubernetes.init_image,
            "command": ["aws", "s3", "sync", f"s3://{src.bucket}/{src.path}", mount, "--only-show-errors"],
            "env": [{"name": "AWS_REGION", "value": bucket_region}],
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
            "volumeMounts": [{"name": MODEL_VOLUME, "mountPath": mount}],
        }
        return mount, [volume], [{"name": MODEL_VOLUME, "mountPath": mount, "readOnly": True}], [init], []
    n = names(spec)
    options = ["allow-other", f"region {bucket_region}"]
    if src.path.strip("/"):
        options.append(f"prefix {src.path.strip('/')}/")
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": n["volume"], "labels": r.labels},
        "spec": {
            "capacity": {"storage": "1200Gi"},  # required by the API, ignored by Mountpoint
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": "",
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": spec.namespace, "name": n["weights"]},
            "mountOptions": options,
            "csi": {
                "driver": S3_CSI_DRIVER,
                "volumeHandle": n["volume"],
                "volumeAttributes": {"bucketName": src.bucket},
            },
        },
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": n["weights"], "namespace": spec.namespace, "labels": r.labels},
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": "",
            "volumeName": n["volume"],
            "resources": {"requests": {"storage": "1200Gi"}},
        },
    }
    volume = {"name": MODEL_VOLUME, "persistentVolumeClaim": {"claimName": n["weights"], "readOnly": True}}
    return mount, [volume], [{"name": MODEL_VOLUME, "mountPath": mount, "readOnly": True}], [], [pv, pvc]


def deployment(
    spec: EndpointSpec, region: str | None = None, api_key_secret: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Deployment and the objects it needs first (PV/PVC of the S3 CSI weights)."""
    r = resolve(spec)
    model_arg, volumes, mounts, inits, extra = _weights(r, region)
    main = engine_container.container(r, model_arg, mounts, api_key_secret)
    if isinstance(spec.model_source, HuggingFaceSource):
        main["env"].append({"name": "HF_HOME", "value": HF_HOME})
    pod: dict[str, Any] = {
        **engine_container.placement(r),
        "containers": [main],
        "volumes": [engine_container.shm_volume(), *volumes],
        "terminationGracePeriodSeconds": 60,
    }
    if inits:
        pod["initContainers"] = inits
    if spec.kubernetes.service_account_name:
        pod["serviceAccountName"] = spec.kubernetes.service_account_name
    body: dict[str, Any] = {
        "selector": {"matchLabels": r.selector},
        # G4: no surge pod waiting for the GPU the old pod holds.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
        # A model that has not loaded within maxDeploySeconds turns Progressing=False: state Failed.
        "progressDeadlineSeconds": spec.max_deploy_seconds,
        "revisionHistoryLimit": 3,
        "template": {"metadata": {"labels": {**r.labels, **r.selector}}, "spec": pod},
    }
    if spec.autoscaling is None:
        body["replicas"] = spec.replicas  # with an HPA the replica count is the HPA's, not Pulumi's
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": names(spec)["deployment"], "namespace": spec.namespace, "labels": r.labels},
        "spec": body,
    }
    return dep, extra


def hpa(spec: EndpointSpec) -> dict[str, Any] | None:
    scaling = spec.autoscaling
    if scaling is None:
        return None
    metric = scaling.pods_metric
    name = metric.name if metric else QUEUE_METRIC[spec.engine]
    target = metric.target_average_value if metric else DEFAULT_QUEUE_TARGET
    r = resolve(spec)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": names(spec)["hpa"], "namespace": spec.namespace, "labels": r.labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names(spec)["deployment"]},
            "minReplicas": max(1, scaling.min_replicas),
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": name},
                        "target": {"type": "AverageValue", "averageValue": engines._fmt(target)},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": scaling.cooldown_seconds}},
        },
    }


def render(r: ResolvedEndpoint, context: RenderContext) -> list[dict[str, Any]]:
    """Every object of the endpoint, in creation order."""
    spec = r.spec
    dep, extra = deployment(spec, context.region, context.api_key_secret)
    out = [*extra, dep, service(spec, BACKEND.load_balancer(spec))]
    if (scaler := hpa(spec)) is not None:
        out.append(scaler)
    if BACKEND.load_balancer(spec) == "alb":
        out.append(ingress(spec, context.ingress, tags=context.alb_tags))
    return out


# ---------------------------------------------------------------- check and fix a Deployment


def model_containers(obj: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """Containers that run an engine or hold a GPU."""
    containers = reader.pod_spec(obj).get("containers") or []
    return [(i, c) for i, c in enumerate(containers) if isinstance(c, dict) and reader.runs_model(c)]


def engine_views(obj: dict[str, Any]) -> list[engine_checks.EngineContainerView]:
    """A Deployment's model containers, as the one engine-container checker sees them."""
    if kinds.group_kind(obj) != ("apps", "Deployment"):
        return []
    instance = reader.instance_of(reader.pod_spec(obj))
    return [
        engine_checks.container_view(
            c, f"spec.template.spec.containers[{i}]", instance, require_command=reader.detect_engine(c) is not None
        )
        for i, c in model_containers(obj)
    ]


def check_deployment(obj: dict[str, Any]) -> list[Problem]:
    """A Deployment's model containers are held to G3-G13 like any engine container (engine_checks),
    plus the rollout (G4: no surge pod waiting for the GPU) and placement (G11) of its GPU pod."""
    problems: list[Problem] = []
    pod = reader.pod_spec(obj)
    for view in engine_views(obj):
        problems += engine_container.check_engine_container(reader.at(obj, view.path), view)
    gpu_pod = any(reader.gpu_count(v.gpu_limit) > 0 for v in engine_views(obj))
    if gpu_pod:
        problems += _check_rollout(obj)
        problems += engine_container.check_placement(pod, "spec.template.spec")
    return problems


def _check_rollout(obj: dict[str, Any]) -> list[Problem]:
    strategy = (obj.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return []
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if str(surge) in ("0", "0%"):
        return []
    return [
        Problem(
            "spec.strategy.rollingUpdate.maxSurge",
            surge,
            G4,
            "a surge pod waits for the GPU the old pod holds: the rollout deadlocks on a full node",
            "set strategy.rollingUpdate {maxSurge: 0, maxUnavailable: 1} (or type Recreate)",
        )
    ]


def fix_deployment(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    obj = copy_tree(obj)
    changes: list[Change] = []
    gpu_pod = False
    instance = reader.instance_of(reader.pod_spec(obj))
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    for i, container in model_containers(obj):
        gpu_pod |= reader.gpu_count(reader.gpu_limit(container.get("resources"))) > 0
        changes += engine_container.fix_engine_container(
            container, f"spec.template.spec.containers[{i}]", pod, instance
        )
    if gpu_pod and _check_rollout(obj):
        spec = obj.setdefault("spec", {})
        old = spec.get("strategy")
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
        changes.append(
            Change("spec.strategy", old, spec["strategy"], G4, "no surge pod waiting for a GPU the old pod holds")
        )
    return obj, changes


# ---------------------------------------------------------------- by kind (manifests.py composes these)

CHECKERS: dict[kinds.Kind, kinds.Checker] = {("apps", "Deployment"): check_deployment}
FIXERS: dict[kinds.Kind, kinds.Fixer] = {("apps", "Deployment"): fix_deployment}
check = kinds.check_by_kind(CHECKERS)
fix = kinds.fix_by_kind(FIXERS)


# ---------------------------------------------------------------- config


def validate(spec: EndpointSpec, path: str) -> list[Problem]:
    return autoscaling.check_pods_metric(spec, path) if spec.autoscaling is not None else []


def validate_platform(spec: EndpointSpec, where: str, needs: PlatformNeeds) -> list[Problem]:
    problems = []
    source = spec.model_source
    if (
        isinstance(source, S3Source)
        and spec.kubernetes.weights == "s3-csi"
        and not needs.plan["s3_csi"]
        and not needs.adopted
    ):
        problems.append(
            Problem(
                f"{where}.kubernetes.weights",
                "s3-csi",
                "BACKEND",
                "the Mountpoint S3 CSI driver add-on is off, so the weights volume never mounts",
                f"set {needs.paths.platform}.s3Csi: true, or kubernetes.weights: init-container",
            )
        )
    if (
        spec.kubernetes.weights == "init-container"
        and isinstance(source, S3Source)
        and not spec.kubernetes.service_account_name
    ):
        problems.append(
            Problem(
                f"{where}.kubernetes.serviceAccountName",
                None,
                "BACKEND",
                "the init container needs AWS credentials to read s3://" + source.bucket,
                "name a service account with S3 read access (Pod Identity or IRSA), or use kubernetes.weights: s3-csi",
                severity="warning",
            )
        )
    return problems + front.needs_front(spec, where, needs, BACKEND.load_balancer(spec))


def _replicas(obj: Any) -> tuple[int | None, int | None]:
    status = obj.get("status") or {}
    return status.get("readyReplicas", 0), (obj.get("spec") or {}).get("replicas", status.get("replicas"))


BACKEND: Backend = Backend(
    refusals={
        G5: "the served model name of a model read from a mounted path (S3 weights) is not in the Deployment; the command is repaired",
        G11: "which of the GPU limit and the tensor-parallel size is meant (or whether CUDA_VISIBLE_DEVICES is) is the user's call",
    },
    default_on="plain",
    name="kubernetes",
    title="Kubernetes",
    default_load_balancer="alb",
    render=render,
    engine_views=engine_views,
    checkers=CHECKERS,
    fixers=FIXERS,
    live=LiveReference("apps", "v1", "deployments", "Deployment", state_rules.deployment, _replicas, autoscaler=True),
    options=KubernetesBackend,
    validate=validate,
    validate_platform=validate_platform,
    has_alb=lambda spec: BACKEND.load_balancer(spec) == "alb",
    public_load_balancer=lambda spec: front.public_load_balancer(BACKEND.load_balancer(spec)),
    autoscaler="hpa",
    upstream=lambda spec, platform: Upstream(
        front.in_cluster(names(spec)["service"], spec.namespace), front.SERVICE_PORT
    ),
    pool_routing=True,
)
