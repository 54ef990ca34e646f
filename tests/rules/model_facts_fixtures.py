"""Published model facts the HyperPod tests size against: Llama-3.3-70B-Instruct's config.json and safetensors
index (https://huggingface.co/meta-llama/Llama-3.3-70B-Instruct)."""

from components.rules.model_facts import ModelFacts

LLAMA_70B = ModelFacts(
    "meta-llama/Llama-3.3-70B-Instruct",
    "https://huggingface.co/meta-llama/Llama-3.3-70B-Instruct/resolve/main/config.json",
    None,
    "LlamaForCausalLM",
    80,
    64,
    8,
    128,
    8192,
    131072,
    70_553_706_496,
    "bfloat16",
    None,
    141_107_412_992,
    None,
    "2026-12-06",
)
