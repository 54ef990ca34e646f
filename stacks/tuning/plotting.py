"""What every report plot shares: point labels, the SLO line on the latency axis, axes and saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def label(ax: Any, record: Any, x: float, y: float) -> None:
    ax.annotate(
        ", ".join(f"{k.split('.')[-1]}={v}" for k, v in record.params.items()),
        (x, y),
        fontsize=7,
        xytext=(4, 4),
        textcoords="offset points",
    )


def finish(fig: Any, ax: Any, grid: Any, latency: str, ylabel: str, title: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    for metric, bound in grid.slo.items():
        if metric == latency:
            ax.axvline(bound, color="tab:red", linestyle=":", label=f"SLO {metric} ≤ {bound}")
    ax.set_xlabel(f"{latency} (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{grid.name}: {title} (gray: misses an SLO)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
