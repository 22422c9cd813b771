"""Plot sweep results: one column against another, coloured by a third, the Pareto front marked."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import HwsimError
from ..outputs import split_unit
from .pareto import check_objectives, pareto_mask

__all__ = ["plot_sweep", "axis_label", "save_figure"]

#: Inputs whose unit is in the config's description rather than in the name.
_INPUT_UNITS = {"n": "elements", "k": "elements", "trials": "rows", "mu": "fraction of heads",
                "topk.lanes": "comparators", "topk.in_lanes": "scores/cycle", "topk.max_n": "elements",
                "topk.engines": "count", "qk.multipliers": "count", "pv.multipliers": "count",
                "hbm.channels": "count", "softmax.parallelism": "per cycle", "local_v.keep": "fraction",
                "quantization.threshold": "probability", "token_pruning.keep_end": "fraction",
                "token_pruning.keep_start": "fraction", "head_pruning.keep_end": "fraction",
                "linear.rows": "PEs", "linear.cols": "PEs", "linear.density": "fraction of weights",
                "linear.weight_bits": "bits"}


def axis_label(column: str) -> str:
    """A readable axis label with the column's unit: ``latency_cycles`` -> ``latency (cycles)``."""
    if column == "elements_per_cycle":
        return "throughput (elements/cycle)"
    if column == "elements_per_cycle_per_mm2":
        return "throughput per area (elements/cycle/mm²)"
    bare = column.removeprefix("design.").removeprefix("policy.")
    if bare in _INPUT_UNITS:
        return f"{column} ({_INPUT_UNITS[bare]})"
    words, unit = split_unit(column)
    return f"{words} ({unit})" if unit else column


def _numeric(df, col: str) -> np.ndarray:
    try:
        return df[col].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise HwsimError(f"{col!r}: expected a numeric column to plot, got values like {df[col].iloc[0]!r}") from None


def plot_sweep(df, x: str, y: str, *, color: str | None = None, maximize: Sequence[str] = (), title: str | None = None,
               logx: bool | None = None, logy: bool | None = None, ax=None):
    """Scatter ``y`` against ``x`` (one marker per row), coloured by ``color``, with the Pareto front.

    The front minimises ``x`` and ``y`` unless they are named in ``maximize``; it is drawn as a
    step line through its points, which are ringed. Axis labels carry the columns' units.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    cols = [c for c in (x, y, color) if c]
    for c in cols:
        check_objectives(list(df.columns), [c], [], option="--x/--y/--color")
    if not len(df):
        raise HwsimError("no successful points to plot")
    xs, ys = _numeric(df, x), _numeric(df, y)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
    else:
        fig = ax.figure
    if color:
        cv = df[color]
        if cv.dtype.kind in "if" and cv.nunique() > 6:
            sc = ax.scatter(xs, ys, c=cv.to_numpy(dtype=np.float64), cmap="viridis", s=22, alpha=0.85)
            fig.colorbar(sc, ax=ax, label=axis_label(color))
        else:
            for i, val in enumerate(sorted(cv.unique(), key=lambda v: (str(type(v)), v))):
                sel = (cv == val).to_numpy()
                ax.scatter(xs[sel], ys[sel], s=22, alpha=0.85, color=plt.cm.tab10(i % 10), label=f"{color} = {val}")
            ax.legend(fontsize=7, loc="best")
    else:
        ax.scatter(xs, ys, s=22, alpha=0.85, color="tab:blue")
    sx = 1 if x not in maximize else -1
    sy = 1 if y not in maximize else -1
    mask = pareto_mask(np.column_stack([sx * xs, sy * ys]))
    order = np.argsort(xs[mask], kind="stable")
    fx, fy = xs[mask][order], ys[mask][order]
    ax.scatter(fx, fy, s=70, facecolors="none", edgecolors="crimson", linewidths=1.4, label="Pareto front", zorder=3)
    ax.step(fx, fy, where="post" if sx * sy > 0 else "pre", color="crimson", lw=1.0, zorder=2)
    if color:
        ax.legend(fontsize=7, loc="best")
    else:
        ax.legend(fontsize=8, loc="best")
    for vals, setter, flag in ((xs, ax.set_xscale, logx), (ys, ax.set_yscale, logy)):
        finite = vals[np.isfinite(vals)]
        auto = finite.size and finite.min() > 0 and finite.max() / finite.min() >= 100
        if flag or (flag is None and auto):
            setter("log")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    goal = lambda c, s: f"{'max' if s < 0 else 'min'} {c}"  # noqa: E731
    ax.set_title(title or f"Pareto front: {goal(x, sx)}, {goal(y, sy)} ({int(mask.sum())} of {len(xs)} points)",
                 fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``fig`` as ``STEM.png`` and ``STEM.svg`` (same bytes for the same figure); return the paths."""
    import matplotlib
    import matplotlib.pyplot as plt

    from ..outputs import atomic_write

    stem = Path(stem)
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": "hwsim"}):
        for fmt, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=130, metadata=meta)
            paths.append(atomic_write(stem.with_suffix(f".{fmt}"), buf.getvalue()))
    plt.close(fig)
    return paths
