"""Present a SimResult: the summary table, the CSV tables and the plots."""

from __future__ import annotations

from pathlib import Path

from ..outputs import write_csv, write_figure, write_json
from .explain import CAUSES, EXPLAIN_UNITS
from .result import KINDS, UNITS, SimResult

__all__ = ["summary_rows", "explain_header", "explain_rows", "stalls_by_layer", "write_outputs", "plot", "title_of",
           "workload_label"]


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
        rows.append((f"  {_KIND_NAMES[kind]}", _fmt(s["dram_bytes_by_kind"][kind]), "bytes"))
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
    if s.get("two_pass_fraction"):  # rows longer than one SRAM load (sram.tiling)
        rows.append(("rows beyond one SRAM load (two passes)", _fmt(s["two_pass_fraction"]), "fraction of rows"))
    if s.get("attention_rel_error_ratio") is not None:
        rows += [
            ("fidelity: attention output error", _fmt(s["attention_rel_error_ratio"]), "relative (L2)"),
            ("fidelity: probability mass kept", _fmt(s["prob_mass_kept_fraction"]), "fraction"),
            ("fidelity: rows compared with dense", _fmt(s["fidelity_sampled_rows"]), "query rows (sampled)"),
        ]
    bound = ", ".join(f"{u} {n}" for u, n in s["bound_by_heads"].items() if n)
    rows.append(("heads bound by", bound, "heads"))
    return rows


#: Stall causes in words (tables and plots): what a stalled unit's next row waits for.
CAUSE_NAMES = {"hbm": "HBM", "layer": "previous layer", "sram": "SRAM space", "select": "token/head selection",
               "pipeline": "earlier unit"}


def explain_header() -> list[str]:
    """Column names of the stall table (:func:`explain_rows`); every cycle column is in cycles."""
    return (["unit", "busy"] + [f"stalled: {CAUSE_NAMES[c]}" for c in CAUSES]
            + ["no work left", "heads bound (fraction)"])


def explain_rows(r: SimResult) -> list[list[str]]:
    """One row per unit: busy, stall-by-cause and idle cycles (they sum to the latency), heads it bounds."""
    units = r.summary["explain"]["units"]
    heads = sum(r.summary["bound_by_heads"].values())
    rows = []
    for u in EXPLAIN_UNITS:
        e = units[u]
        bound = "-" if e["bound_heads"] is None else _fmt(e["bound_heads"] / heads if heads else 0.0, 3)
        rows.append([_EXPLAIN_NAMES[u], _fmt(e["busy_cycles"]), *(_fmt(e[f"stall_{c}_cycles"]) for c in CAUSES),
                     _fmt(e["idle_cycles"]), bound])
    return rows


def write_outputs(r: SimResult, out_dir: str | Path, *, plots: bool, plot_format: str = "png") -> list[Path]:
    """Write summary.json, layers.csv, heads.csv, stalls.csv (and plots) into ``out_dir``; return the paths.

    ``stalls.csv``: the explain section's rows, per stage, layer and unit: busy and stalled cycles by cause.
    """
    out = Path(out_dir)
    paths = [write_json(out / "summary.json", r.to_json()), write_csv(out / "layers.csv", r.layers),
             write_csv(out / "heads.csv", r.heads), write_csv(out / "stalls.csv", r.summary["explain"]["layers"])]
    if plots:
        paths += plot(r, out, plot_format=plot_format)
    return paths


def workload_label(name: str) -> str:
    """A workload's name for a title: a bundled name as it is, an authors' CSV as 'authors' trace STEM'."""
    if name.endswith(".csv"):
        return f"authors' trace {Path(name).stem.removeprefix('summary-')}"
    return name


def title_of(r: SimResult) -> str:
    """'WORKLOAD, design D, policy P' (a replay's policy: the decisions in its file)."""
    s = r.summary
    policy = "decisions replayed from the file" if s["policy"] == "replay" else f"policy {s['policy']}"
    return f"{workload_label(s['workload'])}, design {s['design']}, {policy}"


#: Colours of the units and DRAM kinds, the same in every plot.
_UNIT_COLOURS = {"hbm": "tab:orange", "qk": "tab:blue", "softmax": "tab:green", "pq": "tab:olive",
                 "topk": "tab:red", "pv": "tab:purple"}
_UNIT_NAMES = {"hbm": "HBM fetch", "qk": "Q x K array", "softmax": "softmax", "pq": "progressive-quant check",
               "topk": "top-k engine (local V)", "pv": "prob x V array"}
_EXPLAIN_NAMES = {**_UNIT_NAMES, "select": "top-k engine (token/head selection)"}
_KIND_NAMES = {"q": "Q", "k_msb": "K (MSBs)", "k_lsb": "K (LSB re-fetch)", "v": "V"}
_KIND_COLOURS = {"q": "tab:gray", "k_msb": "tab:blue", "k_lsb": "tab:cyan", "v": "tab:purple"}


def plot(r: SimResult, out_dir: str | Path, *, plot_format: str = "png") -> list[Path]:
    """Write three plots (PNG at 200 dpi, or svg/pdf): latency, DRAM traffic and what was kept, per layer.

    ``cycles_by_layer``: each layer's latency (summarization and generation apart; the bars sum to
    the end-to-end latency), split in proportion to the units' busy cycles in that layer; below it, the
    same layers from the prob x V array's view: busy, or stalled by cause (:func:`stalls_by_layer`).
    ``dram_by_kind``: DRAM bytes per layer stacked by kind, beside dense attention's Q, K and V at
    12 bits and at fp32. ``kept_by_layer``: tokens, heads and V kept, and the fidelity they cost.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(out_dir)
    title = title_of(r)
    rows = r.layers
    x = np.array([row["layer"] for row in rows])
    paths = [
        write_figure(_cycles_figure(plt, np, r, x, title), out / f"cycles_by_layer.{plot_format}", fmt=plot_format),
        write_figure(_dram_figure(plt, np, r, x, title), out / f"dram_by_kind.{plot_format}", fmt=plot_format),
        write_figure(_kept_figure(plt, np, r, x, title), out / f"kept_by_layer.{plot_format}", fmt=plot_format),
    ]
    return paths


#: The unit from whose view the per-layer stall breakdown is drawn: the last of the row pipeline.
VIEW_UNIT = "pv"
_CAUSE_COLOURS = {"busy": "tab:purple", "hbm": "tab:orange", "layer": "tab:gray", "sram": "tab:brown",
                  "select": "tab:red", "pipeline": "lightsteelblue"}


def stalls_by_layer(r: SimResult, stage: str, unit: str = VIEW_UNIT) -> dict[str, list[int]]:
    """Per layer (in ``r.layers`` order), ``unit``'s busy and stalled cycles by cause in ``stage``.

    From the explain section: each cycle the unit is busy goes to the layer it serves, each stalled
    cycle to the layer of its next row; for the last unit of the row pipeline they sum to the stage's
    latency less the final drain (:mod:`hwsim.spatten.explain`).
    """
    got = {row["layer"]: row for row in r.summary["explain"]["layers"] if (row["stage"], row["unit"]) == (stage, unit)}
    parts = {"busy": "busy_cycles", **{c: f"stall_{c}_cycles" for c in CAUSES}}
    return {p: [got[L["layer"]][k] if L["layer"] in got else 0 for L in r.layers] for p, k in parts.items()}


def _cycles_figure(plt, np, r, x, title):
    rows = r.layers
    stages = [st for st in ("summarization", "generation") if any(row[f"{st}_latency_cycles"] for row in rows)]
    stages = stages or ["summarization"]
    fig, axes = plt.subplots(2, len(stages), figsize=(6.4 * len(stages), 7.6), squeeze=False, sharex=True)
    busy = np.array([[row[f"{u}_busy_cycles"] for u in UNITS] for row in rows], dtype=float)
    share = busy / np.maximum(busy.sum(axis=1, keepdims=True), 1)
    for ax, bx, st in zip(axes[0], axes[1], stages):
        lat = np.array([row[f"{st}_latency_cycles"] for row in rows], dtype=float)
        bottom = np.zeros_like(lat)
        for j, u in enumerate(UNITS):
            part = lat * share[:, j]
            if part.any():
                ax.bar(x, part / 1e3, bottom=bottom / 1e3, color=_UNIT_COLOURS[u], label=_UNIT_NAMES[u])
                bottom += part
        ax.set_ylabel("latency (10^3 cycles)")
        ax.set_title(f"{st}: {lat.sum():,.0f} cycles, by unit (share of busy cycles)", fontsize=9)
        # the same layers from the prob x V array's view: busy, or what its next row waits for
        parts = stalls_by_layer(r, st)
        bottom = np.zeros(len(rows))
        for cause, cycles in parts.items():
            v = np.array(cycles, dtype=float)
            if v.any():
                label = f"{_UNIT_NAMES[VIEW_UNIT]} busy" if cause == "busy" else f"stalled: {CAUSE_NAMES[cause]}"
                bx.bar(x, v / 1e3, bottom=bottom / 1e3, color=_CAUSE_COLOURS[cause], label=label)
                bottom += v
        bx.set_xlabel("layer")
        bx.set_ylabel("cycles (10^3)")
        bx.set_xticks(x)
        bx.set_title(f"{st}: {bottom.sum():,.0f} cycles, by stall cause ({_UNIT_NAMES[VIEW_UNIT]}'s view)", fontsize=9)
    total = r.summary["latency_cycles"]
    axes[0][-1].legend(title="share of busy cycles", fontsize=7, title_fontsize=7, loc="upper right")
    axes[1][-1].legend(title="each cycle of the last unit", fontsize=7, title_fontsize=7, loc="upper right")
    fig.suptitle(f"{title}\nper-layer latency (sums to the end-to-end {total:,} cycles): above split in proportion "
                 "to each unit's busy cycles;\nbelow, the prob x V array (the last unit) busy, or stalled by what its "
                 "next row waits for (hwsim simulate --explain)", fontsize=9)
    fig.tight_layout()
    return fig


def _dram_figure(plt, np, r, x, title):
    rows = r.layers
    fig, ax = plt.subplots(figsize=(max(6.4, 0.55 * len(rows) + 2), 4.2))
    w = 0.28
    bottom = np.zeros(len(rows))
    for k in KINDS:
        v = np.array([row[f"dram_{k}_bytes"] for row in rows], dtype=float) / 1e6
        if v.any():
            ax.bar(x - w, v, w, bottom=bottom, color=_KIND_COLOURS[k], label=f"simulated: {_KIND_NAMES[k]}")
            bottom += v
    d12 = np.array([row["dense_12bit_dram_bytes"] for row in rows], dtype=float) / 1e6
    d32 = np.array([row["dense_fp32_dram_bytes"] for row in rows], dtype=float) / 1e6
    ax.bar(x, d12, w, color="lightgray", edgecolor="black", linewidth=0.5, label="dense attention, 12-bit Q/K/V")
    ax.bar(x + w, d32, w, color="white", edgecolor="black", hatch="//", linewidth=0.5,
           label="dense attention, fp32 Q/K/V")
    ax.set_xticks(x)
    ax.set_xlabel("layer")
    ax.set_ylabel("DRAM traffic (MB = 10^6 bytes)")
    ax.set_ylim(0, max(d32.max(initial=0), bottom.max(initial=0)) * 1.05 or 1)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    sim = r.summary["dram_bytes"]
    dense = d12.sum() * 1e6
    if not sim:
        ratio = ""
    elif sim <= dense:
        ratio = f", {dense / sim:.1f}x less than dense 12-bit"
    else:  # a tiled run re-reads K/V (sram.tiling) and can move more than dense attention reads once
        ratio = f", {sim / dense:.1f}x more than dense 12-bit"
    ax.set_title(f"{title}\nDRAM traffic per layer: {sim / 1e6:,.2f} MB simulated vs {dense / 1e6:,.2f} MB dense "
                 f"12-bit{ratio} (HBM bus bytes)", fontsize=9)
    fig.tight_layout()
    return fig


def _kept_figure(plt, np, r, x, title):
    rows = r.layers
    err = [row["attention_rel_error_ratio"] for row in rows]
    fidelity = all(e is not None for e in err)
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.8, 5.6 if fidelity else 4.4), sharex=True,
                                 height_ratios=(1, 1) if fidelity else (3, 1))
    for key, label, marker, colour in (("tokens_kept_fraction", "tokens kept", "o", "tab:blue"),
                                       ("heads_kept_fraction", "heads kept", "s", "tab:orange"),
                                       ("values_kept_fraction", "V kept (of attended keys)", "^", "tab:purple")):
        ax.plot(x, [row[key] for row in rows], marker=marker, label=label, color=colour)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("kept (fraction)")
    handles = ax.get_legend_handles_labels()[0]
    ax.set_title(f"{title}\nwhat each layer kept, and the attention fidelity it cost", fontsize=9)
    if fidelity:
        bx.plot(x, err, marker="o", color="tab:red", label="attention output error (relative L2)")
        bx.set_ylabel("relative L2 error (ratio)", color="tab:red")
        bx.set_ylim(0, max(max(err) * 1.2, 1e-3))
        cx = bx.twinx()
        cx.plot(x, [row["prob_mass_kept_fraction"] for row in rows], marker="s", color="tab:green",
                label="probability mass kept")
        cx.set_ylim(0, 1.05)
        cx.set_ylabel("probability mass kept (fraction)", color="tab:green")
        handles += bx.get_legend_handles_labels()[0] + cx.get_legend_handles_labels()[0]
    else:
        bx.text(0.5, 0.5, "no fidelity: a replayed trace carries kept counts, not Q/K/V", ha="center", va="center",
                transform=bx.transAxes, fontsize=8)
        bx.set_yticks([])
        bx.set_ylabel("fidelity")
    bx.set_xlabel("layer")
    bx.set_xticks(x)
    fig.legend(handles, [h.get_label() for h in handles], fontsize=7, ncol=3, loc="lower center")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
