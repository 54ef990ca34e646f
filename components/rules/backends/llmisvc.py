"""The `llmisvc` backend: a KServe LLMInferenceService (serving.kserve.io/v1alpha2), KServe's LLM path on llm-d.

Named after KServe's own short name for it (the `llmisvc-controller-manager`, the `kserve-llmisvc-*` charts,
`pkg/controller/v1alpha2/llmisvc`), which is also a valid config key for its options.

What the controller does with the object (kserve/kserve@v0.20.0):
- it merges well-known LLMInferenceServiceConfig presets under the spec (pkg/controller/v1alpha2/llmisvc/
  config_merge.go combineBaseRefsConfig): `kserve-config-llm-template` for one node, `-prefill-template` and
  `-decode-template` with `spec.prefill`, `-scheduler` with `router.scheduler`, `-router-route` with `router.route`
  (config/llmisvcconfig/*.yaml). The presets own the image (ghcr.io/llm-d/llm-d-cuda), the command (`vllm serve
  /mnt/models --served-model-name {{ .Spec.Model.Name }} --port 8000 ... $@`, under `bash -c` with `eval`) and the
  pod's volumes; a strategic merge puts the container named `main` rendered here over theirs;
- it creates the Deployment `<name>-kserve` (and `<name>-kserve-prefill`), the ClusterIP Service
  `<name>-kserve-workload-svc` on port 8000 (workload_single_node.go, workload.go), and with a router the
  HTTPRoute `<name>-kserve-route`, the InferencePool `<name>-inference-pool` and the endpoint picker
  `<name>-kserve-router-scheduler` (router.go, scheduler.go);
- the storage initializer downloads `spec.model.uri` (hf://, s3://) to /mnt/models, the token from the Secret
  the `serving.kserve.io/secretName` annotation names, key `HF_TOKEN` (workload_storage.go attachHfModelArtifact,
  pkg/credentials/service_account_credentials.go mountSecretCredential, pkg/credentials/hf/hf_secret.go).
"""

from __future__ import annotations

import shlex
from typing import Any

import components.rules.backends.container as engine_container
import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.front as front
import components.rules.backends.kinds as kinds
import components.rules.backends.reader as reader
import components.rules.backends.state as state_rules

from .. import engines, naming
from ..catalog import B1, G2, G3, G5, G6, G10, G11, G12, G13
from ..endpoint import ResolvedEndpoint, resolve
from ..problems import Change, Problem
from ..spec import EndpointSpec, HuggingFaceSource, LlmisvcBackend, S3Source
from ..tree import copy_tree
from .base import Backend, LiveReference, PlatformNeeds, RenderContext, Upstream

GROUP = "serving.kserve.io"
VERSION = "v1alpha2"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "LLMInferenceService"
CONTAINER_NAME = "main"  # the presets' container, which ours is merged over by name
# The port the presets' vLLM listens on, the workload Service and the InferencePool target (workload.go
# reconcileWorkloadService: "The presets we bundle assume 8000 for the main receiver"); with prefill/decode the
# decode pod's routing sidecar takes 8000 and its vLLM 8001 (config/llmisvcconfig/config-llm-decode-template.yaml).
PORT = 8000
DECODE_ENGINE_PORT = 8001
MODEL_DIR = "/mnt/models"  # where the storage initializer puts the model and the presets' `vllm serve` reads it
SECRET_ANNOTATION = "serving.kserve.io/secretName"  # charts/kserve-llmisvc-resources values storageSecretNameAnnotation
HF_TOKEN_KEY = "HF_TOKEN"  # pkg/credentials/hf/hf_secret.go HFTokenKey: a Secret without this key is skipped
# The KV transfer of the prefill/decode sample (docs/samples/llmisvc/single-node-gpu/
# llm-inference-service-pd-qwen2-7b-gpu.yaml), through the presets' VLLM_ADDITIONAL_ARGS.
KV_TRANSFER = '--kv_transfer_config \'{"kv_connector":"NixlConnector","kv_role":"%s"}\''
# The presets run as non-root (config-llm-template.yaml securityContext.runAsNonRoot: true).
LLM_D_IMAGE = "ghcr.io/llm-d/"
WORKLOAD_SERVICE = "{name}-kserve-workload-svc"
NAME_BUDGET = naming.budget((WORKLOAD_SERVICE,))  # 43


def workload_service_name(spec: EndpointSpec) -> str:
    """The controller's Service in front of the workload pods (workload.go workloadServiceName: kmeta.ChildName,
    which hashes a name past 63 characters; `validate` keeps the endpoint name short enough)."""
    return WORKLOAD_SERVICE.format(name=resolve(spec).name)


def _engine_args(r: ResolvedEndpoint, port: int) -> list[str]:
    """The full vLLM flags, after the presets' `vllm serve /mnt/models --served-model-name ... --port ...`: vLLM's
    argparse keeps the last of a repeated flag, so ours win, and they are on the object for G3/G5/G11 to judge. The
    served names are the presets' two: the model's (G5) and KServe's `publishers/<namespace>/models/<name>` of
    model-based routing (pkg/controller/v1alpha2/llmisvc/router_discovery_filter.go fullyQualifiedModelName).
    Shell-quoted: the presets `eval` them."""
    args = engines.build_args(r.engine.name, None, r.served_model_name, port, r.params, api_key_env=r.api_key_env)
    at = args.index("--served-model-name") + 2
    args[at:at] = [f"publishers/{r.namespace}/models/{r.served_model_name}"]
    return [shlex.quote(str(a)) for a in args + list(r.spec.extra_args)]


def _main(r: ResolvedEndpoint, api_key_secret: str | None, port: int, role: str | None) -> dict[str, Any]:
    env = [e for e in engine_container.env(r, api_key_secret) if e["name"] != engine_container.HF_TOKEN_ENV]
    if role is not None:
        env += [
            {"name": "VLLM_ADDITIONAL_ARGS", "value": KV_TRANSFER % role},
            {"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ]
    main: dict[str, Any] = {"name": CONTAINER_NAME}
    if r.spec.image:
        main["image"] = r.spec.image
    main.update(
        {
            "args": _engine_args(r, port),
            "env": env,
            "ports": [{"name": engine_container.PORT_NAME, "containerPort": port, "protocol": "TCP"}],
            "resources": r.resources,
            **{k: _probe_on(v, port) for k, v in r.probes.items()},
            # The presets' `dshm` volume (emptyDir, medium Memory) at /dev/shm, named here so G13 sees it.
            "volumeMounts": [{"name": engine_container.SHM_VOLUME, "mountPath": "/dev/shm"}],
        }
    )
    return main


def _probe_on(probe: dict[str, Any], port: int) -> dict[str, Any]:
    out = dict(probe)
    if isinstance(out.get("httpGet"), dict):
        out["httpGet"] = {**out["httpGet"], "port": port}
    return out


def _pod(r: ResolvedEndpoint, api_key_secret: str | None, port: int, role: str | None) -> dict[str, Any]:
    pod: dict[str, Any] = {
        **engine_container.placement(r),
        "containers": [_main(r, api_key_secret, port, role)],
        "volumes": [engine_container.shm_volume()],
    }
    if r.spec.kubernetes.service_account_name:
        pod["serviceAccountName"] = r.spec.kubernetes.service_account_name  # S3 read (IRSA) for the storage initializer
    return pod


def model_uri(spec: EndpointSpec) -> str:
    src = spec.model_source
    if isinstance(src, S3Source):
        return f"s3://{src.bucket}/{src.path.strip('/')}".rstrip("/")
    assert isinstance(src, HuggingFaceSource), "validated: FSx only with the hyperpod backend"
    return f"hf://{src.model_id or spec.model}" + (f"@{src.revision}" if src.revision else "")


def llm_inference_service(spec: EndpointSpec, api_key_secret: str | None = None) -> dict[str, Any]:
    r = resolve(spec)
    options: LlmisvcBackend = spec.llmisvc
    pd = options.prefill_replicas is not None
    body: dict[str, Any] = {
        # G5: the presets pass spec.model.name as --served-model-name.
        "model": {"uri": model_uri(spec), "name": r.served_model_name},
        "replicas": spec.replicas,
        "parallelism": {"tensor": r.tensor_parallel_size},
        "template": _pod(r, api_key_secret, DECODE_ENGINE_PORT if pd else PORT, "kv_consumer" if pd else None),
    }
    if pd:
        body["prefill"] = {
            "replicas": options.prefill_replicas,
            "parallelism": {"tensor": r.tensor_parallel_size},
            "template": _pod(r, api_key_secret, PORT, "kv_producer"),
        }
    if options.router == "scheduler":
        gateway = options.gateway
        assert gateway is not None, "validated: the scheduler router needs a Gateway"
        body["router"] = {
            "route": {},
            "gateway": {"refs": [{"name": gateway.name, "namespace": gateway.namespace}]},
            "scheduler": {},
        }
    metadata: dict[str, Any] = {"name": r.name, "namespace": spec.namespace, "labels": r.labels}
    src = spec.model_source
    if isinstance(src, HuggingFaceSource) and src.token_secret:
        metadata["annotations"] = {SECRET_ANNOTATION: src.token_secret.name}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": body}


def render(r: ResolvedEndpoint, context: RenderContext) -> list[dict[str, Any]]:
    return [llm_inference_service(r.spec, context.api_key_secret)]


# ---------------------------------------------------------------- checks


def _unquoted(args: Any) -> list[str]:
    """Our args as `eval` in the presets' command splits them."""
    try:
        return shlex.split(" ".join(str(a) for a in args)) if isinstance(args, list) else []
    except ValueError:
        return [str(a) for a in args]


def _workloads(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any, int]]:
    """(path, pod template, parallelism, preset port) of the decode/single workload and the prefill one."""
    pd = isinstance(spec.get("prefill"), dict)
    out = []
    if isinstance(spec.get("template"), dict):
        out.append(("spec.template", spec["template"], spec.get("parallelism"), DECODE_ENGINE_PORT if pd else PORT))
    if pd and isinstance(spec["prefill"].get("template"), dict):
        out.append(("spec.prefill.template", spec["prefill"]["template"], spec["prefill"].get("parallelism"), PORT))
    return out


def engine_views(obj: dict[str, Any]) -> list[engine_checks.EngineContainerView]:
    """The `main` container of each workload, its args as the presets' `eval` splits them. The presets own the
    command (require_command=False); the args, probes, port, env and resources are ours."""
    if kinds.group_kind(obj) != (GROUP, KIND):
        return []
    spec = obj.get("spec") or {}
    views = []
    for base, pod, _parallelism, _port in _workloads(spec):
        for i, c in enumerate(pod.get("containers") or []):
            if not isinstance(c, dict) or c.get("name") != CONTAINER_NAME:
                continue
            args = _unquoted(c.get("args"))
            view = engine_checks.container_view(
                {**c, "args": args},
                f"{base}.containers[{i}]",
                reader.instance_of(pod),
                require_command=False,
                labels=reader.labels_of(obj),
            )
            views.append(view)
    return views


def check_llm_inference_service(obj: dict[str, Any]) -> list[Problem]:
    spec = obj.get("spec") or {}
    problems: list[Problem] = []
    for base, pod, _, port in _workloads(spec):
        for i, c in enumerate(pod.get("containers") or []):
            if not isinstance(c, dict) or c.get("name") != CONTAINER_NAME:
                continue
            ports = [p.get("containerPort") for p in c.get("ports") or [] if isinstance(p, dict)]
            if ports and ports[0] != port:
                problems.append(
                    Problem(
                        f"{base}.containers[{i}].ports[0].containerPort",
                        ports[0],
                        G3,
                        f"KServe's presets start vLLM on {port}, and its Service and InferencePool target 8000; the port cannot be changed",
                        f"use {port}",
                    )
                )
            problems += engine_container.check_args_expansion(c.get("args"), f"{base}.containers[{i}]")
    model = spec.get("model") or {}
    name = model.get("name")
    if isinstance(name, str) and "/" in name:
        problems.append(
            Problem(
                "spec.model.name",
                name,
                G5,
                "the presets serve the model as spec.model.name; clients send the last segment of the model id",
                f"use {engines.served_model_name(name)!r}",
            )
        )
    uri = model.get("uri")
    if isinstance(uri, str) and not uri.startswith(("hf://", "s3://", "pvc://", "oci://")):
        problems.append(
            Problem(
                "spec.model.uri",
                uri,
                B1,
                "KServe's LLMInferenceService downloads only hf://, s3://, pvc:// and oci:// (`unsupported schema in model URI`)",
                "use hf://<org>/<name> or s3://<bucket>/<path>",
            )
        )
    views = engine_views(obj)
    for view in views:
        problems += engine_checks.check(view)
    for base, pod, _, _ in _workloads(spec):
        if any(v.gpu_limit is not None and v.path.startswith(base) for v in views):
            problems += engine_container.check_placement(pod, base)
    return problems


def fix_llm_inference_service(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """G3 the presets' port, G4/G3 probes on it, G13 ephemeral storage and /dev/shm, on each workload's `main` container."""
    obj = copy_tree(obj)
    changes: list[Change] = []
    for base, pod, _, port in _workloads(obj.get("spec") or {}):
        for i, c in enumerate(pod.get("containers") or []):
            if not isinstance(c, dict) or c.get("name") != CONTAINER_NAME:
                continue
            where = f"{base}.containers[{i}]"
            changes += _fix_port(c, where, port)
            changes += engine_checks.fix_probes(c, where, reader.detect_engine(c, reader.labels_of(obj)), port)
            changes += engine_checks.fix_ephemeral_storage(c, where)
            mounts = c.setdefault("volumeMounts", [])
            if not any(isinstance(m, dict) and m.get("mountPath") == "/dev/shm" for m in mounts):
                mounts.append({"name": engine_container.SHM_VOLUME, "mountPath": "/dev/shm"})
                if not any(
                    isinstance(v, dict) and v.get("name") == engine_container.SHM_VOLUME
                    for v in pod.get("volumes") or []
                ):
                    pod.setdefault("volumes", []).append(engine_container.shm_volume())
                changes.append(
                    Change(
                        f"{where}.volumeMounts[/dev/shm]",
                        None,
                        engine_container.SHM_VOLUME,
                        G13,
                        "memory-backed shared memory for the engine",
                    )
                )
    return obj, changes


def _fix_port(c: dict[str, Any], where: str, port: int) -> list[Change]:
    """G3: KServe's Service and InferencePool reach the workload on the presets' port whatever the object says, so the
    engine's `--port` and the container port are set to it (a different one is never what the endpoint needs)."""
    changes = []
    args = c.get("args")
    if (
        isinstance(args, list)
        and "--port" in args
        and args.index("--port") + 1 < len(args)
        and str(args[args.index("--port") + 1]) != str(port)
    ):
        at = args.index("--port") + 1
        changes.append(
            Change(
                f"{where}.args[--port]",
                args[at],
                str(port),
                G3,
                "the port KServe's presets, Service and InferencePool use",
            )
        )
        args[at] = str(port)
    ports = [p for p in c.get("ports") or [] if isinstance(p, dict)]
    if ports and ports[0].get("containerPort") != port:
        changes.append(
            Change(
                f"{where}.ports[0].containerPort",
                ports[0].get("containerPort"),
                port,
                G3,
                "the port KServe's presets, Service and InferencePool use",
            )
        )
        ports[0]["containerPort"] = port
    return changes


# ---------------------------------------------------------------- by kind (manifests.py composes these)

CHECKERS: dict[kinds.Kind, kinds.Checker] = {(GROUP, KIND): check_llm_inference_service}
FIXERS: dict[kinds.Kind, kinds.Fixer] = {(GROUP, KIND): fix_llm_inference_service}
check = kinds.check_by_kind(CHECKERS)
fix = kinds.fix_by_kind(FIXERS)


# ---------------------------------------------------------------- config


def validate(spec: EndpointSpec, where: str) -> list[Problem]:
    """Config rules of one endpoint on this backend (before anything is declared, and in grid pruning)."""
    problems = []
    options = spec.llmisvc
    name = resolve(spec).name
    if len(name) > NAME_BUDGET:
        problems.append(
            Problem(
                f"{where}.name",
                spec.name,
                G2,
                f"KServe names the workload Service {WORKLOAD_SERVICE.format(name=name)!r} and shortens it with a hash past 63 characters, so the gateway could not name it",
                f"shorten the endpoint name to {NAME_BUDGET} characters",
            )
        )
    if spec.engine != "vllm":
        # The presets start `vllm serve` (config/llmisvcconfig/config-llm-template.yaml); KServe ships no SGLang preset.
        problems.append(
            Problem(
                f"{where}.engine",
                spec.engine,
                "BACKEND",
                "KServe's LLMInferenceService presets run vLLM only",
                "use engine: vllm, or backend: kubernetes for SGLang",
            )
        )
    if spec.port is not None and spec.port != PORT:
        problems.append(
            Problem(
                f"{where}.port",
                spec.port,
                G3,
                "KServe's presets, its workload Service and InferencePool use port 8000 and the controller offers no other",
                "remove port (8000)",
            )
        )
    if spec.autoscaling is not None:
        problems.append(
            Problem(
                f"{where}.autoscaling",
                spec.autoscaling.model_dump(by_alias=True, exclude_none=True),
                "BACKEND",
                "the llmisvc backend scales by replicas (KServe's WVA/KEDA scaling is not rendered)",
                "remove autoscaling and set replicas",
            )
        )
    if options.router == "scheduler" and options.gateway is None:
        problems.append(
            Problem(
                f"{where}.llmisvc.gateway",
                None,
                "BACKEND",
                "the scheduler router's HTTPRoute attaches to a Gateway that routes to InferencePools; none is named",
                "set llmisvc.gateway {name, namespace} of that Gateway, or llmisvc.router: none",
            )
        )
    if options.prefill_replicas is not None and options.router != "scheduler":
        problems.append(
            Problem(
                f"{where}.llmisvc.prefillReplicas",
                options.prefill_replicas,
                "BACKEND",
                "prefill/decode needs the endpoint picker to pair a prefill and a decode pod; the workload Service selects both",
                "set llmisvc.router: scheduler (with llmisvc.gateway), or remove prefillReplicas",
            )
        )
    src = spec.model_source
    if isinstance(src, HuggingFaceSource) and src.token_secret is not None and src.token_secret.key != HF_TOKEN_KEY:
        problems.append(
            Problem(
                f"{where}.modelSource.tokenSecret.key",
                src.token_secret.key,
                "BACKEND",
                "KServe's storage initializer reads the token only from the Secret key HF_TOKEN and skips the Secret otherwise",
                "store the token under key HF_TOKEN and set tokenSecret.key: HF_TOKEN",
            )
        )
    if spec.image and not spec.image.startswith(LLM_D_IMAGE):
        problems.append(
            Problem(
                f"{where}.image",
                spec.image,
                "BACKEND",
                "KServe's presets run the container with runAsNonRoot: true; an image whose user is root (vllm/vllm-openai) is refused by the kubelet",
                "leave image unset (the presets' llm-d image) or use an image with a non-root user",
                severity="warning",
            )
        )
    return problems


def validate_platform(spec: EndpointSpec, where: str, needs: PlatformNeeds) -> list[Problem]:
    problems = front.needs_front(spec, where, needs, "none")
    if not needs.plan["cert_manager"] and not needs.adopted:
        problems.append(
            Problem(
                f"{where}.backend",
                "llmisvc",
                "BACKEND",
                "the llmisvc controller's webhooks need cert-manager",
                f"set {needs.paths.platform}.certManager: true",
            )
        )
    if needs.plan["kserve_operator"] and needs.plan["llmisvc_operator"] and not needs.adopted:
        # Both charts create the inferenceservice-config ConfigMap and selfsigned-issuer in namespace kserve, and both
        # CRD charts the ClusterStorageContainer CRD (charts/kserve-resources, charts/kserve-llmisvc-resources,
        # charts/kserve-crd, charts/kserve-llmisvc-crd): the second install fails on objects the first owns.
        problems.append(
            Problem(
                f"{needs.paths.platform}.llmisvcOperator",
                True,
                "BACKEND",
                "KServe's classic and LLMInferenceService charts both create KServe's shared objects in namespace kserve",
                f"use one KServe backend per cluster: set {needs.paths.platform}.kserveOperator: false (and no kserve endpoints), or move the llmisvc endpoints to another cluster",
            )
        )
    if BACKEND.load_balancer(spec) != "none":
        problems.append(
            Problem(
                f"{where}.loadBalancer",
                spec.load_balancer,
                "BACKEND",
                "KServe creates the workload Service (and with the scheduler router an HTTPRoute on your Gateway); the stack declares no load balancer for it",
                "set loadBalancer: none",
            )
        )
    return problems


def upstream(spec: EndpointSpec) -> Upstream | None:
    """The workload Service on 8000; None with prefill/decode, where that Service selects prefill pods too
    (workload_single_node.go: both carry `kserve.io/component: workload`) and only the endpoint picker behind the
    InferencePool pairs a request with a prefill and a decode pod."""
    if spec.llmisvc.prefill_replicas is not None:
        return None
    return Upstream(front.in_cluster(workload_service_name(spec), spec.namespace), PORT)


BACKEND = Backend(
    name="llmisvc",
    title="KServe LLMInferenceService",
    default_load_balancer="none",
    render=render,
    engine_views=engine_views,
    checkers=CHECKERS,
    fixers=FIXERS,
    live=LiveReference(
        GROUP, VERSION, "llminferenceservices", KIND, state_rules.ready_condition, url=state_rules.status_url
    ),
    options=LlmisvcBackend,
    validate=validate,
    validate_platform=validate_platform,
    upstream=lambda spec, platform: upstream(spec),
    # The webhook refuses a change of the total parallelism (pkg/apis/serving/v1alpha2/
    # llm_inference_service_validation.go validateImmutableParallelism).
    immutable_fields=("spec.parallelism", "spec.prefill.parallelism"),
    # The port, probes and storage (G3, G4, G13) are repaired on the object; the other flags are judged, not rewritten, as for
    # every backend whose container the rule library builds: a changed flag would be a different endpoint.
    refusals={
        G6: "SGLang is refused in the config: KServe's presets run vLLM only",
        G5: "the served names are rendered from the model id; the presets also pass spec.model.name",
        G10: "engine flags are the config's engineArgs, checked before anything is declared",
        G11: "the GPU limit and tensor-parallel size come from the config and the instance, checked before anything is declared",
        G12: "the instance's env comes from the config's instance type",
    },
    operator_addon="llmisvc_operator",
    operator_requires={
        "cert_manager": "the llmisvc chart's webhook certificate is issued by cert-manager, which is switched off"
    },
)
