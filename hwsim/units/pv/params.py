"""The one parameter object of the prob x V array: it configures its golden and timing views."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import check_int
from ..qk.params import array_rate

__all__ = ["PVParams", "PV_LATENCY_CYCLES"]

#: Pipeline depth of the prob x V array (cycles): read, multiply, accumulate (the authors'
#: ``bert.cpp`` "V 1+1+1"; SpAtten, Wang et al., HPCA 2021, §4 module 11).
PV_LATENCY_CYCLES = 3


@dataclass(frozen=True, kw_only=True)
class PVParams:
    """The attention_prob x V array (SpAtten §4, module 11).

    Parameters
    ----------
    multipliers : int
        Multipliers in the array (count, 1..8192). Paper: 512.
    head_dim : int
        Elements per V vector (count); must divide ``multipliers``.
    prob_bits : int
        Fixed-point width of the probabilities fed to the array (bits, 2..32): the datapath width.
    latency_cycles : int
        Pipeline depth (cycles).
    """

    multipliers: int = 512
    head_dim: int = 64
    prob_bits: int = 12
    latency_cycles: int = PV_LATENCY_CYCLES

    def __post_init__(self) -> None:
        check_int("prob x V multipliers", self.multipliers, 1, 8192)
        check_int("prob x V prob_bits", self.prob_bits, 2, 32)
        check_int("prob x V latency_cycles", self.latency_cycles, 0, 10_000)
        array_rate(self.multipliers, self.head_dim, unit="prob x V")

    @classmethod
    def from_design(cls, design, head_dim: int) -> "PVParams":
        """The array of a :class:`hwsim.config.Design` (``design.pv``, ``datapath_bits``)."""
        return cls(multipliers=design.pv.multipliers, head_dim=head_dim, prob_bits=design.datapath_bits)

    @property
    def values_per_cycle(self) -> int:
        """V vectors the array accumulates per cycle (vectors/cycle) = multipliers / head_dim."""
        return self.multipliers // self.head_dim
