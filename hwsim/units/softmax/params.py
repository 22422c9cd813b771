"""The one parameter object of the softmax unit and its progressive-quantization check."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import check_int

__all__ = ["SoftmaxParams", "PQ_DECISION_CYCLES"]

#: Cycles the requantization decision adds after the last probability (the authors' ``bert.cpp``
#: "requant 1"; released RTL ``RequantDecision.scala``: a max tree over the streamed probabilities).
PQ_DECISION_CYCLES = 1


@dataclass(frozen=True, kw_only=True)
class SoftmaxParams:
    """The floating-point softmax unit (SpAtten §4, module 8) and the PQ decision (module 9).

    Parameters
    ----------
    parallelism : int
        Probabilities produced per cycle (count, 1..64). Paper: 8.
    pipeline_cycles : int
        Depth of dequant + exp + accumulate + divide + quant (cycles). ``bert.cpp``: 87.
    fifo_depth : int
        Rows of ``parallelism`` exponentials its FIFO holds while the row's sum accumulates
        (entries, 1..65536). Paper: 128.
    decision_cycles : int
        Cycles the max-probability check adds (cycles).
    """

    parallelism: int = 8
    pipeline_cycles: int = 87
    fifo_depth: int = 128
    decision_cycles: int = PQ_DECISION_CYCLES

    def __post_init__(self) -> None:
        check_int("softmax parallelism", self.parallelism, 1, 64)
        check_int("softmax pipeline_cycles", self.pipeline_cycles, 0, 100_000)
        check_int("softmax fifo_depth", self.fifo_depth, 1, 65536)
        check_int("softmax decision_cycles", self.decision_cycles, 0, 1000)

    @classmethod
    def from_design(cls, design) -> "SoftmaxParams":
        """The unit of a :class:`hwsim.config.Design` (``design.softmax``)."""
        s = design.softmax
        return cls(parallelism=s.parallelism, pipeline_cycles=s.latency_cycles, fifo_depth=s.fifo_depth)

    @property
    def latency_cycles(self) -> int:
        """Cycles from a row's last score in to its last probability (and PQ decision) out (cycles)."""
        return self.pipeline_cycles + self.decision_cycles

    @property
    def row_capacity(self) -> int:
        """Longest row (scores) whose exponentials the FIFO holds until the sum is known (count)."""
        return self.fifo_depth * self.parallelism
