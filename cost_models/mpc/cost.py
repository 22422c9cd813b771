"""The cost of one MPC operation for one party: rounds, bits sent, local ring operations.

A :class:`Cost` is additive (``a + b`` is ``a`` then ``b``: rounds add, because every framework
modelled here runs its protocol steps one after another) and scales by an integer (``3 * c`` is
``c`` three times in sequence). Byte counts follow CrypTen's communication logger
(``crypten/communicator/communicator.py``, ``_logging``): each party logs what it sends **plus**
what it receives, so for a symmetric protocol ``bytes = 2 * sent_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cost", "ZERO"]


def _num(x: float) -> float | int:
    """Return ``x`` as an int when it is integral (exact counts stay ints in JSON)."""
    if isinstance(x, int):
        return x
    return int(x) if float(x).is_integer() else x


@dataclass(frozen=True, slots=True)
class Cost:
    """Rounds, bits one party sends and local 64-bit ring operations one party performs.

    ``rounds``: communication rounds (CrypTen counts one per collective call).
    ``sent_bits``: bits one party sends (ring elements x ring bits).
    ``local_ops``: ring word operations (multiply-accumulates, ANDs, XORs) one party does locally;
    an estimate used only for the compute term of the latency.
    Values are ints for whole operations; a fraction of heads (MPCViT's mixed attention) can make
    them fractional.
    """

    rounds: float = 0
    sent_bits: float = 0
    local_ops: float = 0

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(
            _num(self.rounds + other.rounds),
            _num(self.sent_bits + other.sent_bits),
            _num(self.local_ops + other.local_ops),
        )

    def __mul__(self, k: float) -> "Cost":
        """Repeat the operation ``k`` times in sequence (rounds, bits and work all scale)."""
        return Cost(_num(self.rounds * k), _num(self.sent_bits * k), _num(self.local_ops * k))

    __rmul__ = __mul__

    def scaled(self, *, rounds: float = 1.0, volume: float = 1.0) -> "Cost":
        """Scale the rounds by ``rounds`` and the bits and work by ``volume`` separately."""
        return Cost(_num(self.rounds * rounds), _num(self.sent_bits * volume), _num(self.local_ops * volume))

    @property
    def sent_bytes(self) -> float:
        """Bytes one party sends (bytes)."""
        return _num(self.sent_bits / 8)

    @property
    def bytes(self) -> float:
        """Bytes one party sends plus receives, as CrypTen's logger counts them (bytes)."""
        return _num(self.sent_bits / 4)

    def as_dict(self) -> dict:
        """Return ``{"rounds", "bytes", "sent_bytes", "local_ops"}`` (units: count, bytes, bytes, ops)."""
        return {"rounds": self.rounds, "bytes": self.bytes, "sent_bytes": self.sent_bytes,
                "local_ops": self.local_ops}


ZERO = Cost()
