"""Helm values of the backend operators' charts (KServe, its LLMInferenceService chart and presets, OME) that
differ from upstream's; `components/rules/addons.py` re-exports them."""

from __future__ import annotations

from typing import Any


def kserve_values(system_nodes: dict[str, str]) -> dict[str, Any]:
    """Values of kserve-resources v0.20.0 (kserve/kserve@v0.20.0 charts/kserve-resources/values.yaml) that differ
    from upstream's:
    - `kserve.controller.deploymentMode: Standard`: upstream's default is `Knative`, which needs Knative Serving and
      Istio. `Standard` is what RawDeployment is called since v0.20 (pkg/constants/constants.go: "RawDeployment
      ... deprecated: use Standard"; pkg/apis/serving/v1beta1/configmap.go NewDeployConfig accepts Knative,
      Standard, ModelMesh and maps RawDeployment to Standard): plain Deployments and Services;
    - `gateway.disableIngressCreation: true`: the stack declares each endpoint's own Service and ALB Ingress
      (upstream would add an Ingress of class `istio` that nothing serves); `disableIstioVirtualHost: true`: no Istio;
    - `controller.nodeSelector`: the system nodes, as for the other controllers (empty on an adopted cluster).
    cert-manager issues its webhook certificate (`kserve.certManager.enabled` follows `createSharedResources: true`)."""
    return {
        "kserve": {
            "controller": {
                "deploymentMode": "Standard",
                "gateway": {"disableIngressCreation": True, "disableIstioVirtualHost": True},
                "nodeSelector": dict(system_nodes),
            }
        }
    }


def llmisvc_values(system_nodes: dict[str, str], inference_pool_crds: bool = True) -> dict[str, Any]:
    """Values of kserve-llmisvc-resources v0.20.0 (kserve/kserve@v0.20.0 charts/kserve-llmisvc-resources/values.yaml)
    that differ from upstream's:
    - `kserve.llmisvc.controller.nodeSelector`: the system nodes, as for the other controllers;
    - `kserve.llmisvc.createGIECRDs`: the chart installs the InferencePool CRDs (inference.networking.k8s.io and
      .x-k8s.io, templates/llmisvc/resources.yaml) unless told not to; `inference_pool_crds=False` where another
      add-on of the platform installs them (one owner per CRD).
    Kept: the inferenceservice-config ConfigMap, whose ingress settings leave `enableLLMInferenceServiceTLS` unset
    (false: vLLM serves plain HTTP on 8000, pkg/apis/serving/v1beta1/configmap.go IngressConfig), and the
    cert-manager Issuer of its webhook certificate (`createSharedResources: true`)."""
    return {
        "kserve": {
            "llmisvc": {"controller": {"nodeSelector": dict(system_nodes)}, "createGIECRDs": inference_pool_crds}
        }
    }


# kserve/kserve@v0.20.0 charts/kserve-runtime-configs/values.yaml: the LLMInferenceServiceConfig presets are off
# by default, the ClusterServingRuntimes too (they are the kserve backend's business, not rendered here).
LLMISVC_PRESETS_VALUES: dict[str, Any] = {
    "kserve": {"llmisvcConfigs": {"enabled": True}, "servingruntime": {"enabled": False}}
}
EXTRA_CHART_VALUES: dict[str, dict[str, Any]] = {"llmisvc_presets": LLMISVC_PRESETS_VALUES}


# The OME model agent runs on the GPU nodes, where it downloads each ClusterBaseModel to the host path the
# engine mounts. Upstream requests 10 CPUs and 100 GiB per node (sgl-project/ome@v0.1.5
# charts/ome-resources/values.yaml modelAgent.resources), more than a g5.2xlarge or g4dn.xlarge has beside
# the engine (which requests 75% of the node): the DaemonSet's pods would stay Pending and no model would
# arrive. The controller's 2 CPUs and 4 GiB per replica, 3 replicas, do not fit a small system node group
# (an m6i.large has 2 vCPUs). Requests are lowered so both schedule; limits stay upstream's where they fit.
OME_MODEL_AGENT_RESOURCES = {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
OME_CONTROLLER_RESOURCES = {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "4Gi"}}


def ome_values(system_nodes: dict[str, str]) -> dict[str, Any]:
    """Values of ome-resources 0.1.5 (sgl-project/ome@v0.1.5 charts/ome-resources/values.yaml) that differ from
    upstream's. Kept: `ome.controller.deploymentMode: RawDeployment` (no Knative, Istio or LeaderWorkerSet;
    LWS is needed only by the MultiNode and PD-disaggregated modes, site/content/en/docs/installation/_index.md),
    the model agent's host path `/mnt/data/models` (the ome backend's model root) and its GPU toleration.
    - `ome.controller`: one replica (leader election makes the others standbys), on the system nodes, with the
      requests above;
    - `modelAgent.gpuNodesOnly: true`: only on nodes labelled `nvidia.com/gpu.present: "true"` (upstream's
      `gpuNodeLabel`), which the stack puts on every GPU node group and HyperPod instance group; upstream runs it
      on every node, system nodes included."""
    return {
        "ome": {
            "controller": {"replicaCount": 1, "nodeSelector": dict(system_nodes), "resources": OME_CONTROLLER_RESOURCES}
        },
        "modelAgent": {"gpuNodesOnly": True, "resources": OME_MODEL_AGENT_RESOURCES},
    }
