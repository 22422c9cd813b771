"""Energy of a run from the events the simulator counts, per module and per component (logic, SRAM, DRAM).

The simulator counts events (``EVENTS``: multiplies, softmax elements, SRAM bytes, HBM bytes, ...);
:func:`energy_pj` multiplies each count by the energy of one event, split into terms that each
belong to one module (``qk``, ``softmax``, ``topk``, ``key_sram``, ``hbm``, ...) and one component
(``logic``, ``sram``, ``dram``), and applies one calibration factor per component. The energy of one
event is built from published per-operation costs (``cost_models.technology``), the CACTI-like SRAM
table (``cost_models.sram``) and the HBM2 energy per bit, for the design's widths, sizes and node
(``cost_models.inventory``). Dynamic energy only: leakage and the clock tree are not modelled and
are absorbed by the calibration factors (docs/energy-area.md).

Calibration puts a reference run (the authors' GPT-2-Small trace replayed on the full design) on
the paper's power split (SpAtten, HPCA 2021: 1.36 W logic + 1.24 W SRAM + 5.71 W DRAM;
docs/sources.md SpAtten §1, §2.4). What the per-operation costs leave out of logic and SRAM power (leakage,
clock tree, wires) does not grow with activity, so it is modelled as **static power per mm^2** of
logic and of SRAM (``LOGIC_STATIC_W_PER_MM2``, ``SRAM_STATIC_W_PER_MM2``, from
:func:`calibrate_static`), charged for the run's duration on the design's area; the HBM energy
per bit gets a factor (``DRAM_CALIBRATION``). The totals of the reference run are calibrated;
every split and every other design or workload is a prediction. :func:`calibrate` gives the
alternative of one factor per component on dynamic energy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from . import inventory as inv
from .inventory import Logic
from .area import area_mm2
from .technology import gate_energy_pj, int_add

if TYPE_CHECKING:
    from hwsim.config import Design

__all__ = [
    "EVENTS",
    "MODULES",
    "COMPONENTS",
    "HBM_PJ_PER_BIT",
    "LOGIC_CALIBRATION",
    "SRAM_CALIBRATION",
    "DRAM_CALIBRATION",
    "LOGIC_STATIC_W_PER_MM2",
    "SRAM_STATIC_W_PER_MM2",
    "PAPER_POWER_W",
    "PAPER_TOTAL_POWER_W",
    "PAPER_TOPK_POWER_SHARE",
    "unit_energies_pj",
    "energy_pj",
    "power_w",
    "calibrate",
    "calibrate_static",
    "static_power_w",
]

EVENTS: dict[str, str] = {
    "qk_mults": "multiplies in the Q x K array, datapath_bits x datapath_bits integer (count)",
    "pv_mults": "multiplies in the prob x V array, datapath_bits x datapath_bits integer (count)",
    "qk_adds": "additions in the Q x K reconfigurable adder tree (count)",
    "pv_adds": "additions in the prob x V adder trees and accumulators (count)",
    "softmax_elements": "probabilities produced by the softmax (count); each costs its fp32 operations "
    "(dequantize, 5th-order Taylor exp on FMAs, accumulate, divide, re-quantize) and passes the "
    "max-probability score FIFO and the requant buffer",
    "pq_compares": "comparisons of the progressive-quantization max reduction (count)",
    "topk_compare_cycles": "cycles a top-k engine is busy partitioning, summed over engines (cycles); "
    "each drives 2 comparator arrays of topk.lanes comparators, 2 zero eliminators and one "
    "FIFO_L/FIFO_R read and write of topk.lanes elements",
    "key_sram_write_bytes": "bytes written into the key SRAM (bytes)",
    "key_sram_read_bytes": "bytes read from the key SRAM (bytes)",
    "value_sram_write_bytes": "bytes written into the value SRAM (bytes)",
    "value_sram_read_bytes": "bytes read from the value SRAM (bytes)",
    "fifo_bytes": "bytes through the fetcher's address/data FIFOs, crossbars and bit-width converter (bytes)",
    "hbm_read_bytes": "bytes moved on the HBM bus (bytes)",
    "importance_adds": "token and head importance accumulations (count); each reads and writes one score",
}
"""The events the simulator counts: name -> what one unit is (unit in parentheses)."""

MODULES: tuple[str, ...] = inv.ON_CHIP_MODULES + ("hbm", "static_logic", "static_sram")
"""Module keys of :func:`energy_pj`'s result: the on-chip modules, the off-chip HBM, and the
static energy of the logic and of the SRAMs (nonzero only when ``seconds`` is given)."""

COMPONENTS: tuple[str, ...] = ("logic", "sram", "dram")
"""Component keys of :func:`energy_pj`'s result: the paper's power split."""

HBM_PJ_PER_BIT = 3.9
"""HBM2 energy per bit moved, activation + on-die data movement + I/O (pJ/bit). O'Connor et al.,
"Fine-Grained DRAM: Energy-Efficient DRAM for Extreme Bandwidth Systems", MICRO 2017, HBM2
baseline: the figure is **recalled**, not verified (the abstract, verified, says FGDRAM improves
DRAM energy efficiency 2x over HBM2). SpAtten took its HBM energy from the same paper (per-op
energies x Ramulator activations/reads, docs/sources.md SpAtten §2.4). Off-chip: not scaled with the logic node."""

LOGIC_CALIBRATION = 1.0
"""Factor on every dynamic logic term: 1.0, the per-operation costs as published; what they leave
out is static power (``LOGIC_STATIC_W_PER_MM2``)."""

SRAM_CALIBRATION = 1.0
"""Factor on every dynamic SRAM/FIFO term: 1.0, as LOGIC_CALIBRATION."""

DRAM_CALIBRATION = 1.654953
"""Factor on the HBM term: ``calibrate_static(...)["dram"]`` of the reference run, the authors'
GPT-2-Small trace (``summary-gpt2-small-wikitext2-per8.csv``) replayed on the full ``spatten``
design with seed 0 (docs/energy-area.md; pinned by tests/cost_models/test_calibration.py)."""

LOGIC_STATIC_W_PER_MM2 = 0.162166
"""Static power of logic per mm^2 of (calibrated) logic area (W/mm^2): leakage, clock tree and
wires. ``calibrate_static(...)["logic_static_w_per_mm2"]`` of the reference run (as DRAM_CALIBRATION)."""

SRAM_STATIC_W_PER_MM2 = 0.043364
"""Static power of SRAMs and FIFOs per mm^2 of (calibrated) SRAM area (W/mm^2), as
LOGIC_STATIC_W_PER_MM2."""

PAPER_POWER_W: dict[str, float] = {"logic": 1.36, "sram": 1.24, "dram": 5.71}
"""SpAtten's power split, full design (W). [P] tab_power, docs/sources.md SpAtten §1. Sums to 8.31 W."""

PAPER_TOTAL_POWER_W = 8.30
"""SpAtten's total power as printed (W); the rounded parts sum to 8.31 W."""

PAPER_TOPK_POWER_SHARE = 0.010
"""Top-k engines' share of overall power ("only 1.0 % of overall power"). [P] §5, docs/sources.md SpAtten §1."""

Term = tuple[str, str, float]  # (module, component, pJ per event)


def _memory_traffic_pj(sram, bits: float) -> float:
    """Energy to write and later read ``bits`` through a FIFO-like memory (pJ)."""
    return bits * (sram.write_pj_per_bit + sram.read_pj_per_bit)


def unit_energies_pj(design: Design) -> dict[str, tuple[Term, ...]]:
    """Energy of one unit of every event for ``design``: event -> ((module, component, pJ), ...).

    Calibration factors are not applied. The terms' sum is the event's energy; see ``EVENTS`` and
    docs/energy-area.md for what each term counts.
    """
    node = design.technology_nm
    b = design.datapath_bits
    mem = inv.memories(design)
    t = design.topk
    elem_bits = inv.topk_element_bits(design)

    softmax_ops = Logic(fp32_ops=tuple((n, op) for op, n in inv.SOFTMAX_FP32_OPS.items()))
    per_element_requant_bits = inv.requant_entry_bits(design) / design.softmax.parallelism
    topk_logic = Logic(adds=((2 * t.lanes, t.width_bits),)) + inv.zero_eliminator(t.lanes, elem_bits).times(2)
    # a fetched byte crosses the data crossbar (one column of a channels-to-1 mux tree) and the converter
    fetch_mux_levels = inv.crossbar_path_levels(design.hbm.channels) + inv.CONVERTER_MUX_LEVELS

    def per_byte(name: str, kind: str) -> float:
        sram = mem[name]
        return 8 * (sram.read_pj_per_bit if kind == "read" else sram.write_pj_per_bit)

    return {
        "qk_mults": (("qk", "logic", Logic(mults=((1, b),)).energy_pj(node)),),
        "pv_mults": (("pv", "logic", Logic(mults=((1, b),)).energy_pj(node)),),
        "qk_adds": (("qk", "logic", int_add(2 * b + inv.QK_ADD_EXTRA_BITS, node).energy_pj),),
        "pv_adds": (("pv", "logic", int_add(2 * b + inv.PV_ADD_EXTRA_BITS, node).energy_pj),),
        "softmax_elements": (
            ("softmax", "logic", softmax_ops.energy_pj(node)),
            ("pq", "sram", _memory_traffic_pj(mem["pq_score_fifo"], b)),
            ("requant_buffer", "sram", _memory_traffic_pj(mem["requant_buffer"], per_element_requant_bits)),
        ),
        "pq_compares": (("pq", "logic", int_add(b, node).energy_pj),),
        "topk_compare_cycles": (
            ("topk", "logic", topk_logic.energy_pj(node)),
            ("topk", "sram", _memory_traffic_pj(mem["topk_partition_fifo"], t.lanes * elem_bits)),
        ),
        "key_sram_write_bytes": (("key_sram", "sram", per_byte("key_sram", "write")),),
        "key_sram_read_bytes": (("key_sram", "sram", per_byte("key_sram", "read")),),
        "value_sram_write_bytes": (("value_sram", "sram", per_byte("value_sram", "write")),),
        "value_sram_read_bytes": (("value_sram", "sram", per_byte("value_sram", "read")),),
        "fifo_bytes": (
            ("fetcher", "logic", 8 * gate_energy_pj(fetch_mux_levels * inv.MUX2_GE, node)),
            (
                "fetcher",
                "sram",
                _memory_traffic_pj(mem["data_fifo"], 8) + _memory_traffic_pj(mem["channel_data_fifo"], 8),
            ),
        ),
        "hbm_read_bytes": (("hbm", "dram", 8 * HBM_PJ_PER_BIT),),
        "importance_adds": (
            ("importance", "logic", int_add(inv.IMPORTANCE_BITS, node).energy_pj),
            ("importance", "sram", _memory_traffic_pj(mem["importance_buffer"], inv.IMPORTANCE_BITS)),
        ),
    }


def _default_calibration() -> dict[str, float]:
    return {"logic": LOGIC_CALIBRATION, "sram": SRAM_CALIBRATION, "dram": DRAM_CALIBRATION}


def _check_events(events: Mapping[str, float]) -> dict[str, float]:
    counts = {}
    for name, value in events.items():
        if name not in EVENTS:
            raise ValueError(f"unknown energy event {name!r}; expected one of {sorted(EVENTS)}")
        count = float(value)
        if not math.isfinite(count) or count < 0:
            raise ValueError(f"energy event {name!r} must be a finite count >= 0, got {value!r}")
        counts[name] = count
    return counts


def _check_calibration(calibration: Mapping[str, float]) -> dict[str, float]:
    if set(calibration) != set(COMPONENTS):
        raise ValueError(f"calibration must have exactly the keys {list(COMPONENTS)}, got {sorted(calibration)}")
    factors = {c: float(calibration[c]) for c in COMPONENTS}
    for c, f in factors.items():
        if not math.isfinite(f) or f <= 0:
            raise ValueError(f"calibration factor {c!r} must be a finite number > 0, got {calibration[c]!r}")
    return factors


def static_power_w(design: Design, *, logic_w_per_mm2: float | None = None,
                   sram_w_per_mm2: float | None = None) -> dict[str, float]:
    """Static power of ``design`` (W): ``{"logic", "sram"}`` = density x the design's area of each."""
    area = area_mm2(design)
    logic = LOGIC_STATIC_W_PER_MM2 if logic_w_per_mm2 is None else logic_w_per_mm2
    sram = SRAM_STATIC_W_PER_MM2 if sram_w_per_mm2 is None else sram_w_per_mm2
    return {"logic": logic * area["logic"], "sram": sram * area["sram"]}


def energy_pj(
    events: Mapping[str, float], design: Design, *, calibration: Mapping[str, float] | None = None,
    seconds: float | None = None, static: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Return the energy of ``events`` on ``design`` in pJ, by module, by component and in total.

    ``events`` maps names of ``EVENTS`` to counts (missing names count 0). ``calibration`` maps
    ``logic``/``sram``/``dram`` to factors on the dynamic terms; ``None`` uses the module constants
    (``LOGIC_CALIBRATION``, ...). With ``seconds`` (the run's duration), the static power of the
    design's logic and SRAM area is added for that long (modules ``static_logic``/``static_sram``);
    ``static`` overrides the densities (``{"logic": W/mm^2, "sram": W/mm^2}``). The result has
    every key of ``MODULES`` and ``COMPONENTS`` and ``total``; modules sum to ``total`` and so do
    components.

    Raises ``ValueError`` on an unknown event name or a negative or non-finite count (programming
    errors of the caller, not user input).
    """
    counts = _check_events(events)
    factors = _check_calibration(_default_calibration() if calibration is None else calibration)
    result = dict.fromkeys(MODULES + COMPONENTS, 0.0)
    units = unit_energies_pj(design)
    for name, count in counts.items():
        for module, component, pj in units[name]:
            e = count * pj * factors[component]
            result[module] += e
            result[component] += e
    if seconds is not None:
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        densities = static or {}
        watts = static_power_w(design, logic_w_per_mm2=densities.get("logic"), sram_w_per_mm2=densities.get("sram"))
        for component, w in watts.items():
            result[f"static_{component}"] += w * seconds * 1e12
            result[component] += w * seconds * 1e12
    result["total"] = sum(result[c] for c in COMPONENTS)
    return result


def power_w(energy: Mapping[str, float], seconds: float) -> dict[str, float]:
    """Convert an :func:`energy_pj` result into average power over ``seconds`` (W), same keys."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a finite number > 0, got {seconds!r}")
    return {key: pj * 1e-12 / seconds for key, pj in energy.items()}


def calibrate(events: Mapping[str, float], seconds: float, design: Design) -> dict[str, float]:
    """Return the factors that put this run on the paper's power split.

    With ``f = calibrate(events, seconds, design)``,
    ``power_w(energy_pj(events, design, calibration=f), seconds)`` gives 1.36 W logic, 1.24 W SRAM
    and 5.71 W DRAM (``PAPER_POWER_W``). The factors are absolute (computed from uncalibrated
    energies), so they do not depend on the constants currently set. Meant for the reference run:
    the authors' GPT-2-Small trace replayed on the full ``spatten`` design.
    """
    raw = power_w(energy_pj(events, design, calibration=dict.fromkeys(COMPONENTS, 1.0)), seconds)
    factors = {}
    for c in COMPONENTS:
        if raw[c] <= 0:
            raise ValueError(f"cannot calibrate {c!r}: the run has no {c} energy")
        factors[c] = PAPER_POWER_W[c] / raw[c]
    return factors


def calibrate_static(events: Mapping[str, float], seconds: float, design: Design) -> dict[str, float]:
    """Return the static densities and HBM factor that put this run on the paper's power split.

    Logic and SRAM: ``(paper W - dynamic W of the run) / area of that kind`` (W/mm^2), with the
    per-operation costs uncalibrated; DRAM: ``paper W / dynamic W``. With
    ``c = calibrate_static(events, seconds, design)``, ``power_w(energy_pj(events, design,
    calibration={"logic": 1, "sram": 1, "dram": c["dram"]}, seconds=seconds, static={"logic":
    c["logic_static_w_per_mm2"], "sram": c["sram_static_w_per_mm2"]}), seconds)`` gives 1.36 W
    logic, 1.24 W SRAM and 5.71 W DRAM. Absolute (independent of the constants in force). Raises
    ``ValueError`` when a component's dynamic power already exceeds the paper's.
    """
    raw = power_w(energy_pj(events, design, calibration=dict.fromkeys(COMPONENTS, 1.0)), seconds)
    area = area_mm2(design)
    out = {}
    for c in ("logic", "sram"):
        residual = PAPER_POWER_W[c] - raw[c]
        if residual < 0:
            raise ValueError(f"cannot calibrate {c!r}: the run's dynamic power {raw[c]:.3g} W exceeds the paper's")
        out[f"{c}_static_w_per_mm2"] = residual / area[c]
    if raw["dram"] <= 0:
        raise ValueError("cannot calibrate 'dram': the run has no dram energy")
    out["dram"] = PAPER_POWER_W["dram"] / raw["dram"]
    return out
