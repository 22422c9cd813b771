"""Present a SimResult: the summary table, the CSV tables and the plots."""

from __future__ import annotations

from pathlib import Path

from ..outputs import atomic_write, write_csv, write_json
from .result import KINDS, UNITS, SimResult

__all__ = ["summary_rows", "write_outputs", "plot"]


def _fmt(x: float, digits: int = 4) -> str:
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}g}"


def summary_rows(r: SimResult) -> list[tuple[str, str, str]]:
    """(quantity, value, unit) rows of the summary table."""
    s = r.summary
    rows = [
        ("workload / design / policy", f"{s['workload']} / {s['design']} / {s['policy']}", ""),
        ("latency", _fmt(s["latency_cycles"]), "cycles"),
        ("latency", _fmt(s["latency_s"] * 1e3), "ms"),
    ]
    for stage, cyc in s["stage_cycles"].items():
        if cyc:
            rows.append((f"  {stage}", _fmt(cyc), "cycles"))
    rows += [
        ("effective throughput", _fmt(s["effective_tflops"]), "TFLOPS"),
        ("FLOPs done / dense", f"{_fmt(s['flops'])} / {_fmt(s['dense_flops'])}", "FLOP"),
        ("DRAM traffic", _fmt(s["dram_bytes"]), "bytes"),
    ]
    for kind in KINDS:
        rows.append((f"  {kind}", _fmt(s["dram_bytes_by_kind"][kind]), "bytes"))
    rows += [
        ("energy", _fmt(s["energy_pj"]["total"] / 1e6), "uJ"),
        ("  logic / SRAM / DRAM", " / ".join(_fmt(s["energy_pj"][k] / 1e6) for k in ("logic", "sram", "dram")), "uJ"),
        ("power", _fmt(s["power_w"].get("total", 0.0)), "W"),
        ("area", _fmt(s["area_mm2"]["total"]), "mm^2"),
        ("tokens kept (mean over layers)", _fmt(s["tokens_kept_fraction"]), "fraction"),
        ("heads kept (mean over layers)", _fmt(s["heads_kept_fraction"]), "fraction"),
        ("V kept (of attended keys)", _fmt(s["values_kept_fraction"]), "fraction"),
        ("LSB re-fetch", _fmt(s["lsb_refetch_fraction"]), "fraction of rows"),
    ]
    if s.get("attention_rel_error_ratio") is not None:
        rows += [
            ("fidelity: attention output error", _fmt(s["attention_rel_error_ratio"]), "relative (L2)"),
            ("fidelity: probability mass kept", _fmt(s["prob_mass_kept_fraction"]), "fraction"),
        ]
    bound = ", ".join(f"{u} {n}" for u, n in s["bound_by_heads"].items() if n)
    rows.append(("heads bound by", bound, "heads"))
    return rows


def write_outputs(r: SimResult, out_dir: str | Path, *, plots: bool) -> list[Path]:
    """Write summary.json, layers.csv, heads.csv (and plots) into ``out_dir``; return the paths."""
    out = Path(out_dir)
    paths = [write_json(out / "summary.json", r.to_json()), write_csv(out / "layers.csv", r.layers),
             write_csv(out / "heads.csv", r.heads)]
    if plots:
        paths += plot(r, out)
    return paths


def plot(r: SimResult, out_dir: str | Path) -> list[Path]:
    """Write three PNG plots: cycles per layer stacked by bounding unit, DRAM bytes by kind, kept tokens."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    paths = []
    s = r.summary
    title = f"{s['workload']} on {s['design']} ({s['policy']})"

    def save(fig, name):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        paths.append(atomic_write(out / name, buf.getvalue()))

    layers = [row["layer"] for row in r.layers]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    bottom = [0] * len(layers)
    for u in UNITS:
        vals = [row[f"bound_{u}_cycles"] for row in r.layers]
        if any(vals):
            ax.bar(layers, vals, bottom=bottom, label=u)
            bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xlabel("layer")
    ax.set_ylabel("busy cycles of the bounding unit")
    ax.set_title(title, fontsize=9)
    ax.legend(title="bounded by", fontsize=8)
    fig.tight_layout()
    save(fig, "cycles_by_layer.png")

    fig, ax = plt.subplots(figsize=(5, 3.6))
    kinds = list(KINDS)
    ax.bar(kinds, [s["dram_bytes_by_kind"][k] / 1e6 for k in kinds], color="tab:orange")
    ax.set_ylabel("DRAM traffic (MB)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save(fig, "dram_by_kind.png")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(layers, [row["tokens_kept_fraction"] for row in r.layers], marker="o", label="tokens")
    ax.plot(layers, [row["heads_kept_fraction"] for row in r.layers], marker="s", label="heads")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("layer")
    ax.set_ylabel("kept fraction")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, "kept_by_layer.png")
    return paths
