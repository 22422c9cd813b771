"""Human tables and the keep-ratio figure of a quality run (matplotlib imported only to plot)."""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["metric_rows", "METRICS", "plot_scan"]

#: JSON metric name -> (words for people, unit).
METRICS = {
    "perplexity": ("perplexity", "-"),
    "top1_agreement_fraction": ("next-token top-1 agreement with dense", "fraction"),
    "greedy_match_fraction": ("greedy tokens equal to dense", "fraction"),
    "embedding_cosine_ratio": ("embedding cosine to dense (mean)", "ratio"),
    "embedding_cosine_min_ratio": ("embedding cosine to dense (worst)", "ratio"),
    "retrieval_top1_fraction": ("retrieval top-1 (matching half)", "fraction"),
}


def metric_rows(summary: dict) -> list[list[str]]:
    """Rows ``[metric, dense, approximate, unit]`` for the metrics a run measured."""
    rows = []
    for key, (words, unit) in METRICS.items():
        a = summary["approximate"].get(key)
        if a is None:
            continue
        d = summary["dense"].get(key)
        rows.append([words, "-" if d is None else f"{d:.4g}", f"{a:.4g}", unit])
    return rows


def plot_scan(points: list[dict], mode: str, title: str, path: Path, *, fmt: str = "png") -> Path:
    """Quality against the token keep ratio: ``points`` are ``{"keep": r, "dense": {...}, "approximate": {...}}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..outputs import write_figure  # beside matplotlib: only a plot needs it

    keeps = [p["keep"] for p in points]
    metrics = ["perplexity", "top1_agreement_fraction"] if mode == "decoder" else \
        ["embedding_cosine_ratio", "retrieval_top1_fraction"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for ax, m in zip(axes, metrics):
        words, unit = METRICS[m]
        ax.plot(keeps, [p["approximate"][m] for p in points], "o-", label="approximate (hardware in the model)")
        ax.axhline(points[0]["dense"][m], color="0.4", ls="--", label="dense model")
        ax.set_xlabel("tokens kept per layer after the first (fraction)")
        ax.set_ylabel(textwrap.fill(f"{words} ({unit})" if unit != "-" else words, 30))
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
        if m == "perplexity":
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return write_figure(fig, path, fmt=fmt)
