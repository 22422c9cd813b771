"""What a ``Design`` instantiates, counted once for both the energy and the area model.

A hardware block is either a :class:`Logic` (counts of primitive operators: multipliers, adders or
comparators, fp32 units, 2:1 multiplexers, flip-flops, generic gates) or an
:class:`~cost_models.sram.Sram` (an SRAM or SRAM-based FIFO). The energy model charges an event the
energy of the primitives it switches; the area model sums the areas of everything instantiated.
Both read the same structure from here, so a change to the hardware changes both.

Sizes come from the design (``hwsim.config.Design``), the paper's setup table [P] or the authors'
released RTL [R] (docs/sources.md SpAtten §2.2, §3.3, §7.1); the few that neither states are marked *assumed*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .sram import Sram
from .technology import DFF_GE, MUX2_GE, fp32, gate_area_um2, gate_energy_pj, int_add, int_mult

if TYPE_CHECKING:
    from hwsim.config import Design

__all__ = [
    "ON_CHIP_MODULES",
    "Logic",
    "HEAD_DIM",
    "FIFO_DEPTH",
    "ADDRESS_ENTRY_BYTES",
    "DATA_ENTRY_BYTES",
    "FETCH_PORTS_PER_CHANNEL",
    "CONVERTER_MUX_LEVELS",
    "REQUANT_ENTRIES_PER_LINE",
    "REQUEST_DESCRIPTOR_BITS",
    "IMPORTANCE_BITS",
    "QK_ADD_EXTRA_BITS",
    "PV_ADD_EXTRA_BITS",
    "CONTROLLER_GE",
    "SOFTMAX_FP32_OPS",
    "key_buffer_keys",
    "requant_entries",
    "fetch_ports",
    "channel_bytes_per_cycle",
    "topk_element_bits",
    "requant_entry_bits",
    "has_topk",
    "has_importance",
    "topk_engines",
    "has_progressive_quantization",
    "memories",
    "zero_eliminator",
    "crossbar_path_levels",
]

ON_CHIP_MODULES: tuple[str, ...] = (
    "qk",
    "pv",
    "softmax",
    "pq",
    "topk",
    "importance",
    "fetcher",
    "key_sram",
    "value_sram",
    "requant_buffer",
)
"""On-chip modules, named after the paper's Fig. 8 blocks (docs/sources.md SpAtten §2.1); the keys shared by the
energy and the area breakdowns."""

HEAD_DIM = 64
"""Head dimension the arrays are laid out for (elements): D = 64 in every model SpAtten evaluates;
sizes the query register. [P] §2.2."""

FIFO_DEPTH = 64
"""Depth of every fetcher and crossbar-port FIFO (entries). [P] table 'Architectural Setups'."""

ADDRESS_ENTRY_BYTES = 8
"""Width of one address FIFO entry (bytes): '32 x (64-deep x 8 B) address FIFOs'. [P]"""

DATA_ENTRY_BYTES = 16
"""Width of one data FIFO entry (bytes): '32 x (64-deep x 16 B) data FIFOs'. [P]"""

FETCH_PORTS_PER_CHANNEL = 2
"""Fetcher ports per HBM channel: 32 ports for 16 channels, scaled together in the RTL
(``numMatrixFetcherChannel`` = 32, ``SpAttenConfigScaledown``). [P] 32 x 16 crossbar, [R]."""

CONVERTER_MUX_LEVELS = 9
"""2:1 multiplexer levels a data bit crosses in the bit-width converter: log2(128) = 7 barrel-shift
levels for unaligned addresses plus a 4:1 select among the 4/6/8/12-bit formats. Assumed structure
for '[P]: MUXes and a shifter'."""

REQUANT_ENTRIES_PER_LINE = 16
"""Requant buffer rows per key-buffer line: ``sizeRequantBuffer = numBufferLines * 16``, where a
line holds as many keys as a row holds scores. [R] SpAttenController.scala, stageRequantBuffer."""

REQUEST_DESCRIPTOR_BITS = 64
"""Bits of the request descriptor stored with every requant-buffer entry (``RequestEx``: addresses,
buffer address, batch and part ids). Assumed; the RTL bundle's exact width depends on its metadata."""

IMPORTANCE_BITS = 32
"""Width of a cumulative token/head importance score and of its accumulator (bits). Assumed
(fixed point wide enough to sum 12-bit probabilities over ~1e5 rows without overflow)."""

QK_ADD_EXTRA_BITS = 1
"""Q x K adder-tree adders are costed (2 x datapath_bits + 1) bits wide: the adder-count-weighted
mean width of a binary tree over 2b-bit products (level l adds (2b + l - 1)-bit operands; half the
adders are at level 1). Derived."""

PV_ADD_EXTRA_BITS = 2
"""Prob x V adders are costed (2 x datapath_bits + 2) bits wide: 8-way trees plus accumulation
across cycles (assumed mix: 7 tree adds at 2b + 1 bits per accumulate at about 2b + 10 bits)."""

CONTROLLER_GE = 100_000
"""Control FSMs, buffer managers, request FIFOs and counters not counted elsewhere (gate
equivalents). Assumed; the paper gives no breakdown."""

SOFTMAX_FP32_OPS: dict[str, int] = {
    # dequantize (one scale that also folds 1/sqrt(D), [P]), re-quantize, and the final
    # multiply x * (1/s) of the division
    "mult": 3,
    # exp as a 5th-order Taylor polynomial in Horner form on FMA units ([P]: 5 FMAs), plus the
    # division "on an FPU" ([P]) as a Newton-Raphson reciprocal, 2 iterations x 2 FMAs (assumed)
    "fma": 9,
    # accumulate the row sum of the exponentials
    "add": 1,
}
"""fp32 operations per softmax output element. Energy charges one of each per element; area
instantiates one pipelined unit per operation per lane (fully pipelined, ``softmax.parallelism``
elements per cycle)."""


@dataclass(frozen=True)
class Logic:
    """A block of logic as counts of primitive operators (widths in bits).

    :meth:`energy_pj` is the energy when every primitive switches once; :meth:`area_um2` the area of
    all of them (cell area, before placement utilisation).
    """

    adds: tuple[tuple[float, float], ...] = ()  # (count, bits): adders, subtractors, comparators
    mults: tuple[tuple[float, float], ...] = ()  # (count, bits): bits x bits integer multipliers
    fp32_ops: tuple[tuple[float, str], ...] = ()  # (count, "add" | "mult" | "fma")
    mux2: float = 0.0  # 2:1 multiplexers (count)
    dff: float = 0.0  # flip-flops (count)
    ge: float = 0.0  # other gates (gate equivalents)

    def __add__(self, other: Logic) -> Logic:
        return Logic(
            self.adds + other.adds,
            self.mults + other.mults,
            self.fp32_ops + other.fp32_ops,
            self.mux2 + other.mux2,
            self.dff + other.dff,
            self.ge + other.ge,
        )

    def times(self, k: float) -> Logic:
        """This block replicated ``k`` times."""
        return Logic(
            tuple((n * k, b) for n, b in self.adds),
            tuple((n * k, b) for n, b in self.mults),
            tuple((n * k, op) for n, op in self.fp32_ops),
            self.mux2 * k,
            self.dff * k,
            self.ge * k,
        )

    def _total(self, node_nm: float, attr: str, gate) -> float:
        total = sum(n * getattr(int_add(b, node_nm), attr) for n, b in self.adds)
        total += sum(n * getattr(int_mult(b, node_nm), attr) for n, b in self.mults)
        total += sum(n * getattr(fp32(op, node_nm), attr) for n, op in self.fp32_ops)
        return total + gate(self.mux2 * MUX2_GE + self.dff * DFF_GE + self.ge, node_nm)

    def energy_pj(self, node_nm: float) -> float:
        """Energy when every primitive switches once (pJ)."""
        return self._total(node_nm, "energy_pj", gate_energy_pj)

    def area_um2(self, node_nm: float) -> float:
        """Cell area of all primitives (um^2)."""
        return self._total(node_nm, "area_um2", gate_area_um2)


def key_buffer_keys(design: Design) -> int:
    """Keys the key SRAM holds (count): ``key_bytes`` over HEAD_DIM words of ``datapath_bits``
    (2048 for the full design: 2 x 1024 double-buffered, [P] §2.2). The RTL sizes its score FIFO
    (``numBufferLines`` rows of ``numSoftMaxUnit`` scores) and its requant buffer
    (``numBufferLines * 16`` rows) by this number of keys."""
    return max(1, design.sram.key_bytes * 8 // (HEAD_DIM * design.datapath_bits))


def fetch_ports(design: Design) -> int:
    """Fetcher ports (count) = FETCH_PORTS_PER_CHANNEL x HBM channels (32 for the full design)."""
    return FETCH_PORTS_PER_CHANNEL * design.hbm.channels


def channel_bytes_per_cycle(design: Design) -> float:
    """Bytes one HBM channel delivers per clock cycle (bytes/cycle): 32 at 32 GB/s and 1 GHz."""
    return design.hbm.channel_gbytes_per_s / design.clock_ghz


def topk_element_bits(design: Design) -> int:
    """Bits of one top-k element: the score plus an index into the largest selection
    ([R] ``TopKElement = {score, index}``)."""
    return design.topk.width_bits + max(1, math.ceil(math.log2(design.topk.max_n)))


def requant_entries(design: Design) -> int:
    """Rows the requant buffer holds (count): REQUANT_ENTRIES_PER_LINE scores per buffered key, in
    rows of ``softmax.parallelism`` probabilities (4096 for the full design, as the RTL's
    ``numBufferLines * 16`` with 256 lines of 8 keys)."""
    return max(1, REQUANT_ENTRIES_PER_LINE * key_buffer_keys(design) // design.softmax.parallelism)


def requant_entry_bits(design: Design) -> int:
    """Bits of one requant-buffer row: ``softmax.parallelism`` probabilities, the request
    descriptor and the ``num_requant_before_this`` counter ([R] ``BufferedRequest``)."""
    counter_bits = max(1, math.ceil(math.log2(requant_entries(design))))
    return design.softmax.parallelism * design.datapath_bits + REQUEST_DESCRIPTOR_BITS + counter_bits


def has_topk(design: Design) -> bool:
    """Whether the design instantiates top-k engines (any pruning feature)."""
    f = design.features
    return f.token_pruning or f.head_pruning or f.local_v_pruning


def topk_engines(design: Design) -> int:
    """Top-k engines the design instantiates (count): one for token/head pruning and one for local V
    when ``topk.engines = 2`` and both are supported; one shared engine when ``topk.engines = 1``;
    none without pruning features."""
    f = design.features
    needed = int(f.token_pruning or f.head_pruning) + int(f.local_v_pruning)
    return min(design.topk.engines, needed)


def has_importance(design: Design) -> bool:
    """Whether the design instantiates the token/head importance accumulators."""
    return design.features.token_pruning or design.features.head_pruning


def has_progressive_quantization(design: Design) -> bool:
    """Whether the design instantiates the max-probability check and the requant buffer."""
    return design.features.progressive_quantization


def memories(design: Design) -> dict[str, Sram]:
    """Every distinct on-chip memory of the design, one instance each (see area.py for counts)."""
    node = design.technology_nm
    b = design.datapath_bits
    elem = topk_element_bits(design)
    t, s = design.topk, design.softmax
    requant_bits = requant_entry_bits(design)
    channel_bytes = channel_bytes_per_cycle(design)
    return {
        # K and V buffers: one line of `multipliers` words per access ([P] §2.2, [R] Buffer.scala)
        "key_sram": Sram(design.sram.key_bytes, design.qk.multipliers * b, node),
        "value_sram": Sram(design.sram.value_bytes, design.pv.multipliers * b, node),
        # FIFO_L / FIFO_R: max_n elements each, `lanes` per row ([P] Algorithm 1: 64 rows of 16, [R] QuickSelect)
        "topk_partition_fifo": Sram(t.max_n * elem / 8, t.lanes * elem, node),
        # the original stream kept for the filter pass: max_n elements, in_lanes per row ([R] TopK data_fifo)
        "topk_data_fifo": Sram(t.max_n * elem / 8, t.in_lanes * elem, node),
        # softmax input FIFO: fifo_depth rows of `parallelism` fp32 exponentials (a whole row waits
        # for its sum) ([P] 'FIFO depth 128; parallelism 8')
        "softmax_fifo": Sram(s.fifo_depth * s.parallelism * 4, s.parallelism * 32, node),
        # scores held while the row maximum is found, one per buffered key ([R] RequantDecision fifo_scores)
        "pq_score_fifo": Sram(key_buffer_keys(design) * b / 8, s.parallelism * b, node),
        # rows that follow a re-quantised row wait here ([R] stageRequantBuffer)
        "requant_buffer": Sram(requant_entries(design) * requant_bits / 8, requant_bits, node),
        # cumulative token scores, one per selectable token, read `parallelism` at a time (assumed layout)
        "importance_buffer": Sram(t.max_n * IMPORTANCE_BITS / 8, s.parallelism * IMPORTANCE_BITS, node),
        # per fetcher port ([P]) and per HBM-side crossbar port ('each port has a 64-deep FIFO')
        "address_fifo": Sram(FIFO_DEPTH * ADDRESS_ENTRY_BYTES, ADDRESS_ENTRY_BYTES * 8, node),
        "data_fifo": Sram(FIFO_DEPTH * DATA_ENTRY_BYTES, DATA_ENTRY_BYTES * 8, node),
        "channel_address_fifo": Sram(FIFO_DEPTH * ADDRESS_ENTRY_BYTES, ADDRESS_ENTRY_BYTES * 8, node),
        "channel_data_fifo": Sram(FIFO_DEPTH * channel_bytes, channel_bytes * 8, node),
    }


def zero_eliminator(lanes: int, elem_bits: int) -> Logic:
    """A zero eliminator compacting ``lanes`` elements of ``elem_bits`` (docs/sources.md SpAtten §3.3, [R]
    ZeroEliminator.scala): a Hillis-Steele prefix sum of the drop flags (lanes x log2(lanes) adders
    of log2(lanes) + 1 bits), log2(lanes) shifter levels of lanes 2:1 multiplexers per bit, and a
    realign stage (one multiplexer and one flip-flop per bit)."""
    levels = math.ceil(math.log2(lanes)) if lanes > 1 else 0
    return Logic(
        adds=((lanes * levels, levels + 1),) if levels else (),
        mux2=levels * lanes * elem_bits + lanes * elem_bits,
        dff=lanes * elem_bits,
    )


def crossbar_path_levels(inputs: int) -> int:
    """2:1 multiplexer levels on one path through an ``inputs``-to-1 crossbar column (count)."""
    return max(1, math.ceil(math.log2(inputs))) if inputs > 1 else 0

