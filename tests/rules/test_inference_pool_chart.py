"""The pool objects the rule library renders agree with the extension's own chart
(kubernetes-sigs/gateway-api-inference-extension@v1.0.2 config/charts/inferencepool, a copy under
LLM_SERVING_UPSTREAM_DIR) on what matters: names, args, ports, probes, RBAC rules, plugins, the pool's spec.

The chart's templates are rendered here for one release with the chart's default values (one replica, provider
none, Prometheus off): a small reading of the template constructs those files use. A condition or expression this
reading does not know fails the test, so a changed chart is looked at, not skipped.

Deliberate differences, each asserted: the metric flags (components/rules/inference_pool.py METRIC_FLAGS: the KV
gauge of the pinned vLLM, SGLang's names), `imagePullPolicy` (IfNotPresent for a pinned tag; the chart's Always),
and the project's labels.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.rules import inference_pool as ip
from components.rules.spec import EndpointSpec

CHART = "gateway-api-inference-extension-v1.0.2/inferencepool"
RELEASE, NAMESPACE = "qwen3-4b", "inference"
EPP = f"{RELEASE}-epp"
POOL_LABELS = {"app.kubernetes.io/name": RELEASE}
# The conditions of the templates used, at the chart's defaults for this release.
CONDITIONS = {
    'if ne .Values.inferencePool.apiVersion "inference.networking.k8s.io"': True,  # the value is ".../v1": the chart passes --pool-group
    'if eq (.Values.inferencePool.modelServerType | default "vllm") "triton-tensorrt-llm"': False,
    "if gt (.Values.inferenceExtension.replicas | int) 1": False,
    "if .Values.inferenceExtension.env": False,
    "if .Values.inferenceExtension.monitoring.prometheus.enabled": False,
    'if (hasKey .Values.inferenceExtension "pluginsCustomConfig")': False,
    'if eq .Values.inferencePool.apiVersion "inference.networking.x-k8s.io/v1alpha2"': False,
    "if .Values.inferencePool.modelServers.matchLabels": True,
}
EXPRESSIONS = {
    'include "gateway-api-inference-extension.name" .': EPP,
    'include "gateway-api-inference-extension.cluster-rbac-name" .': f'"{RELEASE}-{NAMESPACE}-epp"',
    ".Release.Name": RELEASE,
    ".Release.Namespace": NAMESPACE,
    ".Values.inferenceExtension.replicas | default 1": "1",
    ".Values.inferenceExtension.image.hub": "registry.k8s.io/gateway-api-inference-extension",
    ".Values.inferenceExtension.image.name": "epp",
    ".Values.inferenceExtension.image.tag": "v1.0.2",
    '.Values.inferenceExtension.image.pullPolicy | default "Always"': "Always",
    '(split "/" .Values.inferencePool.apiVersion)._0': "inference.networking.k8s.io",
    ".Values.inferenceExtension.pluginsConfigFile": "default-plugins.yaml",
    ".Values.inferenceExtension.extProcPort | default 9002": "9002",
    ".Values.inferenceExtension.metricsPort | default 9090": "9090",
    ".number": "8000",
    "$key": "app.kubernetes.io/name",
    "quote $value": f'"{RELEASE}"',
}
SKIPPED = ('include "gateway-api-inference-extension.validations', '- include "gateway-api-inference-extension.labels"')


def _render(text: str) -> list[dict]:
    """The template at the values above: if/else/end, range and with blocks, include of labels dropped."""
    out: list[str] = []
    active: list[bool] = []
    range_lines: list[str] | None = None
    flags_range = False
    for line in text.splitlines():
        tags = re.findall(r"\{\{-?\s*(.*?)\s*-?\}\}", line)
        control = line.strip().startswith("{{")
        if control and tags:
            tag = tags[0]
            if tag.startswith("if "):
                known = CONDITIONS.get(tag)
                assert known is not None, f"a condition the chart reading does not know: {tag}"
                active.append(known and all(active))
                continue
            if tag == "else":
                active[-1] = (not active[-1]) and all(active[:-1])
                continue
            if tag.startswith("else if"):
                raise AssertionError(f"else-if in the chart: {tag}")
            if tag.startswith("with "):
                active.append(False)  # extra ports, env, tolerations: empty by default
                continue
            if tag.startswith("range .Values.inferenceExtension.flags"):
                flags_range, range_lines = True, []
                continue
            if tag.startswith("range "):
                active.append(all(active))  # one element (target port, matchLabels pair)
                continue
            if tag == "end":
                if flags_range:
                    flags_range = False
                    # the chart's default flags: [{name: v, value: 1}]
                    out += [ln.replace("{{ .name }}", "v").replace("{{ .value }}", "1") for ln in range_lines or []]
                    continue
                active.pop()
                continue
            if (
                any(tag.startswith(s) for s in SKIPPED)
                or tag.startswith('include "gateway-api-inference-extension.labels"')
                or tag.startswith('include "gateway-api-inference-extension.selectorLabels"')
            ):
                if "selectorLabels" in tag and all(active):
                    indent = int(re.search(r"nindent (\d+)", tag).group(1))
                    out.append(" " * indent + f"inferencepool: {EPP}")
                continue
        if flags_range:
            range_lines.append(line)
            continue
        if not all(active):
            continue
        for tag in tags:
            value = EXPRESSIONS.get(tag)
            if value is None and tag.startswith('include "gateway-api-inference-extension.labels"'):
                value = ""
            assert value is not None, f"an expression the chart reading does not know: {tag}"
            line = re.sub(r"\{\{-?\s*" + re.escape(tag) + r"\s*-?\}\}", value, line, count=1)
        out.append(line)
    return [d for d in yaml.safe_load_all("\n".join(out)) if d]


@pytest.fixture(scope="module")
def chart(upstream_dir) -> dict[tuple[str, str], dict]:
    templates = Path(upstream_dir) / CHART / "templates"
    objs: dict[tuple[str, str], dict] = {}
    for name in (
        "inferencepool.yaml",
        "epp-deployment.yaml",
        "epp-service.yaml",
        "epp-config.yaml",
        "rbac.yaml",
        "leader-election-rbac.yaml",
    ):
        for obj in _render((templates / name).read_text()):
            objs[(obj["kind"], obj["metadata"]["name"])] = obj
    return objs


def ours(engine: str = "vllm") -> dict[tuple[str, str], dict]:
    spec = EndpointSpec.model_validate(
        {
            "name": RELEASE,
            "model": "Qwen/Qwen3-4B-Instruct-2507",
            "engine": engine,
            "instanceType": "g5.2xlarge",
            "namespace": NAMESPACE,
            "modelSource": {"type": "huggingface"},
            "backend": "kubernetes",
            "kubernetes": {"routing": "inferencePool"},
        }
    )
    return {(o["kind"], o["metadata"]["name"]): o for o in ip.render(spec)}


def test_the_same_objects_by_kind_and_name(chart):
    theirs = {k for k in chart if k[0] != "ClusterRole" and k[0] != "ClusterRoleBinding"} | {
        ("ClusterRole", "cluster"),
        ("ClusterRoleBinding", "cluster"),
    }
    mine = {k for k in ours() if k[0] not in ("ClusterRole", "ClusterRoleBinding")} | {
        ("ClusterRole", "cluster"),
        ("ClusterRoleBinding", "cluster"),
    }
    assert mine == theirs
    # The chart's cluster-wide name is `<release>-<namespace>-epp`, which two (release, namespace) pairs can share
    # ("a-b", "c" and "a", "b-c"); ours is the project's name for objects outside the namespace, with a hash (G1).
    assert [k[1] for k in chart if k[0] == "ClusterRole"] == [f"{RELEASE}-{NAMESPACE}-epp"]
    (cluster_role,) = [k[1] for k in ours() if k[0] == "ClusterRole"]
    assert cluster_role.startswith(f"{NAMESPACE}-{RELEASE}-epp-")


def test_the_pool_spec_is_the_charts(chart):
    assert ours()[("InferencePool", RELEASE)]["spec"] == chart[("InferencePool", RELEASE)]["spec"]
    assert chart[("InferencePool", RELEASE)]["spec"]["selector"] == {"matchLabels": POOL_LABELS}


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_the_picker_container_is_the_charts_but_for_the_metric_flags_and_pull_policy(chart, engine):
    theirs = chart[("Deployment", EPP)]
    mine = ours(engine)[("Deployment", EPP)]
    (c_theirs,), (c_mine,) = (
        theirs["spec"]["template"]["spec"]["containers"],
        mine["spec"]["template"]["spec"]["containers"],
    )
    flags = ip.METRIC_FLAGS[engine]
    args = list(c_mine["args"])
    start = next(i for i in range(len(args)) if args[i : i + len(flags)] == flags)
    assert args[:start] + args[start + len(flags) :] == [
        a for a in c_theirs["args"] if a not in ("--pool-group", "inference.networking.k8s.io")
    ]
    # --pool-group is the EPP's default group (pkg/epp/server/runserver.go DefaultPoolGroup), which the chart repeats.
    assert c_theirs["args"][c_theirs["args"].index("--pool-group") + 1] == "inference.networking.k8s.io"
    for key in ("name", "image", "ports", "livenessProbe", "readinessProbe", "env", "volumeMounts"):
        assert c_mine[key] == c_theirs[key], key
    assert (c_theirs["imagePullPolicy"], c_mine["imagePullPolicy"]) == ("Always", "IfNotPresent")
    for key in ("serviceAccountName", "terminationGracePeriodSeconds", "volumes"):
        assert mine["spec"]["template"]["spec"][key] == theirs["spec"]["template"]["spec"][key], key
    assert mine["spec"]["strategy"] == theirs["spec"]["strategy"] == {"type": "Recreate"}
    assert (
        mine["spec"]["selector"] == theirs["spec"]["selector"]
        and mine["spec"]["replicas"] == theirs["spec"]["replicas"] == 1
    )


def test_the_picker_service_ports_and_selector_are_the_charts(chart):
    theirs, mine = chart[("Service", EPP)]["spec"], ours()[("Service", EPP)]["spec"]
    assert (
        mine["ports"] == theirs["ports"] and mine["selector"] == theirs["selector"] and mine["type"] == theirs["type"]
    )


def test_the_rbac_rules_and_plugins_are_the_charts(chart):
    mine = ours()
    assert mine[("Role", EPP)]["rules"] == chart[("Role", EPP)]["rules"]
    (my_cluster_role,) = [o for k, o in mine.items() if k[0] == "ClusterRole"]
    (their_cluster_role,) = [o for k, o in chart.items() if k[0] == "ClusterRole"]
    assert my_cluster_role["rules"] == their_cluster_role["rules"]
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        (m,) = [o for k, o in mine.items() if k[0] == kind]
        (t,) = [o for k, o in chart.items() if k[0] == kind]
        assert m["subjects"] == t["subjects"] and m["roleRef"]["kind"] == t["roleRef"]["kind"]
    assert yaml.safe_load(mine[("ConfigMap", EPP)]["data"]["default-plugins.yaml"]) == yaml.safe_load(
        chart[("ConfigMap", EPP)]["data"]["default-plugins.yaml"]
    )
