"""Per-operation energy and area of arithmetic and gates, and the rule that moves them between nodes.

Everything the energy and area models build on that is not an SRAM (``cost_models.sram``) or the
HBM (``cost_models.energy``) lives here, with its source:

* **Arithmetic** from M. Horowitz, "Computing's energy problem (and what we can do about it)",
  ISSCC 2014, the 45 nm / 0.9 V table of energy (pJ) and area (um^2) per operation. Widths between
  the published ones are interpolated with a power law through the two published points of the same
  kind (exponent ~0.9 for adders, i.e. about proportional to bits; ~2.0 for multiplier energy, about
  bits squared). An FMA is costed as one multiply plus one add (assumed; the table has no FMA).
* **Gates** in NAND2 gate equivalents (GE) of the Nangate 45 nm Open Cell Library, used for
  comparator-free structures (multiplexers, registers). The energy of one GE switching once is
  derived from Horowitz's 8-bit adder: its energy over its area in GE (a first-order assumption).
* **Node scaling** (first order, fixed supply voltage): energy proportional to the feature size,
  area proportional to its square. A 45 nm value becomes a 40 nm value by x(40/45) for energy and
  x(40/45)^2 for area. The rule ignores voltage scaling and the slower SRAM shrink below ~28 nm; it
  is a first-order move between nodes, not a model of a real process.

Verification status of each constant is stated next to it ("verified" = read in a public source
during this work; "recalled" = from memory of the cited source, not re-read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "BASIS_NODE_NM",
    "HOROWITZ_NODE_NM",
    "HOROWITZ_45NM",
    "OpCost",
    "scale_energy",
    "scale_area",
    "int_add",
    "int_mult",
    "fp32",
    "nand2_um2",
    "gate_energy_pj",
    "gate_area_um2",
    "MUX2_GE",
    "DFF_GE",
]

BASIS_NODE_NM = 40.0
"""The paper's node (SpAtten: TSMC 40 nm, 1 GHz; docs/sources.md SpAtten §2.2); constants are quoted at or
converted to it."""

HOROWITZ_NODE_NM = 45.0
"""Node of Horowitz's ISSCC 2014 table and of the Nangate Open Cell Library."""


@dataclass(frozen=True)
class OpCost:
    """Energy of one operation (pJ) and area of the unit that performs it (um^2)."""

    energy_pj: float
    area_um2: float

    def __add__(self, other: OpCost) -> OpCost:
        return OpCost(self.energy_pj + other.energy_pj, self.area_um2 + other.area_um2)


HOROWITZ_45NM: dict[str, OpCost] = {
    # Horowitz ISSCC 2014, 45 nm, 0.9 V. Energies of int32 add (0.1 pJ) and mult (3.1 pJ) and
    # fp32 add (0.9 pJ) and mult (3.7 pJ): verified (quoted from Horowitz in Table 3 of
    # PMC8934428, Front. Neurol. 2022). The 8-bit and fp16 energies and all areas: recalled from
    # the same table (the widely reproduced "Energy / Area (um^2)" slide).
    "int8_add": OpCost(0.03, 36.0),
    "int32_add": OpCost(0.1, 137.0),
    "int8_mult": OpCost(0.2, 282.0),
    "int32_mult": OpCost(3.1, 3495.0),
    "fp16_add": OpCost(0.4, 1360.0),
    "fp32_add": OpCost(0.9, 4184.0),
    "fp16_mult": OpCost(1.1, 1640.0),
    "fp32_mult": OpCost(3.7, 7700.0),
}

NANGATE45_NAND2_UM2 = 0.798
"""NAND2_X1 area (um^2), Nangate 45 nm Open Cell Library: verified (a Yosys ``stat`` report
against the library divides by 0.798 um^2 per GE). 1 GE := this area."""

MUX2_GE = 1.862 / NANGATE45_NAND2_UM2
"""MUX2_X1 (1.862 um^2, Nangate 45 nm; recalled) in gate equivalents: 2.33 GE."""

DFF_GE = 4.522 / NANGATE45_NAND2_UM2
"""DFF_X1 (4.522 um^2, Nangate 45 nm; verified in a Yosys ``stat -liberty Nangate45_typ.lib``
report) in gate equivalents: 5.67 GE."""

_GE_ENERGY_PJ_45NM = HOROWITZ_45NM["int8_add"].energy_pj / (HOROWITZ_45NM["int8_add"].area_um2 / NANGATE45_NAND2_UM2)
"""Energy of one gate equivalent switching once at 45 nm (pJ): Horowitz's 8-bit add energy over
its area in GE, 0.03 pJ / 45.1 GE = 6.6e-4 pJ. Derived; a first-order assumption that logic of a
given size switches like an adder of that size."""


def scale_energy(value: float, from_nm: float, to_nm: float) -> float:
    """Move an energy between nodes: proportional to the feature size (first order, fixed voltage)."""
    return value * (to_nm / from_nm)


def scale_area(value: float, from_nm: float, to_nm: float) -> float:
    """Move an area between nodes: proportional to the feature size squared (first order)."""
    return value * (to_nm / from_nm) ** 2


def _at_node(cost: OpCost, node_nm: float) -> OpCost:
    return OpCost(
        scale_energy(cost.energy_pj, HOROWITZ_NODE_NM, node_nm),
        scale_area(cost.area_um2, HOROWITZ_NODE_NM, node_nm),
    )


def _power_law(bits: float, b0: float, v0: float, b1: float, v1: float) -> float:
    """Interpolate v(bits) = v0 (bits / b0)^a, with a chosen so that v(b1) = v1."""
    exponent = math.log(v1 / v0) / math.log(b1 / b0)
    return v0 * (bits / b0) ** exponent


def _check_bits(bits: float) -> None:
    if not bits > 0:
        raise ValueError(f"operand width must be positive bits, got {bits!r}")


def _interpolated(kind: str, bits: float, node_nm: float) -> OpCost:
    _check_bits(bits)
    lo, hi = HOROWITZ_45NM[f"int8_{kind}"], HOROWITZ_45NM[f"int32_{kind}"]
    cost = OpCost(
        _power_law(bits, 8, lo.energy_pj, 32, hi.energy_pj),
        _power_law(bits, 8, lo.area_um2, 32, hi.area_um2),
    )
    return _at_node(cost, node_nm)


def int_add(bits: float, node_nm: float) -> OpCost:
    """Cost of one ``bits``-wide integer add (also a compare: a subtract) at ``node_nm``.

    Power law through Horowitz's 8- and 32-bit adders: energy ~ bits^0.87, area ~ bits^0.96
    (interpolation, stated as such), then node-scaled from 45 nm.
    """
    return _interpolated("add", bits, node_nm)


def int_mult(bits: float, node_nm: float) -> OpCost:
    """Cost of one ``bits`` x ``bits`` integer multiply at ``node_nm``.

    Power law through Horowitz's 8- and 32-bit multipliers: energy ~ bits^1.98 (about bits squared),
    area ~ bits^1.82 (interpolation, stated as such), then node-scaled from 45 nm.
    """
    return _interpolated("mult", bits, node_nm)


def fp32(op: str, node_nm: float) -> OpCost:
    """Cost of one single-precision ``op`` in ``{"add", "mult", "fma"}`` at ``node_nm``.

    Add and multiply are Horowitz's fp32 entries; ``fma`` = multiply + add (assumed). The softmax of
    SpAtten is fp32 (released RTL ``SpAttenConfig.widthFPValue = 32``, docs/sources.md SpAtten §7.1).
    """
    if op == "fma":
        return fp32("mult", node_nm) + fp32("add", node_nm)
    if op not in ("add", "mult"):
        raise ValueError(f"fp32 op must be 'add', 'mult' or 'fma', got {op!r}")
    return _at_node(HOROWITZ_45NM[f"fp32_{op}"], node_nm)


def nand2_um2(node_nm: float) -> float:
    """Area of one gate equivalent (NAND2_X1) at ``node_nm`` (um^2): 0.798 um^2 at 45 nm, node-scaled
    (0.631 um^2 at 40 nm, derived)."""
    return scale_area(NANGATE45_NAND2_UM2, HOROWITZ_NODE_NM, node_nm)


def gate_energy_pj(ge: float, node_nm: float) -> float:
    """Energy of ``ge`` gate equivalents switching once at ``node_nm`` (pJ)."""
    return ge * scale_energy(_GE_ENERGY_PJ_45NM, HOROWITZ_NODE_NM, node_nm)


def gate_area_um2(ge: float, node_nm: float) -> float:
    """Area of ``ge`` gate equivalents at ``node_nm`` (um^2)."""
    return ge * nand2_um2(node_nm)
