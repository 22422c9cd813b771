"""The protocol interface and the registry of protocol models.

A protocol model prices every operation of :data:`cost_models.mpc.ops.OPS` from its shape.
Subclasses implement one method per shape kind family (element-wise ops on ``n`` values, row ops on
``rows x m``, matmuls ``b x m x k x n``, linear attention ``b x tokens x head_dim``); this base class
checks the operation name and shape and dispatches.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Sequence

from hwsim.errors import HwsimError

from .cost import Cost
from .ops import OPS, check_shape

__all__ = ["Protocol", "PROTOCOLS", "get_protocol", "register", "op_cost"]


class Protocol(ABC):
    """An MPC protocol as a table of per-operation costs (functions of shapes and the ring).

    Class attributes: ``name`` (registry key), ``parties``, ``ring_bits``, ``fraction_bits``,
    ``description`` (one line) and ``sources`` (where each constant comes from).
    """

    name: str = ""
    parties: int = 2
    ring_bits: int = 64
    fraction_bits: int = 16
    description: str = ""
    sources: tuple[str, ...] = ()

    def cost(self, op: str, shape: Sequence[int]) -> Cost:
        """Return the :class:`Cost` of ``op`` on ``shape`` for one party.

        Raises :class:`HwsimError` for an unknown op or a shape that does not fit it.
        """
        dims = check_shape(op, shape)
        kind = OPS[op].kind
        if kind == "elements":
            return self.elementwise(op, math.prod(dims))
        if kind == "rows":
            return self.rowwise(op, math.prod(dims[:-1]), dims[-1])
        if kind == "matmul":
            b, m, k, n = (1, *dims) if len(dims) == 3 else dims
            return self.matmul(op, b, m, k, n)
        b, t, d = (1, *dims) if len(dims) == 2 else dims
        return self.linear_attention(b, t, d)

    @abstractmethod
    def elementwise(self, op: str, n: int) -> Cost:
        """Cost of element-wise ``op`` on ``n`` secret values."""

    @abstractmethod
    def rowwise(self, op: str, rows: int, m: int) -> Cost:
        """Cost of ``op`` along rows of length ``m`` (``rows`` of them)."""

    @abstractmethod
    def matmul(self, op: str, b: int, m: int, k: int, n: int) -> Cost:
        """Cost of ``b`` products of an ``m x k`` secret and a ``k x n`` (secret or public) matrix."""

    @abstractmethod
    def linear_attention(self, b: int, tokens: int, head_dim: int) -> Cost:
        """Cost of ``q (k^T v) / tokens`` for ``b`` heads of ``tokens x head_dim`` secrets."""

    def __post_init__(self) -> None:
        """Check that every integer parameter of a dataclass subclass is positive."""
        for name, value in vars(self).items():
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, not {value}")

    def __repr__(self) -> str:
        return f"<protocol {self.name}: {self.parties} parties, Z_2^{self.ring_bits}>"


PROTOCOLS: dict[str, Protocol] = {}


def register(protocol: Protocol) -> Protocol:
    """Add ``protocol`` to :data:`PROTOCOLS` under its name and return it."""
    PROTOCOLS[protocol.name] = protocol
    return protocol


def get_protocol(name: str | Protocol) -> Protocol:
    """Return the registered protocol ``name``; raise a one-line :class:`HwsimError` if unknown."""
    if isinstance(name, Protocol):
        return name
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise HwsimError(f"unknown MPC protocol {name!r}; expected one of: {', '.join(PROTOCOLS)}") from None


def op_cost(op: str, shape: Sequence[int], protocol: str | Protocol = "crypten-2pc") -> Cost:
    """Return the cost of ``op`` on ``shape`` under ``protocol`` (a registered name or object)."""
    return get_protocol(protocol).cost(op, shape)
