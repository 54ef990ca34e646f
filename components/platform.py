"""`Platform`: the add-ons an endpoint needs, each behind a switch, declared in the order that lets
one `pulumi up` converge (G20): controllers and CSI drivers first, the HyperPod inference operator
after all of them. Every Kubernetes object goes through the one provider passed in. In mode hyperpod
the NVIDIA device plugin is the HyperPod chart's (before the nodes, O7), and cert-manager and
metrics-server are EKS add-ons, as AWS's setup for the operator installs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import platform_identity as identity_mod
from .rules import addons as addon_rules
from .rules import clusters as cluster_rules
from .rules import iam
from .rules import tags as tag_rules
from .rules.backends import operator_backends, operators_for
from .rules.spec import PlatformSpec


@dataclass
class PlatformArgs:
    spec: PlatformSpec
    mode: str  # cluster mode: eks | hyperpod | existing
    cluster_name: str
    region: str
    provider: k8s.Provider
    vpc_id: pulumi.Input[str]
    hyperpod_cluster_arn: pulumi.Input[str] | None = None
    oidc_provider_arn: pulumi.Input[str] | None = None
    oidc_provider_url: pulumi.Input[str] | None = None
    model_buckets: list[str] = field(default_factory=list)  # S3 buckets the S3 CSI driver may read
    after: list[pulumi.Resource] = field(default_factory=list)  # e.g. the node groups
    tags: dict[str, str] = field(default_factory=dict)  # the user's cluster.tags; the required ones are added
    hyperpod_chart_dir: str = (
        ""  # the fetched HyperPod chart (`operatorInstall: helm` uses its inference-operator subchart)
    )
    backends: list[str] = field(
        default_factory=list
    )  # the stack's endpoints' backends: `auto` operators follow them (O8)


class Platform(pulumi.ComponentResource):
    """Attributes for callers: `operator_ready`, `ingress_ready` and `gpu_ready` (resources to depend on), and
    `backend_ready`: per endpoint backend, what its custom resources wait for (the HyperPod operator; the CRD
    and operator charts of OME and KServe, rule O3). Outputs: `addons` (names of what was installed),
    `operator_role_arn`."""

    addons: pulumi.Output[list[str]]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:platform:Platform", name, None, opts)
        self._name = name
        self._args = args
        # Every AWS resource below, and (defaultTags) every ALB the load balancer controller creates.
        self.tags = tag_rules.stack_tags(pulumi.get_stack(), args.cluster_name, args.tags)
        self.plan = addon_rules.resolve_addons(args.mode, args.spec, operators_for(args.backends))
        self.identity = identity_mod.Identity(
            args.cluster_name, args.spec.workload_identity, args.oidc_provider_arn, args.oidc_provider_url
        )
        self.installed: dict[str, pulumi.Resource] = {}
        self.backend_ready: dict[str, list[pulumi.Resource]] = {}
        base: list[pulumi.Resource] = list(args.after)
        if args.spec.workload_identity == "pod-identity" and args.mode != "existing":
            base.append(self._eks_addon("pod_identity_agent", base))
        self._base = base
        for addon in addon_rules.install_order(self.plan, args.mode):
            self.installed[addon] = getattr(self, f"_install_{addon}")()
        self.operator_ready = [self.installed["hyperpod_operator"]] if "hyperpod_operator" in self.installed else []
        if self.operator_ready:
            self.backend_ready["hyperpod"] = list(self.operator_ready)
        self.ingress_ready = (
            [self.installed["load_balancer_controller"]] if "load_balancer_controller" in self.installed else []
        )
        # GPU pods schedule only once the device plugin advertises nvidia.com/gpu (rule O4); in mode
        # hyperpod the HyperPod chart's plugin, which the HyperPod cluster (in `after`) waits for.
        self.gpu_ready = [self.installed["nvidia_device_plugin"]] if "nvidia_device_plugin" in self.installed else []
        self.addons = pulumi.Output.from_input(list(self.installed))
        self.operator_role_arn = getattr(self, "_operator_role_arn", pulumi.Output.from_input(""))
        self.register_outputs({"addons": self.addons, "operator_role_arn": self.operator_role_arn})

    # ------------------------------------------------------------ helpers

    def _deps(self, addon: str) -> list[pulumi.Resource]:
        return self._base + [self.installed[d] for d in addon_rules.depends_on(addon, self.plan)]

    def _k8s_opts(self, addon: str, extra: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self, provider=self._args.provider, depends_on=self._deps(addon) + (extra or [])
        )

    def _chart(
        self, addon: str, namespace: str, values: dict, after: list[pulumi.Resource] | None = None
    ) -> k8s.helm.v4.Chart:
        repo, chart, version = addon_rules.CHARTS[addon]
        return k8s.helm.v4.Chart(
            f"{self._name}-{addon.replace('_', '-')}",
            chart=chart,
            name=addon_rules.RELEASES.get(addon, chart),
            version=version or None,
            namespace=namespace,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=repo) if repo else None,
            values=values,
            opts=self._k8s_opts(addon, after),
        )

    def _namespace(self, addon: str, namespace: str) -> k8s.core.v1.Namespace:
        # One Namespace resource per name: KServe's two controllers share `kserve`.
        made = self.__dict__.setdefault("_namespaces", {})
        if namespace not in made:
            made[namespace] = k8s.core.v1.Namespace(
                f"{self._name}-ns-{namespace}", metadata={"name": namespace}, opts=self._k8s_opts(addon)
            )
        return made[namespace]

    def _eks_addon(
        self,
        addon: str,
        deps: list[pulumi.Resource],
        role: identity_mod.ServiceAccountRole | None = None,
        version: str | None = None,
    ) -> aws.eks.Addon:
        addon_name, service_account, _ = addon_rules.EKS_ADDONS[addon]
        extra: dict = {}
        if role is not None and service_account:
            if role.mode == "pod-identity":
                extra["pod_identity_associations"] = [{"role_arn": role.arn, "service_account": service_account}]
            else:
                extra["service_account_role_arn"] = role.arn
        return aws.eks.Addon(
            f"{self._name}-{addon.replace('_', '-')}",
            cluster_name=self._args.cluster_name,
            addon_name=addon_name,
            addon_version=version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps + (role.ready if role is not None else [])),
            **extra,
        )

    def _role(
        self, key: str, namespace: str, service_account: str, identity: identity_mod.Identity | None = None, **kwargs
    ) -> identity_mod.ServiceAccountRole:
        # Add-on roles are bound through the add-on's own podIdentityAssociations: no separate association.
        return identity_mod.service_account_role(
            f"{self._name}-{key}",
            identity or self.identity,
            namespace,
            service_account,
            self,
            after=self._base,
            tags=self.tags,
            **kwargs,
        )

    @property
    def _irsa(self) -> identity_mod.Identity:
        a = self._args
        return identity_mod.Identity(a.cluster_name, "irsa", a.oidc_provider_arn, a.oidc_provider_url)

    # ------------------------------------------------------------ add-ons

    def _install_load_balancer_controller(self) -> pulumi.Resource:
        a = self._args
        sa = "aws-load-balancer-controller"
        policy = a.spec.load_balancer_controller_policy_arn
        role = self._role(
            "lbc",
            "kube-system",
            sa,
            managed_policies=[policy] if policy else (),
            inline_policy=None if policy else json.dumps(iam.load_balancer_controller_policy(), separators=(",", ":")),
        )
        return self._chart(
            "load_balancer_controller",
            "kube-system",
            {
                "clusterName": a.cluster_name,
                "region": a.region,
                "vpcId": a.vpc_id,
                "replicaCount": 2,
                "serviceAccount": {
                    "create": True,
                    "name": sa,
                    "annotations": identity_mod.irsa_annotations(self.identity, role),
                },
                "nodeSelector": {cluster_rules.NODE_ROLE_LABEL: "system"} if a.mode != "existing" else {},
                # On every ALB, target group and security group it creates; these win over an
                # Ingress's tags annotation on a shared key.
                "defaultTags": self.tags,
            },
            after=role.ready,
        )

    def _install_nvidia_device_plugin(self) -> pulumi.Resource:
        return self._chart(
            "nvidia_device_plugin",
            "kube-system",
            {
                "tolerations": [
                    {"key": cluster_rules.GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"},
                    {"key": "CriticalAddonsOnly", "operator": "Exists"},
                ]
            },
        )

    def _install_cert_manager(self) -> pulumi.Resource:
        version = addon_rules.eks_addon_version("cert_manager", self._args.mode)
        if version:  # the add-on creates its namespace and CRDs
            return self._eks_addon("cert_manager", self._deps("cert_manager"), version=version)
        ns = self._namespace("cert_manager", "cert-manager")
        return self._chart("cert_manager", "cert-manager", {"crds": {"enabled": True}}, after=[ns])

    def _install_s3_csi(self) -> pulumi.Resource:
        _, sa, ns = addon_rules.EKS_ADDONS["s3_csi"]
        assert sa is not None  # the add-on's service account, named in EKS_ADDONS
        # IRSA, as AWS's setup for the inference operator installs it (--service-account-role-arn);
        # whether this add-on version takes a Pod Identity association is not verified here.
        role = self._role(
            "s3-csi",
            ns,
            sa,
            identity=self._irsa,
            inline_policy=json.dumps(iam.s3_csi_policy(list(self._args.model_buckets))),
            associate=False,
        )
        return self._eks_addon("s3_csi", self._deps("s3_csi"), role)

    def _install_fsx_csi(self) -> pulumi.Resource:
        _, sa, ns = addon_rules.EKS_ADDONS["fsx_csi"]
        assert sa is not None  # the add-on's service account, named in EKS_ADDONS
        role = self._role(
            "fsx-csi", ns, sa, identity=self._irsa, managed_policies=iam.FSX_CSI_MANAGED_POLICIES, associate=False
        )  # IRSA, as for S3 CSI
        return self._eks_addon("fsx_csi", self._deps("fsx_csi"), role)

    def _install_metrics_server(self) -> pulumi.Resource:
        version = addon_rules.eks_addon_version("metrics_server", self._args.mode)
        if version:
            return self._eks_addon("metrics_server", self._deps("metrics_server"), version=version)
        return self._chart("metrics_server", "kube-system", {"args": ["--kubelet-preferred-address-types=InternalIP"]})

    def _install_keda(self) -> pulumi.Resource:
        sa = "keda-operator"
        ns = self._namespace("keda", "keda")
        role = self._role(
            "keda",
            "keda",
            sa,
            inline_policy=json.dumps(iam.keda_policy()),
        )
        values: dict = {}
        if self.identity.mode == "irsa":
            values["podIdentity"] = {"aws": {"irsa": {"enabled": True, "roleArn": role.arn}}}
        return self._chart("keda", "keda", values, after=[ns, *role.ready])

    @property
    def _system_nodes(self) -> dict[str, str]:
        return {cluster_rules.NODE_ROLE_LABEL: "system"} if self._args.mode != "existing" else {}

    def _backend_operator(self, addon: str, values: dict) -> pulumi.Resource:
        """O8: the operator's CRD chart, then its controller's chart (after cert-manager, KEDA for OME, and the
        CRD chart, whose ClusterStorageContainer kind kserve-resources uses); the backend's custom resources
        wait for both (O3: the CRDs, and the webhooks that admit them, which fail closed)."""
        namespace = addon_rules.OPERATOR_NAMESPACES[addon]
        ns = self._namespace(addon, namespace)
        crd_chart, operator_chart = addon_rules.OPERATOR_CHARTS[addon]
        crds = self._chart(crd_chart, namespace, {}, after=[ns])
        operator = self._chart(operator_chart, namespace, values, after=[ns, crds])
        extra = [
            self._chart(chart, namespace, addon_rules.EXTRA_CHART_VALUES.get(chart, {}), after=[ns, crds, operator])
            for chart in addon_rules.OPERATOR_EXTRA_CHARTS.get(addon, ())
        ]
        self.backend_ready[operator_backends()[addon]] = [crds, operator, *extra]
        return operator

    def _install_kserve_operator(self) -> pulumi.Resource:
        return self._backend_operator("kserve_operator", addon_rules.kserve_values(self._system_nodes))

    def _install_llmisvc_operator(self) -> pulumi.Resource:
        return self._backend_operator("llmisvc_operator", addon_rules.llmisvc_values(self._system_nodes))

    def _install_ome_operator(self) -> pulumi.Resource:
        return self._backend_operator("ome_operator", addon_rules.ome_values(self._system_nodes))

    def _install_hyperpod_operator(self) -> pulumi.Resource:
        a = self._args
        bucket_name: pulumi.Input[str]
        tls_policy = None  # a bucket the stack creates is named hyperpod-tls-*, which the managed policy covers
        if a.spec.tls_certificate_bucket:
            bucket_name = a.spec.tls_certificate_bucket
            tls_policy = iam.operator_tls_bucket_policy(a.spec.tls_certificate_bucket)
        else:
            bucket = aws.s3.Bucket(
                f"{self._name}-tls",
                bucket_prefix="hyperpod-tls-",
                force_destroy=True,
                tags=self.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            bucket_name = bucket.bucket
        # The operator's controller assumes its role through IRSA (the add-on, or the Helm chart from
        # executionRoleArn, annotates its service account, whose name depends on the install method),
        # SageMaker directly (setup page's trust policy).
        namespace, service_account = addon_rules.operator_service_account(a.spec.operator_install, a.hyperpod_chart_dir)
        role = identity_mod.service_account_role(
            f"{self._name}-operator",
            self._irsa,
            namespace,
            service_account,
            self,
            managed_policies=[iam.OPERATOR_ACCESS_POLICY],
            inline_policy=json.dumps(tls_policy) if tls_policy else None,
            trust_services=iam.OPERATOR_TRUST_SERVICES,
            role_name=addon_rules.operator_role_name(a.spec, a.cluster_name),  # G20: SageMakerHyperPodInference prefix
            associate=False,
            tags=self.tags,
        )
        self._operator_role_arn = role.arn
        deps = self._deps("hyperpod_operator") + role.ready
        if a.spec.operator_install == "helm":
            # Alternative path: the inference-operator subchart of the fetched HyperPod chart; same order.
            values = pulumi.Output.all(role.arn, bucket_name, a.hyperpod_cluster_arn, a.vpc_id).apply(
                lambda v: addon_rules.operator_helm_values(a.region, a.cluster_name, v[0], v[1], v[2], v[3], self.plan)
            )
            return k8s.helm.v4.Chart(
                f"{self._name}-hyperpod-operator",
                chart=f"{a.hyperpod_chart_dir}/{addon_rules.CHARTS['hyperpod_operator'][1]}",
                name="hyperpod-inference-operator",
                namespace=addon_rules.OPERATOR_NAMESPACE,
                values=values,
                # Its six dependencies live in Helm repositories (Chart.yaml), not in the git tree.
                dependency_update=True,
                opts=pulumi.ResourceOptions(parent=self, provider=a.provider, depends_on=deps),
            )
        config = pulumi.Output.all(role.arn, bucket_name, a.hyperpod_cluster_arn).apply(
            lambda v: json.dumps(addon_rules.operator_addon_config(v[0], v[1], v[2], self.plan), sort_keys=True)
        )
        return aws.eks.Addon(
            f"{self._name}-hyperpod-operator",
            cluster_name=a.cluster_name,
            addon_name=addon_rules.OPERATOR_ADDON,
            addon_version=a.spec.operator_addon_version,
            configuration_values=config,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self.tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=deps, custom_timeouts=pulumi.CustomTimeouts(create="40m", update="40m")
            ),
        )
