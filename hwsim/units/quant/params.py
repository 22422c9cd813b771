"""The one parameter object of quantization: how a policy on a design stores Q, K, V and P."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import HwsimError
from ..common import check_fraction, check_int

__all__ = ["QuantParams"]


@dataclass(frozen=True, kw_only=True)
class QuantParams:
    """Stored bit-widths of Q/K/V, the K LSB plane re-fetched on demand, and the probability width.

    SpAtten §3.4 (progressive quantization) and §4 (linear symmetric quantization, one scale per
    tensor; probabilities re-quantized to fixed point before prob x V).

    Parameters
    ----------
    query_bits, key_bits, value_bits : int
        Stored widths (bits, 2..32); ``key_bits`` is the MSB plane fetched first when progressive.
    key_lsb_bits : int
        Extra LSB bits of K re-fetched when a row's max probability is below ``threshold``
        (bits, 0..30; 0 = not progressive).
    prob_bits : int
        Fixed-point probability width for prob x V (bits): the datapath width.
    threshold : float
        Max-probability threshold of the LSB re-fetch (probability, 0..1).
    """

    query_bits: int = 12
    key_bits: int = 12
    key_lsb_bits: int = 0
    value_bits: int = 12
    prob_bits: int = 12
    threshold: float = 1.0

    def __post_init__(self) -> None:
        for name in ("query_bits", "key_bits", "value_bits", "prob_bits"):
            check_int(f"quantization {name}", getattr(self, name), 2, 32)
        check_int("quantization key_lsb_bits", self.key_lsb_bits, 0, 30)
        check_fraction("quantization threshold", self.threshold)

    @classmethod
    def from_design(cls, design, policy) -> "QuantParams":
        """Resolve ``policy.quantization`` on ``design`` (``mode = none`` stores everything at the datapath width)."""
        q = policy.quantization
        width = design.datapath_bits
        if q.mode == "none":
            return cls(query_bits=width, key_bits=width, value_bits=width, prob_bits=width)
        if q.mode == "static":
            return cls(query_bits=q.query_bits, key_bits=q.key_bits, value_bits=q.value_bits, prob_bits=width)
        return cls(query_bits=q.query_bits, key_bits=q.key_bits, key_lsb_bits=q.lsb_bits, value_bits=q.value_bits,
                   prob_bits=width, threshold=q.threshold)

    @property
    def progressive(self) -> bool:
        """Whether LSBs of K may be re-fetched."""
        return self.key_lsb_bits > 0

    @property
    def key_total_bits(self) -> int:
        """Width of a key with both planes (bits)."""
        return self.key_bits + self.key_lsb_bits

    def check_head_dim(self, head_dim: int) -> None:
        """Raise :class:`HwsimError` unless every stored vector of ``head_dim`` elements is whole bytes."""
        for name, bits in (("queries", self.query_bits), ("keys", self.key_bits), ("values", self.value_bits),
                           ("key LSB planes", self.key_lsb_bits)):
            if (head_dim * bits) % 8:
                raise HwsimError(f"head dimension {head_dim} at {bits}-bit {name} is not a whole number of bytes")
