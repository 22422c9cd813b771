"""Energy and area of the sparse linear/conv engines (hwsim.units.sparse).

Per event, from the project's technology tables (``cost_models.technology``: Horowitz ISSCC 2014,
45 nm, node-scaled; ``cost_models.sram``: the CACTI-like SRAM table; HBM: 3.9 pJ/bit, the constant of
``cost_models.energy``):

* an effectual MAC: one ``b`` x ``b`` multiply + one ``2b + 8``-bit add (8 guard bits of the accumulator,
  assumed);
* an SRAM byte: every DRAM byte is written once into an SRAM; the array reads ``rows + cols``
  operands of ``b`` bits from the SRAMs per streaming step (``math_cycles``: one operand enters
  each row and each column edge), which the caller passes as ``sram_bytes``;
* a DRAM byte: 8 x 3.9 pJ.

Area: ``rows x cols`` MAC PEs (multiplier + accumulator adder + two ``b``-bit operand registers and a
``2b + 8``-bit accumulator; ``DFF_GE`` gate equivalents per flip-flop bit) plus the three SRAMs. Static
power is not modelled here.
"""

from __future__ import annotations

from cost_models.energy import HBM_PJ_PER_BIT
from cost_models.sram import Sram
from cost_models.technology import DFF_GE, gate_area_um2, int_add, int_mult

__all__ = ["ACC_GUARD_BITS", "mac_energy_pj", "layer_energy_pj", "engine_area_mm2"]

#: Accumulator guard bits beyond the 2b-bit product (assumed).
ACC_GUARD_BITS = 8


def mac_energy_pj(bits: int, node_nm: float) -> float:
    """One multiply-accumulate at ``bits`` (pJ)."""
    return int_mult(bits, node_nm).energy_pj + int_add(2 * bits + ACC_GUARD_BITS, node_nm).energy_pj


def layer_energy_pj(*, effectual_macs: int, dram_bytes: int, sram_bytes: int, bits: int, node_nm: float,
                    sram_capacity_bytes: int) -> dict[str, float]:
    """Energy of one layer by component (pJ): ``mac``, ``sram``, ``dram`` and ``total``."""
    sram = Sram(capacity_bytes=sram_capacity_bytes, width_bits=64, technology_nm=node_nm)
    mac = effectual_macs * mac_energy_pj(bits, node_nm)
    sram_pj = 8 * sram_bytes * sram.read_pj_per_bit + 8 * dram_bytes * sram.write_pj_per_bit
    dram = 8 * dram_bytes * HBM_PJ_PER_BIT
    return {"mac_energy_pj": mac, "sram_energy_pj": sram_pj, "dram_energy_pj": dram,
            "energy_pj": mac + sram_pj + dram}


def engine_area_mm2(*, rows: int, cols: int, bits: int, node_nm: float, sram_bytes: tuple[int, int, int]) -> dict[str, float]:
    """Area of the array and its three SRAMs (mm^2)."""
    acc = 2 * bits + ACC_GUARD_BITS
    pe_um2 = (int_mult(bits, node_nm).area_um2 + int_add(acc, node_nm).area_um2
              + gate_area_um2(DFF_GE * (2 * bits + acc), node_nm))
    array = rows * cols * pe_um2 * 1e-6
    srams = sum(Sram(capacity_bytes=s, width_bits=64, technology_nm=node_nm).area_mm2 for s in sram_bytes)
    return {"array_area_mm2": array, "sram_area_mm2": srams, "area_mm2": array + srams}
