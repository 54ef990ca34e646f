"""The dev stack's endpoints use only options the HyperPod operator supports (G21, G22), and the plan
logs the KV-cache image default."""

from __future__ import annotations

from tests.example_stacks import user_plan


def test_g21_g22_dev_stack_plans_clean_with_a_public_routed_vllm_endpoint(crd_dir):
    plan = user_plan("dev", crd_dir=str(crd_dir))
    assert not plan.failed
    configs = {o.name: o.manifest["spec"] for o in plan.objects if o.kind == "InferenceEndpointConfig"}
    sglang = configs["qwen3-4b-instruct-2507-2026-01-06-04-30-7703e9c3ae"]
    llama = configs["llama-3-1-8b-vllm"]
    assert "intelligentRoutingSpec" not in sglang and "kvCacheSpec" not in sglang  # G21
    assert llama["intelligentRoutingSpec"]["enabled"] is True
    assert llama["worker"]["image"] == "lmcache/vllm-openai:v0.3.7"  # G22 default with kvCache
    ingresses = [o.manifest for o in plan.objects if o.kind == "Ingress"]
    assert [i["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] for i in ingresses] == ["internet-facing"]
    logged = [message for _, message in plan.logs if "[G22]" in message]
    assert logged == [
        "[G22] endpoints[1].image: 'vllm/vllm-openai:v0.11.0' -> 'lmcache/vllm-openai:v0.3.7' (KV-cache offload needs LMCache; the image upstream's kvCacheSpec samples use)"
    ]
