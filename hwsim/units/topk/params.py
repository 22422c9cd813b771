"""The one parameter object of the top-k engine: it configures the golden, timing and RTL views."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import HwsimError
from ..common import check_int

__all__ = ["TopKParams", "LFSR_BITS", "LFSR_TAPS", "LFSR_STEPS_PER_DRAW", "OVERLAPS", "check_power_of_two", "lfsr_init"]

#: Width of the pivot LFSR (bits). A 16-bit Galois LFSR, right-shifting, with the maximal-length
#: tap mask 0xB400 (x^16 + x^14 + x^13 + x^11 + 1, period 65535); our choice, see golden.py.
LFSR_BITS = 16
LFSR_TAPS = 0xB400
#: Shifts per pivot draw: every round takes a fresh 16-bit word (16 steps, unrolled in hardware).
LFSR_STEPS_PER_DRAW = 16

#: Largest selection (elements): 64 lanes x 65536 FIFO rows, the limits of ``design.topk``.
MAX_N_LIMIT = 64 * 65536
MAX_SEED = 2**32 - 1

#: How consecutive requests overlap on one engine (``TopKParams.overlap``, ``design.topk.overlap``):
#: "none" one request at a time; "filter" the filter of a request overlaps the fill of the next
#: (the released RTL, ``QuickSelect.scala``); "full" fill, quick-select and filter as three stages.
OVERLAPS = ("none", "filter", "full")


def check_power_of_two(name: str, value: object, lo: int = 1, hi: int = 64) -> int:
    """Return ``value`` if it is a power of two from ``lo`` to ``hi``, else raise :class:`HwsimError`."""
    if type(value) is not int or not (lo <= value <= hi and value & (value - 1) == 0):
        raise HwsimError(f"{name} must be a power of two from {lo} to {hi}, not {value!r}")
    return value


def lfsr_init(seed: int) -> int:
    """The LFSR state loaded at the start of every request: ``seed % 65535 + 1`` (never zero)."""
    return seed % (2**LFSR_BITS - 1) + 1


@dataclass(frozen=True, kw_only=True)
class TopKParams:
    """Parameters of one quick-select top-k engine (SpAtten, HPCA 2021, §4 "Top-k engine").

    Defaults are the paper's engine: 16 comparators per comparator array and FIFO_L/FIFO_R of
    64 rows (Table "Architectural Setups", docs/sources.md SpAtten §2.2, so ``max_n`` = 1024),
    12-bit scores (the 12-bit datapath, §2.2) and 8 scores per cycle from the Q x K module
    (512 multipliers / head dim 64, §2.3).

    Parameters
    ----------
    lanes : int
        Comparators per comparator array = elements partitioned per cycle = zero-eliminator width
        (power of two, 1..64).
    width : int
        Score width in bits (2..32). Scores are unsigned integers ``0 .. 2**width - 1``.
    max_n : int
        Largest number of scores in one request (elements, 1..4194304). The three buffers (the
        original stream, FIFO_L, FIFO_R) hold ``rows = ceil(max_n / lanes)`` rows of ``lanes``.
    in_lanes : int
        Scores per beat of the input stream (power of two, 1..64).
    seed : int
        Seed of the pivot LFSR (0..2**32-1), reloaded at the start of every request.
    overlap : {"none", "filter", "full"}
        How consecutive requests share the engine (:data:`OVERLAPS`; stage services in
        :func:`hwsim.units.topk.timing.stage_services`). "filter" is the engine as the authors
        built it (``mit-han-lab/spatten``, ``spatten_hardware/hardware/src/main/scala/spatten/utils/
        QuickSelect.scala``: input is accepted only in ``stateFill`` (:147, :164), so fill and
        quick-select run one after the other; the result is registered (``io.resp <-< response``,
        :142) and the data FIFO holds the stream, so the filter of one request overlaps the fill
        of the next). "none": one request at a time. "full": fill, quick-select and filter as
        three pipeline stages (double-buffered; beyond the released RTL).
    """

    lanes: int = 16
    width: int = 12
    max_n: int = 1024
    in_lanes: int = 8
    seed: int = 0
    overlap: str = "filter"

    def __post_init__(self) -> None:
        check_power_of_two("Top-k lanes", self.lanes)
        check_int("Top-k score width", self.width, 2, 32)
        check_int("Top-k max_n", self.max_n, 1, MAX_N_LIMIT)
        check_power_of_two("Top-k in_lanes", self.in_lanes)
        check_int("Top-k seed", self.seed, 0, MAX_SEED)
        if self.overlap not in OVERLAPS:
            raise HwsimError(f"Top-k overlap must be one of {', '.join(OVERLAPS)}, not {self.overlap!r}")

    @classmethod
    def from_design(cls, design, *, seed: int = 0) -> "TopKParams":
        """The engine of a :class:`hwsim.config.Design`: its ``topk`` table (lanes, in_lanes, width, max_n, overlap)."""
        t = design.topk
        return cls(lanes=t.lanes, width=t.width_bits, max_n=t.max_n, in_lanes=t.in_lanes, seed=seed,
                   overlap=t.overlap)

    @property
    def rows(self) -> int:
        """Depth of each buffer in rows of ``lanes`` elements (rows)."""
        return -(-self.max_n // self.lanes)

    @property
    def index_bits(self) -> int:
        """Width of an element index ``0 .. max_n - 1`` (bits)."""
        return max(1, (self.max_n - 1).bit_length())

    @property
    def count_bits(self) -> int:
        """Width of a count ``0 .. max_n`` (bits): k, n and the partition sizes."""
        return self.max_n.bit_length()

    @property
    def max_score(self) -> int:
        """Largest score (unsigned ``width``-bit)."""
        return (1 << self.width) - 1

    @property
    def lfsr_init(self) -> int:
        """LFSR state at the start of every request."""
        return lfsr_init(self.seed)

    def describe(self) -> str:
        """One line naming the parameters, e.g. for CLI output and build directory names."""
        return (f"lanes={self.lanes} in_lanes={self.in_lanes} width={self.width} max_n={self.max_n} seed={self.seed} "
                f"overlap={self.overlap}")
