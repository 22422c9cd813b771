"""A CACTI-like table for on-chip SRAMs and FIFOs: energy per bit accessed and area, from size and width.

SpAtten's own flow took SRAM and FIFO energy and area from CACTI, fed with each memory's width, size
and read/write counts (docs/sources.md SpAtten §2.4). CACTI is not available here, so this module reproduces its
first-order behaviour from published points:

* **Organisation.** A memory ``width_bits`` wide is built from ``ceil(width_bits / 128)`` equal
  side-by-side slices that are all accessed together (128 bits is an assumed maximum word width of a
  compiled SRAM macro). A slice holds ``capacity_bytes / slices``.
* **Read energy per bit** = E64(slice capacity) / 64, where E64 is Horowitz's (ISSCC 2014, 45 nm)
  64-bit read energy of an 8 KB, 32 KB and 1 MB SRAM (10, 20, 100 pJ; the 8 KB value verified, the
  other two recalled), interpolated piecewise linearly in log(size)-log(energy). The slopes are 0.50
  and 0.46: energy grows about as sqrt(size), the bit-line/word-line length law CACTI follows.
  Outside 8 KB..1 MB the nearest segment is extended. Cross-check: a 512 B array comes out at
  2.5 pJ per 64 bits at 45 nm; CACTI 7 gives 2.1 pJ (0.0332 pJ/bit) for a 512 B, 32-bit-wide RAM
  at 45 nm (the Bitfusion configuration listed in github.com/Dongyunkam/DRAM_info).
* **Write energy** = 1.4 x read: the median write/read ratio of the five CACTI 7 outputs in the same
  list (2.20, 1.35, 1.40, 1.20, 1.41). Horowitz gives reads only.
* **Area** = bits x bit-cell area / array efficiency(slice capacity). Bit cell: 0.242 um^2, TSMC's
  40 nm high-density 6T cell (recalled; TSMC announced the "smallest SRAM cell in the industry" for
  40 nm in 2008, which was verified, not the figure). Array efficiency (bit-cell area / macro area)
  rises with capacity as the periphery is amortised; the table below is **assumed**, chosen in the
  range of CACTI 7 outputs for small arrays (0.08-0.20 for 128 B..8 KB at 28-45 nm, same source as
  above) and typical compiled macros (0.5-0.7 for tens of KB and up).

Energy and area move to other nodes with the rules of ``cost_models.technology`` (energy ~ node,
area ~ node^2, first order). Leakage is not modelled (see docs/energy-area.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .technology import BASIS_NODE_NM, HOROWITZ_NODE_NM, scale_area, scale_energy

__all__ = [
    "Sram",
    "HOROWITZ_SRAM_READ_PJ_PER_64BIT",
    "WRITE_OVER_READ",
    "BITCELL_UM2",
    "ARRAY_EFFICIENCY",
    "MAX_SLICE_WIDTH_BITS",
    "read_pj_per_64bit",
    "array_efficiency",
]

HOROWITZ_SRAM_READ_PJ_PER_64BIT: tuple[tuple[int, float], ...] = (
    (8 * 1024, 10.0),  # Horowitz ISSCC 2014, 45 nm: 8 KB SRAM, 64-bit read (verified)
    (32 * 1024, 20.0),  # 32 KB (recalled)
    (1024 * 1024, 100.0),  # 1 MB (recalled)
)
"""(capacity in bytes, energy of one 64-bit read in pJ) at 45 nm."""

WRITE_OVER_READ = 1.4
"""Write energy / read energy: median of five CACTI 7 outputs (see module docstring)."""

BITCELL_UM2 = 0.242
"""6T SRAM bit-cell area at 40 nm (um^2): TSMC 40 nm high-density cell (recalled)."""

ARRAY_EFFICIENCY: tuple[tuple[int, float], ...] = (
    (256, 0.15),
    (1024, 0.22),
    (4 * 1024, 0.30),
    (16 * 1024, 0.45),
    (64 * 1024, 0.60),
    (1024 * 1024, 0.70),
)
"""(slice capacity in bytes, bit-cell area / macro area). Assumed (see module docstring);
linear in log(capacity) between points, clamped outside."""

MAX_SLICE_WIDTH_BITS = 128
"""Widest word of one SRAM macro (bits); wider memories are side-by-side slices. Assumed."""


def _log_interp(x: float, points: tuple[tuple[int, float], ...], *, log_y: bool, clamp: bool) -> float:
    xs = [math.log(p[0]) for p in points]
    ys = [math.log(p[1]) if log_y else p[1] for p in points]
    lx = math.log(x)
    if clamp and lx <= xs[0]:
        return points[0][1]
    if clamp and lx >= xs[-1]:
        return points[-1][1]
    i = 1
    while i < len(xs) - 1 and lx > xs[i]:
        i += 1
    y = ys[i - 1] + (ys[i] - ys[i - 1]) * (lx - xs[i - 1]) / (xs[i] - xs[i - 1])
    return math.exp(y) if log_y else y


def read_pj_per_64bit(capacity_bytes: float, technology_nm: float) -> float:
    """Energy of a 64-bit read from an SRAM array of ``capacity_bytes`` at ``technology_nm`` (pJ).

    Horowitz's three points, log-log interpolated (extrapolated along the end segments), node-scaled
    from 45 nm.
    """
    if not capacity_bytes > 0:
        raise ValueError(f"SRAM capacity must be positive bytes, got {capacity_bytes!r}")
    e45 = _log_interp(capacity_bytes, HOROWITZ_SRAM_READ_PJ_PER_64BIT, log_y=True, clamp=False)
    return scale_energy(e45, HOROWITZ_NODE_NM, technology_nm)


def array_efficiency(capacity_bytes: float) -> float:
    """Bit-cell area over macro area for one macro of ``capacity_bytes`` (fraction, assumed table)."""
    if not capacity_bytes > 0:
        raise ValueError(f"SRAM capacity must be positive bytes, got {capacity_bytes!r}")
    return _log_interp(capacity_bytes, ARRAY_EFFICIENCY, log_y=False, clamp=True)


@dataclass(frozen=True)
class Sram:
    """One on-chip memory (SRAM or SRAM-based FIFO): its organisation, energy per bit and area.

    ``capacity_bytes`` is what it stores, ``width_bits`` how many bits one access reads or writes,
    ``technology_nm`` the node. Derived values are properties.
    """

    capacity_bytes: float
    width_bits: float
    technology_nm: float

    def __post_init__(self) -> None:
        for name in ("capacity_bytes", "width_bits", "technology_nm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Sram.{name} must be a positive number, got {value!r}")

    @property
    def slices(self) -> int:
        """Side-by-side macros accessed together (count)."""
        return math.ceil(self.width_bits / MAX_SLICE_WIDTH_BITS)

    @property
    def slice_bytes(self) -> float:
        """Capacity of one slice (bytes)."""
        return self.capacity_bytes / self.slices

    @property
    def read_pj_per_bit(self) -> float:
        """Energy to read one bit (pJ/bit)."""
        return read_pj_per_64bit(self.slice_bytes, self.technology_nm) / 64.0

    @property
    def write_pj_per_bit(self) -> float:
        """Energy to write one bit (pJ/bit)."""
        return WRITE_OVER_READ * self.read_pj_per_bit

    @property
    def area_mm2(self) -> float:
        """Macro area, all slices (mm^2)."""
        cell_um2 = scale_area(BITCELL_UM2, BASIS_NODE_NM, self.technology_nm)
        return self.capacity_bytes * 8 * cell_um2 / array_efficiency(self.slice_bytes) * 1e-6
