"""Area of a design, per module, at the design's technology node.

Each module is the sum of its logic (``cost_models.inventory.Logic``: Horowitz arithmetic areas and
Nangate gate equivalents, divided by a placement utilisation) and its memories (the CACTI-like
``cost_models.sram`` table), at ``design.technology_nm`` (area ~ node^2 from the 45/40 nm bases,
first order; ``cost_models.technology``). One calibration factor, ``AREA_CALIBRATION``, scales every
module so that the full ``spatten`` design lands on the paper's 18.71 mm^2 (TSMC 40 nm; spatten.md
§1, §2.4); :func:`calibrate` computes it. The total of the full design is then calibrated; the
module split, the other designs and the other nodes are predictions.

Modules follow the paper's Fig. 8 numbering (docs/sources.md SpAtten §2.1): ``qk`` (7, multipliers and adder
tree), ``pv`` (11), ``softmax`` (8), ``pq`` (9, max-probability check), ``topk`` (2 and 10, both
engines), ``importance`` (1 and 12), ``fetcher`` (3-6: crossbars, FIFOs, bit-width converter),
``key_sram`` and ``value_sram`` (7, 11), ``requant_buffer`` (the RTL's queue behind a re-quantised
row), ``controller`` (everything else). Blocks a design's ``features`` do not need are absent
(``dense``: no top-k, importance, check or requant buffer).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import inventory as inv
from .inventory import Logic

if TYPE_CHECKING:
    from hwsim.config import Design

__all__ = [
    "AREA_MODULES",
    "STD_CELL_UTILIZATION",
    "AREA_CALIBRATION",
    "PAPER_AREA_MM2",
    "PAPER_TOPK_AREA_SHARE",
    "area_mm2",
    "calibrate",
]

AREA_MODULES: tuple[str, ...] = inv.ON_CHIP_MODULES + ("controller",)
"""Module keys of :func:`area_mm2`'s result: the on-chip modules and everything else (controller)."""

STD_CELL_UTILIZATION = 0.7
"""Cell area / placed area of standard-cell logic (fraction). Assumed: a typical placement
utilisation; SRAM macros carry their own array efficiency instead."""

AREA_CALIBRATION = 2.953135
"""Factor on every module's area: ``calibrate()``, the full ``spatten`` design onto 18.71 mm^2
(docs/energy-area.md; pinned by tests/cost_models/test_calibration.py)."""

PAPER_AREA_MM2 = 18.71
"""SpAtten full-design area, TSMC 40 nm (mm^2). [P] macros, docs/sources.md SpAtten §1."""

PAPER_TOPK_AREA_SHARE = 0.027
"""Top-k engines' share of the area ("2.7 % of area"). [P] §5, docs/sources.md SpAtten §1."""


def _terms(design: Design) -> list[tuple[str, str, float]]:
    """(module, component, mm^2) terms of the uncalibrated area; component is 'logic' or 'sram'."""
    node = design.technology_nm
    b = design.datapath_bits
    mem = inv.memories(design)
    t, s = design.topk, design.softmax
    ports, channels = inv.fetch_ports(design), design.hbm.channels
    terms: list[tuple[str, str, float]] = []

    def logic(module: str, block: Logic) -> None:
        terms.append((module, "logic", block.area_um2(node) / STD_CELL_UTILIZATION * 1e-6))

    def sram(module: str, name: str, copies: float = 1) -> None:
        terms.append((module, "sram", copies * mem[name].area_mm2))

    # (7) Q x K: multipliers, the reconfigurable adder tree, the query register
    qk, pv = design.qk.multipliers, design.pv.multipliers
    logic("qk", Logic(mults=((qk, b),), adds=((qk, 2 * b + inv.QK_ADD_EXTRA_BITS),), dff=inv.HEAD_DIM * b))
    sram("key_sram", "key_sram")
    # (11) prob x V: multipliers, adder trees and accumulators
    logic("pv", Logic(mults=((pv, b),), adds=((pv, 2 * b + inv.PV_ADD_EXTRA_BITS),)))
    sram("value_sram", "value_sram")
    # (8) softmax: one pipelined fp32 unit per operation per lane, and its row FIFO
    logic("softmax", Logic(fp32_ops=tuple((n * s.parallelism, op) for op, n in inv.SOFTMAX_FP32_OPS.items())))
    sram("softmax", "softmax_fifo")
    if inv.has_progressive_quantization(design):
        # (9) max tree over a row of probabilities + running max register; scores wait in a FIFO
        logic("pq", Logic(adds=((s.parallelism, b),), dff=b))
        sram("pq", "pq_score_fifo")
        sram("requant_buffer", "requant_buffer")
    if inv.has_topk(design):
        # (2, 10) per engine: two comparator arrays of `lanes`, two zero eliminators for the
        # partitions; the filter pass compares `in_lanes` elements with theta (< and ==) and
        # compacts them with a third zero eliminator. FIFO_L, FIFO_R and the data FIFO.
        elem = inv.topk_element_bits(design)
        engine = (
            Logic(adds=((2 * t.lanes + 2 * t.in_lanes, t.width_bits),))
            + inv.zero_eliminator(t.lanes, elem).times(2)
            + inv.zero_eliminator(t.in_lanes, elem)
        )
        engines = inv.topk_engines(design)
        logic("topk", engine.times(engines))
        sram("topk", "topk_partition_fifo", 2 * engines)
        sram("topk", "topk_data_fifo", engines)
    if inv.has_importance(design):
        # (1, 12) accumulate a row of probabilities into the token scores
        logic("importance", Logic(adds=((s.parallelism, inv.IMPORTANCE_BITS),)))
        sram("importance", "importance_buffer")
    # (3-6) fetcher: address crossbar ports -> channels, data crossbar channels -> ports (mux trees),
    # the bit-width converter per port, FIFOs per port and per channel-side crossbar port
    address_xbar = channels * (ports - 1) * inv.ADDRESS_ENTRY_BYTES * 8
    data_xbar = ports * (channels - 1) * inv.DATA_ENTRY_BYTES * 8
    converter = ports * inv.DATA_ENTRY_BYTES * 8 * inv.CONVERTER_MUX_LEVELS
    logic("fetcher", Logic(mux2=address_xbar + data_xbar + converter))
    sram("fetcher", "address_fifo", ports)
    sram("fetcher", "data_fifo", ports)
    sram("fetcher", "channel_address_fifo", channels)
    sram("fetcher", "channel_data_fifo", channels)
    logic("controller", Logic(ge=inv.CONTROLLER_GE))
    return terms


def area_mm2(design: Design, *, calibration: float | None = None) -> dict[str, float]:
    """Return the area of ``design`` in mm^2 at ``design.technology_nm``.

    Keys: every module of ``AREA_MODULES`` (0.0 when the design lacks it), ``logic`` and ``sram``
    (the same area split by kind) and ``total``. ``calibration`` scales every term; ``None`` uses
    ``AREA_CALIBRATION``.
    """
    factor = AREA_CALIBRATION if calibration is None else float(calibration)
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"area calibration must be a finite number > 0, got {calibration!r}")
    result = dict.fromkeys(AREA_MODULES + ("logic", "sram"), 0.0)
    for module, component, mm2 in _terms(design):
        result[module] += factor * mm2
        result[component] += factor * mm2
    result["total"] = result["logic"] + result["sram"]
    return result


def calibrate(design: Design) -> float:
    """Return the factor that puts ``design``'s total area on the paper's 18.71 mm^2.

    ``design`` is the ``spatten`` preset (the paper's full design), the only design the paper's
    figure is for. The factor is absolute (computed from the uncalibrated area).
    """
    return PAPER_AREA_MM2 / area_mm2(design, calibration=1.0)["total"]
