"""``hwsim sparse``: linear/conv layers on the sparse engines (one GEMM, one conv, or a whole workload).

``hwsim sparse --workload W`` runs every linear/conv layer of a workload (per-layer table, totals,
``--json``/``--csv``/``--plot``); ``hwsim sparse gemm`` and ``hwsim sparse conv`` run one layer with
random (seeded) weights and inputs and print/write its cycles, utilisation and DRAM bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import HwsimError
from .app import app as root_app
from .app import console, rich_table

sparse_app = typer.Typer(
    help="Linear/conv layers on sparse engines (dense systolic = SCALE-Sim v3, weight-sparse, dual-sparse, N:M). "
    "'hwsim sparse --workload minilm|smollm2|mobilenetv2|FILE' runs a model's layers; 'hwsim sparse gemm' and "
    "'hwsim sparse conv' one layer. See docs/sparse.md.",
    no_args_is_help=False,
)
root_app.add_typer(sparse_app, name="sparse")

Engine = Annotated[str, typer.Option("--engine", help="dense, weight-sparse, dual-sparse or nm.")]
Pattern = Annotated[str, typer.Option("--pattern", help="Weight pattern: unstructured or N:M (e.g. 2:4).")]
Density = Annotated[float, typer.Option("--density", help="Kept weight fraction of an unstructured mask, in (0, 1].")]
Rows = Annotated[int, typer.Option("--rows", help="PE rows of the array.")]
Cols = Annotated[int, typer.Option("--cols", help="PE columns of the array.")]
Dataflow = Annotated[str, typer.Option("--dataflow", help="os, ws or is (SCALE-Sim's mappings).")]
Mask = Annotated[str, typer.Option("--mask", help="Unstructured mask: hydra (DASS, scores ~ |w|), magnitude, random.")]
Balance = Annotated[bool, typer.Option("--balance/--no-balance", help="Dual-sparse: greedy filter balancing.")]
Bits = Annotated[int, typer.Option("--bits", help="Bits of a stored weight/activation/output value.")]
Threshold = Annotated[float, typer.Option("--act-threshold", help="Activations with |a| <= this count as zero.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of random weights, inputs and random masks.")]
ActDensity = Annotated[float, typer.Option("--act-density", help="Non-zero fraction of the random inputs.")]
JsonOut = Annotated[Optional[Path], typer.Option("--json", metavar="FILE", help="Also write the results to this JSON file.")]


def _checked(engine: str, pattern: str, density: float, rows: int, cols: int, dataflow: str, mask: str, bits: int,
             act_threshold: float, balance: bool):
    """Validate the shared options (one line naming the option each) and build the parameter objects."""
    from ..units.sparse import masks
    from ..units.sparse.params import DATAFLOWS, ENGINES, MemoryParams, SparsityParams, SystolicParams
    from ..sparse.run import MASK_KINDS, parse_pattern

    if engine not in ENGINES:
        raise HwsimError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    nm = parse_pattern(pattern)
    masks.check_density(density)
    for flag, v in (("--rows", rows), ("--cols", cols)):
        if not 1 <= v <= 4096:
            raise HwsimError(f"{flag} must be an integer from 1 to 4096, not {v}")
    if dataflow not in DATAFLOWS:
        raise HwsimError(f"--dataflow must be one of {', '.join(DATAFLOWS)}, not {dataflow!r}")
    if mask not in MASK_KINDS:
        raise HwsimError(f"--mask must be one of {', '.join(MASK_KINDS)}, not {mask!r}")
    if not 1 <= bits <= 32:
        raise HwsimError(f"--bits must be an integer from 1 to 32, not {bits}")
    if not act_threshold >= 0:
        raise HwsimError(f"--act-threshold must be >= 0, not {act_threshold}")
    if engine == "nm" and nm is None:
        raise HwsimError("--engine nm needs --pattern N:M (e.g. 2:4)")
    if engine == "dual-sparse" and dataflow != "os":
        raise HwsimError(f"--dataflow must be os for the dual-sparse engine (output-stationary inner products), "
                         f"not {dataflow!r}")
    if nm is not None and density != 1.0:
        raise HwsimError("--density applies to unstructured masks; an N:M pattern sets the density to N/M")
    sp = SparsityParams(engine=engine, n=nm[0] if nm else 2, m=nm[1] if nm else 4, balance=balance)
    return (SystolicParams(rows=rows, cols=cols, dataflow=dataflow), sp, MemoryParams(value_bits=bits), nm)


def _options(engine, pattern, density, rows, cols, dataflow, mask, balance, bits, act_threshold, seed) -> dict:
    return {"engine": engine, "pattern": pattern, "density": density, "rows": rows, "cols": cols,
            "dataflow": dataflow, "mask": mask, "balance": balance, "bits": bits, "act_threshold": act_threshold,
            "seed": seed}


def _one_layer(layer, opts: dict, json_out: Path | None, extra: dict) -> None:
    from ..outputs import provenance, write_json
    from ..sparse.run import dense_total_cycles, run_layer

    array, sp, mem, nm = _checked(*(opts[k] for k in ("engine", "pattern", "density", "rows", "cols", "dataflow",
                                                     "mask", "bits", "act_threshold", "balance")))
    res = run_layer(layer, array, sp, mem, density=opts["density"], nm=nm, mask_kind=opts["mask"],
                    act_threshold=opts["act_threshold"], seed=opts["seed"])
    dense = dense_total_cycles(layer, array, mem)
    out = {**res.row(), "speedup_vs_dense_x": dense / res.total_cycles, "dense_total_cycles": dense}
    from ..outputs import split_unit

    rows = [[*split_unit(k), f"{v:,.4g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)]
            for k, v in out.items() if k != "name" and v is not None]
    console.print(rich_table(f"{layer.name} on {opts['engine']} {opts['rows']}x{opts['cols']} {opts['dataflow']}",
                             ["quantity", "unit", "value"], rows))
    if json_out is not None:
        write_json(json_out, {**out, "options": {**opts, **extra}, "provenance": provenance(seed=opts["seed"])})
        console.print(f"wrote {json_out}")


def _random_layer(name: str, kind: str, weights, inputs, act_density: float, seed: int):
    import numpy as np

    from ..units.sparse import masks
    from ..sparse.run import Layer

    masks.check_density(act_density, "--act-density")
    rng = np.random.default_rng(seed)
    ws, xs = [], []
    for g, ((n, k), m) in enumerate(zip(weights, inputs)):
        ws.append(rng.standard_normal((n, k)))
        x = rng.standard_normal((m, k))
        if act_density < 1.0:
            x = np.where(masks.bernoulli_mask((m, k), act_density, seed=seed + 1000 + g), x, 0.0)
        xs.append(x)
    return Layer(name, kind, tuple(ws), tuple(xs))


@sparse_app.command("gemm")
def gemm_cmd(
    m: Annotated[int, typer.Option("--m", help="Input rows (tokens / output pixels).")],
    k: Annotated[int, typer.Option("--k", help="Reduction length (input features / window).")],
    n: Annotated[int, typer.Option("--n", help="Filters (output features).")],
    engine: Engine = "dense", pattern: Pattern = "unstructured", density: Density = 1.0, rows: Rows = 32,
    cols: Cols = 32, dataflow: Dataflow = "os", mask: Mask = "hydra", balance: Balance = False, bits: Bits = 8,
    act_threshold: Threshold = 0.0,
    act_density: ActDensity = 1.0,
    seed: Seed = 0, json_out: JsonOut = None,
) -> None:
    """One GEMM (an M x K input times a K x N weight; random seeded values) on an engine."""
    opts = _options(engine, pattern, density, rows, cols, dataflow, mask, balance, bits, act_threshold, seed)
    _, _, _, nm = _checked(engine, pattern, density, rows, cols, dataflow, mask, bits, act_threshold, balance)
    for flag, v in (("--m", m), ("--k", k), ("--n", n)):
        if not 1 <= v <= 1 << 16:
            raise HwsimError(f"{flag} must be an integer from 1 to 65536, not {v}")
    if nm is not None and k % nm[1]:
        raise HwsimError(f"--k {k}: the N:M block size M = {nm[1]} must divide K")
    layer = _random_layer("gemm", "linear", [(n, k)], [m], act_density, seed)
    _one_layer(layer, opts, json_out, {"m": m, "k": k, "n": n, "act_density": act_density})


@sparse_app.command("conv")
def conv_cmd(
    h: Annotated[int, typer.Option("--h", help="Input height (pixels, already padded).")],
    w: Annotated[int, typer.Option("--w", help="Input width (pixels, already padded).")],
    c: Annotated[int, typer.Option("--c", help="Input channels.")],
    k: Annotated[int, typer.Option("--k", help="Filters (output channels).")],
    r: Annotated[int, typer.Option("--r", help="Filter height.")] = 3,
    s: Annotated[int, typer.Option("--s", help="Filter width.")] = 3,
    stride: Annotated[int, typer.Option("--stride", help="Stride (both directions).")] = 1,
    depthwise: Annotated[bool, typer.Option("--depthwise/--no-depthwise", help="One filter per channel (k = c).")] = False,
    engine: Engine = "dense", pattern: Pattern = "unstructured", density: Density = 1.0, rows: Rows = 32,
    cols: Cols = 32, dataflow: Dataflow = "os", mask: Mask = "hydra", balance: Balance = False, bits: Bits = 8,
    act_threshold: Threshold = 0.0,
    act_density: ActDensity = 1.0,
    seed: Seed = 0, json_out: JsonOut = None,
) -> None:
    """One convolution as SCALE-Sim maps it (im2col, no padding; random seeded values) on an engine."""
    from ..units.sparse.params import conv_gemm_shape

    opts = _options(engine, pattern, density, rows, cols, dataflow, mask, balance, bits, act_threshold, seed)
    _, _, _, nm = _checked(engine, pattern, density, rows, cols, dataflow, mask, bits, act_threshold, balance)
    shape = conv_gemm_shape(h=h, w=w, c=c, k=k, r=r, s=s, stride=stride, depthwise=depthwise)
    if nm is not None and shape.k % nm[1]:
        raise HwsimError(f"--r x --s x --c = {shape.k}: the N:M block size M = {nm[1]} must divide the window K")
    layer = _random_layer("conv", "conv2d", [(shape.n, shape.k)] * shape.groups, [shape.m] * shape.groups,
                          act_density, seed)
    _one_layer(layer, opts, json_out, {"h": h, "w": w, "c": c, "k": k, "r": r, "s": s, "stride": stride,
                                       "depthwise": depthwise, "act_density": act_density})


_SHORT = (("encoder.layer.", "L"), ("model.layers.", "L"), ("attention.self.", "attn."), ("attention.output.", "attn."),
          ("self_attn.", "attn."), ("intermediate.dense", "ffn.in"), ("output.dense", "ffn.out"), ("features.", "f"),
          (".body.", "."))


def _short(name: str) -> str:
    """A layer name shortened for the table (the JSON/CSV keep the full name)."""
    for a, b in _SHORT:
        name = name.replace(a, b)
    return name


def _run_all(layers, array, sp, mem, nm, opts, density):
    from ..sparse.run import run_layer

    return [run_layer(lay, array, sp, mem, density=density, nm=nm, mask_kind=opts["mask"],
                      act_threshold=opts["act_threshold"], seed=opts["seed"] + i) for i, lay in enumerate(layers)]


def _plot(layers, array, sp, mem, opts, dense_total, path: Path) -> Path:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..outputs import atomic_write

    densities = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    speed, err = [], []
    for d in densities:
        res = _run_all(layers, array, sp, mem, None, opts, d)
        speed.append(dense_total / sum(r.total_cycles for r in res))
        err.append(sum(r.output_error for r in res) / len(res))
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    ax[0].plot(densities, speed, "o-")
    ax[0].set_xlabel("weight density")
    ax[0].set_ylabel("speed-up over dense (total cycles)")
    ax[1].plot(densities, err, "o-", color="C3")
    ax[1].set_xlabel("weight density")
    ax[1].set_ylabel("mean relative output error")
    fig.suptitle(f"{opts['workload']}: {opts['engine']} {opts['rows']}x{opts['cols']} {opts['dataflow']}, "
                 f"{opts['mask']} masks", fontsize=10)
    for a in ax:
        a.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write(path, buf.getvalue())


@sparse_app.callback(invoke_without_command=True)
def sparse_main(
    ctx: typer.Context,
    workload: Annotated[Optional[str], typer.Option("--workload", "-w",
                                                    help="minilm, smollm2, mobilenetv2 or a trace file.")] = None,
    engine: Engine = "weight-sparse", pattern: Pattern = "unstructured",
    density: Annotated[Optional[float], typer.Option(
        "--density", help="Kept weight fraction of an unstructured mask, in (0, 1] (default 0.5).")] = None,
    rows: Rows = 32,
    cols: Cols = 32, dataflow: Dataflow = "os", mask: Mask = "hydra", balance: Balance = False, bits: Bits = 8,
    act_threshold: Threshold = 0.0,
    tokens: Annotated[Optional[int], typer.Option("--tokens", help="Tokens of the real models' prompt pass.")] = None,
    image_size: Annotated[Optional[int], typer.Option("--image-size", help="MobileNetV2 input (pixels).")] = None,
    seed: Seed = 0, json_out: JsonOut = None,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Also write the per-layer table as CSV.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write speed-up and error vs density (PNG).")] = None,
) -> None:
    """Every linear/conv layer of a workload on an engine: per-layer table and totals."""
    if ctx.invoked_subcommand is not None:
        return
    if workload is None:
        raise HwsimError("--workload is required (minilm, smollm2, mobilenetv2 or a trace file), "
                         "or use 'hwsim sparse gemm' / 'hwsim sparse conv'")
    from workloads.linear_layers import capture, check_workload

    from ..outputs import provenance, write_csv, write_json
    from ..sparse.run import Layer, dense_total_cycles

    if density is None:
        density = 0.5 if pattern == "unstructured" else 1.0
    array, sp, mem, nm = _checked(engine, pattern, density, rows, cols, dataflow, mask, bits, act_threshold, balance)
    if plot is not None and nm is not None:
        raise HwsimError("--plot sweeps the density of unstructured masks; use --pattern unstructured")
    check_workload(workload)
    cap = capture(workload, tokens=tokens, image_size=image_size, seed=seed)
    layers = [Layer(c.name, c.kind, c.weights, c.inputs) for c in cap.layers]
    opts = {**_options(engine, pattern, density, rows, cols, dataflow, mask, balance, bits, act_threshold, seed),
            "workload": workload, "tokens": tokens, "image_size": image_size}
    results = _run_all(layers, array, sp, mem, nm, opts, density)
    dense = [dense_total_cycles(lay, array, mem) for lay in layers]
    table = []
    for r, d in zip(results, dense):
        table.append({**r.row(), "dense_total_cycles": d, "speedup_vs_dense_x": d / r.total_cycles})
    tot_cycles = sum(r.total_cycles for r in results)
    totals = {"linear_layers": len(results), "compute_cycles": sum(r.compute_cycles for r in results),
              "hbm_cycles": sum(r.hbm_cycles for r in results),
              "total_cycles": tot_cycles, "dense_total_cycles": sum(dense),
              "speedup_vs_dense_x": sum(dense) / tot_cycles,
              "dram_bytes": sum(r.dram_bytes for r in results), "energy_pj": sum(r.energy_pj for r in results),
              "effectual_mac_ops": sum(r.effectual_macs for r in results),
              "dense_mac_ops": sum(r.dense_macs for r in results),
              "utilization_fraction": sum(r.effectual_macs for r in results)
              / (array.pes * sum(r.compute_cycles for r in results)),
              "bernoulli_compute_cycles": (sum(r.bernoulli_compute_cycles for r in results)
                                           if results[0].bernoulli_compute_cycles is not None else None),
              "mean_output_error_ratio": sum(r.output_error for r in results) / len(results)}
    cols_ = ["layer", "m x k x n", "weight density (fraction)", "activation density (fraction)", "compute (cycles)",
             "total (cycles)", "utilization (fraction)", "speed-up over dense (x)", "DRAM (bytes)", "energy (pJ)",
             "output error (ratio)"]
    rows_ = [[_short(t["name"]), f"{t['input_rows']}x{t['window_elements']}x{t['filters_count']}"
              + (f" x{t['groups_count']}" if t["groups_count"] > 1 else ""),
              f"{t['weight_density_fraction']:.3f}", f"{t['activation_density_fraction']:.3f}",
              f"{t['compute_cycles']:,}", f"{t['total_cycles']:,}", f"{t['utilization_fraction']:.3f}",
              f"{t['speedup_vs_dense_x']:.2f}", f"{t['dram_bytes']:,}", f"{t['energy_pj']:.3g}",
              f"{t['output_error_ratio']:.4f}"] for t in table]
    rows_.append(["total", "", "", "", f"{totals['compute_cycles']:,}", f"{tot_cycles:,}",
                  f"{totals['utilization_fraction']:.3f}", f"{totals['speedup_vs_dense_x']:.2f}",
                  f"{totals['dram_bytes']:,}", f"{totals['energy_pj']:.3g}", f"{totals['mean_output_error_ratio']:.4f}"])
    title = (f"{workload} on {engine} ({pattern if nm else f'{mask} density {density:g}'}), {rows}x{cols} {dataflow}, "
             f"{bits}-bit; {cap.note}")
    console.print(rich_table(title, cols_, rows_))
    if totals["bernoulli_compute_cycles"] is not None:
        console.print(f"closed-form Bernoulli estimate (§5, from the densities alone): "
                      f"{totals['bernoulli_compute_cycles']:,.0f} compute cycles; measured from the masks: "
                      f"{totals['compute_cycles']:,}")
    if json_out is not None:
        write_json(json_out, {"options": opts, "workload_note": cap.note, "real_weights": cap.real_weights,
                              "real_inputs": cap.real_inputs, "totals": totals, "layers": table,
                              "provenance": provenance(seed=seed)})
        console.print(f"wrote {json_out}")
    if csv_out is not None:
        write_csv(csv_out, table)
        console.print(f"wrote {csv_out}")
    if plot is not None:
        console.print(f"wrote {_plot(layers, array, sp, mem, opts, sum(dense), plot)}")
