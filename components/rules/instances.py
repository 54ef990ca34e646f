"""GPU instance facts: one table for every rule that needs GPU counts, GPU generation or GPU memory (G11, G12, G23).

Both spellings are accepted: `g5.12xlarge` (EC2, EKS node groups) and `ml.g5.12xlarge`
(SageMaker HyperPod; an `ml.` type has the GPUs of its EC2 twin). Sources: the EC2 accelerated-computing
instance pages; GPU count and GPU memory as EC2's DescribeInstanceTypes reports them (`GpuInfo.Gpus[].Count`,
`GpuInfo.Gpus[].MemoryInfo.SizeInMiB`), read from getmoto/moto@5.2.5 `moto/ec2/resources/instance_types.json.gz`
(tests/rules/test_fit.py compares every row with that file when moto is installed). A type not in this table is
unknown: no rule guesses its GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    model: str
    memory_gib: int  # nominal, as marketed
    compute_capability: float
    # Per GPU, as EC2 reports it (GpuInfo MemoryInfo.SizeInMiB). What CUDA reports as total is a little less
    # (vLLM logs total_gpu_memory 22.06 GiB on an A10G, 79.11 GiB on an H100): the fit rule's reserve covers it.
    memory_mib: int


T4 = Gpu("NVIDIA T4", 16, 7.5, 16384)
A10G = Gpu("NVIDIA A10G", 24, 8.6, 22888)
L4 = Gpu("NVIDIA L4", 24, 8.9, 22888)
L40S = Gpu("NVIDIA L40S", 48, 8.9, 45776)
A100_40 = Gpu("NVIDIA A100 40GB", 40, 8.0, 40960)
A100_80 = Gpu("NVIDIA A100 80GB", 80, 8.0, 81920)
H100 = Gpu("NVIDIA H100", 80, 9.0, 81920)
H200 = Gpu("NVIDIA H200", 141, 9.0, 144384)
# Blackwell: compute capability from NVIDIA's CUDA GPU list (sm_100, sm_103); memory as EC2 reports it.
B200 = Gpu("NVIDIA B200", 179, 10.0, 183359)
B300 = Gpu("NVIDIA B300", 268, 10.3, 275040)


@dataclass(frozen=True)
class InstanceType:
    name: str  # EC2 spelling
    gpus: int
    gpu: Gpu
    vcpus: int
    memory_gib: int

    @property
    def sagemaker_name(self) -> str:
        return f"ml.{self.name}"

    @property
    def family(self) -> str:
        return self.name.split(".")[0]


def _family(family: str, gpu: Gpu, sizes: dict[str, tuple[int, int, int]]) -> dict[str, InstanceType]:
    return {
        f"{family}.{size}": InstanceType(f"{family}.{size}", gpus, gpu, vcpus, mem)
        for size, (gpus, vcpus, mem) in sizes.items()
    }


# size: (GPUs, vCPUs, memory GiB)
_G_SIZES = {
    "xlarge": (1, 4, 16),
    "2xlarge": (1, 8, 32),
    "4xlarge": (1, 16, 64),
    "8xlarge": (1, 32, 128),
    "16xlarge": (1, 64, 256),
    "12xlarge": (4, 48, 192),
    "24xlarge": (4, 96, 384),
    "48xlarge": (8, 192, 768),
}

INSTANCE_TYPES: dict[str, InstanceType] = {
    # g4dn shares the g5 sizes up to 16xlarge and 12xlarge; it has no 24/48xlarge but a metal size.
    **_family(
        "g4dn", T4, {**{k: v for k, v in _G_SIZES.items() if k not in ("24xlarge", "48xlarge")}, "metal": (8, 96, 384)}
    ),
    **_family("g5", A10G, _G_SIZES),
    **_family("g6", L4, _G_SIZES),
    **_family(
        "g6e",
        L40S,
        {
            "xlarge": (1, 4, 32),
            "2xlarge": (1, 8, 64),
            "4xlarge": (1, 16, 128),
            "8xlarge": (1, 32, 256),
            "16xlarge": (1, 64, 512),
            "12xlarge": (4, 48, 384),
            "24xlarge": (4, 96, 768),
            "48xlarge": (8, 192, 1536),
        },
    ),
    **_family("p4d", A100_40, {"24xlarge": (8, 96, 1152)}),
    **_family("p4de", A100_80, {"24xlarge": (8, 96, 1152)}),
    **_family("p5", H100, {"4xlarge": (1, 16, 256), "48xlarge": (8, 192, 2048)}),
    **_family("p5e", H200, {"48xlarge": (8, 192, 2048)}),
    **_family("p5en", H200, {"48xlarge": (8, 192, 2048)}),
    **_family("p6-b200", B200, {"48xlarge": (8, 192, 2048)}),
    **_family("p6-b300", B300, {"48xlarge": (8, 192, 4096)}),
}

FAMILIES = sorted({t.family for t in INSTANCE_TYPES.values()})


def ec2_name(name: str) -> str:
    return name[3:] if name.startswith("ml.") else name


def sagemaker_name(name: str) -> str:
    return name if name.startswith("ml.") else f"ml.{name}"


def lookup(name: str) -> InstanceType | None:
    return INSTANCE_TYPES.get(ec2_name(name.strip().lower()))


def is_gpu_instance(name: str) -> bool:
    return lookup(name) is not None


def known_sizes(name: str) -> list[str]:
    family = ec2_name(name.strip().lower()).split(".")[0]
    return sorted(t for t in INSTANCE_TYPES if t.startswith(family + "."))
