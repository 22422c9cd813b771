"""The one parameter object of the Q x K array: it configures its golden and timing views."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import HwsimError
from ..common import check_int

__all__ = ["QKParams", "QK_LATENCY_CYCLES", "array_rate"]

#: Pipeline depth of the Q x K array (cycles): SRAM read 1 + multiply 1 + adder tree 9
#: (the authors' ``bert.cpp`` drain model; SpAtten, Wang et al., HPCA 2021, §4 module 7).
QK_LATENCY_CYCLES = 11


def array_rate(multipliers: int, head_dim: int, *, unit: str) -> int:
    """Vectors a broadcast-multiply-reduce array of ``multipliers`` handles per cycle for ``head_dim``.

    Raises :class:`HwsimError` when ``head_dim`` cannot be mapped (it must divide ``multipliers``).
    """
    if type(head_dim) is not int or head_dim < 1 or head_dim > multipliers or multipliers % head_dim:
        raise HwsimError(
            f"head dimension {head_dim}: the {unit} array of {multipliers} multipliers cannot map it "
            f"(expected a divisor of {multipliers})"
        )
    return multipliers // head_dim


@dataclass(frozen=True, kw_only=True)
class QKParams:
    """The Q x K broadcast-multiply-reduce array (SpAtten §4, module 7).

    Parameters
    ----------
    multipliers : int
        Multipliers in the array (count, 1..8192). Paper: 512.
    head_dim : int
        Elements per query/key vector (count); must divide ``multipliers``.
    latency_cycles : int
        Pipeline depth from a key line entering to its scores leaving (cycles).
    """

    multipliers: int = 512
    head_dim: int = 64
    latency_cycles: int = QK_LATENCY_CYCLES

    def __post_init__(self) -> None:
        check_int("Q x K multipliers", self.multipliers, 1, 8192)
        check_int("Q x K latency_cycles", self.latency_cycles, 0, 10_000)
        array_rate(self.multipliers, self.head_dim, unit="Q x K")

    @classmethod
    def from_design(cls, design, head_dim: int) -> "QKParams":
        """The array of a :class:`hwsim.config.Design` (``design.qk``) for heads of ``head_dim``."""
        return cls(multipliers=design.qk.multipliers, head_dim=head_dim)

    @property
    def keys_per_cycle(self) -> int:
        """Keys whose scores the array computes per cycle (keys/cycle) = multipliers / head_dim."""
        return self.multipliers // self.head_dim
