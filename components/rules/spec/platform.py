"""The platform: domain, ingress and the add-ons every endpoint shares."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..bounds import ONE_LINE, DnsSubdomain, Int32, NameTemplate
from .base import _Model
from .cluster import _ARN
from .scaling import AMP_WORKSPACE_PATTERN


class DomainSpec(_Model):
    """A DNS domain of a Route53 hosted zone under which the stack names each ALB endpoint
    `<Kubernetes name>.<name>` and for which it issues a wildcard ACM certificate `*.<name>`, validated by
    DNS records in that zone (rule S2).
    """

    name: DnsSubdomain
    """Domain under which the endpoints get their names; lowercase. Example: `api.example.com`"""
    hosted_zone_id: Annotated[str, Field(max_length=32), ONE_LINE] = Field(pattern=r"^Z[A-Z0-9]+$")
    """Route53 hosted zone that serves `name` (the validation and endpoint records go there). Example:
    `Z0123456789ABCDEFGHIJ`
    """


class IngressSpec(_Model):
    """The ALB the stack declares per endpoint: in front of the HyperPod operator's router (hyperpod backend with
    `publicAlb`; an internal HyperPod endpoint uses the operator's own ALB) or of the endpoint's Service (kubernetes and kserve backends with `loadBalancer:
    alb`). Rules G8, G16, G17.
    """

    certificate_arn: Annotated[str, Field(max_length=2048), ONE_LINE] | None = Field(
        default=None, pattern=_ARN + "acm:"
    )
    """ACM certificate for HTTPS: the ALB then listens on 443 too, redirects HTTP to HTTPS and the endpoint URLs
    use `https`. With `domain`, it must cover `*.<domain.name>`. Unset: the certificate the stack issues for
    `domain`, else HTTP on port 80 only, which rule S2 refuses for an internet-facing ALB. Example:
    `arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef`
    """
    domain: DomainSpec | None = None
    """Name every ALB endpoint `<Kubernetes name>.<domain.name>` in the Route53 zone `hostedZoneId` and serve it
    over HTTPS; without `certificateArn` the stack issues an ACM certificate for `*.<domain.name>` with DNS
    validation. The endpoint URLs then use these names. Example: `{name: api.example.com, hostedZoneId:
    Z0123456789ABCDEFGHIJ}`
    """
    allow_plaintext_api_key: bool = False
    """Dev stacks only (the stack names S4 treats as dev: `dev`, `dev-*`, `*-dev`): let an internet-facing ALB
    without a certificate carry an API key, which then crosses the internet in clear text. Refused in every other
    stack; the plan warns on every run while it is set (rule S2). Example: `true`
    """
    inbound_cidrs: list[Annotated[str, Field(max_length=43), ONE_LINE]] = Field(default_factory=list)
    """Networks allowed to reach an internet-facing ALB (`publicAlb: true` only). Empty: anywhere. Example:
    `[203.0.113.0/24]`
    """
    router_service: NameTemplate = "{name}-router"
    """Name of the operator's router Service of an endpoint (hyperpod backend with `publicAlb`), the last fallback of
    its lookup; `{name}` is the endpoint's Kubernetes name. AWS documents neither the router Service's name nor its
    port, so `pulumi up` finds it in `hyperpod-inference-system` once the endpoint reports DeploymentComplete: the
    Service owned by the endpoint or by its router Deployment, selecting the router's pods or carrying its name; only
    when none is tied to the router, or to choose among several, the one of this name. Example: `{name}-router`
    """
    router_port: Int32 | None = Field(default=None, ge=1, le=65535)
    """Port of the router Service the public ALB forwards to (hyperpod backend with `publicAlb`). Unset: the found
    Service's only port, or the one whose targetPort is a port of the router container; 8080 where the cluster is
    not read (offline plan). Example: `443`
    """
    router_protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    """Protocol the ALB speaks to the router, for traffic and health checks (hyperpod backend with intelligent
    routing; the kubernetes and kserve ALBs always use HTTP). Example: `HTTPS`
    """
    idle_timeout_seconds: Int32 = Field(default=600, ge=1, le=4000)
    """ALB idle timeout in seconds; long generations need a long one. Example: `900`"""


class PlatformSpec(_Model):
    """Platform add-ons and the HyperPod inference operator. Each add-on is a switch; unset means the default of
    the cluster mode (shown in the Default column). Add-ons are installed in dependency order, the operator last
    (rule G20).
    """

    load_balancer_controller: bool | None = None
    """Install the AWS Load Balancer Controller (Helm), which creates the ALBs and NLBs of the endpoints. Example:
    `true`
    """
    nvidia_device_plugin: bool | None = None
    """Install the NVIDIA device plugin (Helm), which makes nodes advertise `nvidia.com/gpu`; without it GPU pods
    stay Pending. In mode hyperpod this switches the HyperPod chart's own plugin, installed before the HyperPod
    cluster (rule O7). Example: `true`
    """
    cert_manager: bool | None = None
    """Install cert-manager (Helm; in mode hyperpod the EKS add-on, as the HyperPod operator's setup requires), needed
    by KEDA, KServe and the HyperPod operator. Example: `true`
    """
    s3_csi: bool | None = None
    """Install the Mountpoint for S3 CSI driver (EKS add-on) with a role that may read the endpoints' S3 model
    buckets (every bucket when no endpoint uses S3). Example: `true`
    """
    fsx_csi: bool | None = None
    """Install the FSx for Lustre CSI driver (EKS add-on). Example: `true`"""
    metrics_server: bool | None = None
    """Install metrics-server (Helm; in mode hyperpod the EKS add-on, as the HyperPod operator's setup requires).
    Example: `true`
    """
    keda: bool | None = None
    """Install KEDA (Helm), needed by the HyperPod operator (its autoscaling triggers) and by OME. Example: `true`"""
    ome_operator: bool | Literal["auto"] | None = None
    """Install OME (upstream charts `ome-crd` and `ome-resources` 0.1.5 from `oci://ghcr.io/moirai-internal/charts`,
    namespace `ome`), after cert-manager and KEDA and before every `ome` endpoint (rules O3, O8). `auto`: when an
    endpoint of this stack has `backend: ome`. An endpoints-only stack installs nothing: its platform stack sets
    this. Example: `true`
    """
    kserve_operator: bool | Literal["auto"] | None = None
    """Install KServe (upstream charts `kserve-crd` and `kserve-resources` v0.20.0 from `oci://ghcr.io/kserve/charts`,
    namespace `kserve`) in Standard mode (RawDeployment: plain Deployments, no Knative or Istio), after cert-manager
    and before every `kserve` endpoint (rules O3, O8). `auto`: when an endpoint of this stack has `backend: kserve`.
    An endpoints-only stack installs nothing: its platform stack sets this. Example: `auto`
    """
    llmisvc_operator: bool | Literal["auto"] | None = None
    """Install KServe's LLMInferenceService controller (upstream charts `kserve-llmisvc-crd`,
    `kserve-llmisvc-resources` with the InferencePool CRDs, and `kserve-runtime-configs` with its
    LLMInferenceServiceConfig presets, v0.20.0 from `oci://ghcr.io/kserve/charts`, namespace `kserve`), after
    cert-manager and before every `llmisvc` endpoint (rules O3, O8). Not with `kserveOperator` on the same cluster
    (both charts create KServe's shared objects). `auto`: when an endpoint of this stack has `backend: llmisvc`.
    Example: `auto`
    """
    hyperpod_operator: bool | None = None
    """Install the SageMaker HyperPod inference operator, after all of its prerequisites. In mode existing, `true`
    installs it on the adopted cluster and makes endpoints default to the hyperpod backend. Example: `true`
    """
    operator_install: Literal["addon", "helm"] = "addon"
    """How the operator is installed: the EKS add-on, or its Helm chart (the inference-operator subchart
    of the HyperPod chart that `python -m stacks charts fetch` caches; see docs/deploying.md). Example: `helm`
    """
    operator_addon_version: Annotated[str, Field(max_length=64), ONE_LINE] | None = None
    """Version of the operator's EKS add-on (`operatorInstall: addon` only). Unset: the latest EKS offers. Example:
    `v1.0.0-eksbuild.1`
    """
    workload_identity: Literal["pod-identity", "irsa"] = "pod-identity"
    """How add-on service accounts get AWS roles: EKS Pod Identity (the stack installs its agent on a new cluster)
    or IRSA. The operator itself always uses IRSA. Example: `irsa`
    """
    tls_certificate_bucket: Annotated[str, Field(max_length=63), ONE_LINE] | None = None
    """S3 bucket where the operator stores TLS certificates. Unset: a bucket the stack creates
    (`hyperpod-tls-...`). Example: `my-hyperpod-tls`
    """
    load_balancer_controller_policy_arn: Annotated[str, Field(max_length=2048), ONE_LINE] | None = Field(
        default=None, pattern=_ARN + "iam::"
    )
    """IAM policy for the load balancer controller's role, when your account manages it itself. Unset: the
    stack attaches upstream's policy (docs/install/iam_policy.json of aws-load-balancer-controller v2.13.2) as an
    inline policy. Example:
    `arn:aws:iam::123456789012:policy/AWSLoadBalancerControllerIAMPolicy`
    """
    operator_role_name: Annotated[str, Field(max_length=64), ONE_LINE] = Field(
        default="SageMakerHyperPodInference-{cluster}", pattern=r"^([A-Za-z0-9_+=,.@-]|\{cluster\})+$"
    )
    """Name of the operator's IAM execution role; `{cluster}` is replaced by the cluster name, and a name over 64
    characters is shortened with a hash. The add-on requires the prefix `SageMakerHyperPodInference` (rule G20).
    Example: `SageMakerHyperPodInference-{cluster}`
    """
    prometheus_server_address: Annotated[str, Field(max_length=2048), ONE_LINE] | None = Field(
        default=None, pattern=AMP_WORKSPACE_PATTERN
    )
    """Amazon Managed Service for Prometheus workspace that holds the engines' metrics, for the HyperPod operator's
    Prometheus triggers (KEDA queries it with its role's `aps:QueryMetrics`), without a trailing slash (the CRD's
    pattern). The stack creates no workspace and scrapes nothing into one: the engines' `/metrics` must reach it by
    other means (the HyperPod observability add-on names its workspace in its configuration,
    `ampWorkspace.prometheusEndpoint`). Unset: no Prometheus, so HyperPod autoscaling needs a `cloudwatch` trigger or
    a `prometheus` trigger with its own `serverAddress` (rule A1). Example:
    `https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234abcd-5678-90ef-1234-567890abcdef`
    """
    ingress: IngressSpec = Field(default_factory=IngressSpec)
    """ALB settings shared by all endpoints. Example: `{certificateArn:
    arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef}`
    """


# ---------------------------------------------------------------- the tenant gateway (docs/gateway.md)
