"""SEMI2K two-party additive sharing with a trusted dealer, as SPU 0.9.5 runs it (``ProtocolKind.SEMI2K``).

Setting: 2 parties, additive shares over Z_2^64 (FM64), 18 fractional bits, semi-honest; Beaver
triples from SPU's default ``beaver_type`` (trusted first party: correlated randomness from shared
seeds, no offline messages counted). SPU's default configuration; the operation -> kernel sequences
are ``cost_models/mpc/spu.py``'s. Validated against SPU's own counters
(``tests/cost_models/mpc/spu_fixture.json``, ``test_spu.py``).

Kernels (``secretflow/spu`` ``src/libspu/mpc/semi2k/``; bytes are totals over both parties per
element; an opening is an ``allReduce``: each party sends its masked share):

==========  ======  =========================================================================
kernel      rounds  bytes (both parties) per element
==========  ======  =========================================================================
mul_aa      1       32: ``arithmetic.cc`` ``MulAA``: open ``x - a`` and ``y - b`` (8 + 8 each)
square_a    1       16: ``SquareA``: open ``x - a``
mmul_aa     1       16 (m k + k n) per product: open both operands' masks
trunc_a     1       8: ``TruncAPr2`` (``protocol.cc`` registers it for 2 parties): open
                    ``x + r`` in the truncation field FM32 (``getTruncField``), 4 each
msb_a2b     7       112: ``MsbA2B``: the carry circuit of a 64-bit adder on the two shares (one
                    AND on 64 bits, 6 levels of two ANDs on 32..1 bits), an AND opening 2 masks
a2b         7       416: ``A2B``: a 64-bit parallel prefix adder (one AND, 6 levels of two ANDs)
and_bb      1       4 x bytes of the narrower operand (``AndBB``: open both masks)
mul_a1b     1       32: ``MulA1B``: open two 64-bit masks
b2a         1       2 x bytes of the ``nbits``-bit share (``B2A_Randbit``/``B2A_Disassemble``:
                    open ``x ^ r``)
p2a         0       0: local (party 0 takes the public value)
==========  ======  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from .aby3 import carry_and_bytes, ppa_and_bytes
from .cost import ZERO, Cost
from .protocols import register
from .spu import SpuProtocol, storage_bytes

__all__ = ["Semi2k", "SEMI2K_2PC"]

W = 8  # bytes of one FM64 ring element


@dataclass(frozen=True, kw_only=True)
class Semi2k(SpuProtocol):
    """SPU's SEMI2K (2PC additive sharing, trusted dealer) with SPU's default configuration."""

    name = "semi2k-2pc"
    parties = 2
    description = ("SPU 0.9.5 SEMI2K 2PC additive sharing, trusted-dealer Beaver triples (offline not counted), "
                   "FM64, 18 fractional bits, SPU's default approximations; validated on SPU's own counters")
    sources = (
        "secretflow/spu src/libspu/mpc/semi2k/{arithmetic,conversion,boolean,protocol}.cc (kernel messages)",
        "secretflow/spu src/libspu/kernel/hal/{fxp_base,fxp_approx,ring}.cc, kernel/hlo/reduce.cc (sequences)",
        "tests/cost_models/mpc/spu_fixture.json (SPU 0.9.5's counters, measured)",
    )

    def _open(self, nbytes: float) -> float:
        """Bytes of opening ``nbytes`` of masked share per party (both parties send)."""
        return 2 * nbytes

    def mul_aa(self, n: int) -> Cost:
        return self._k("mul_aa", 1, self._open(2 * W * n), 3 * n)

    def square_a(self, n: int) -> Cost:
        return self._k("square_s", 1, self._open(W * n), 2 * n)

    def mmul_aa(self, m: int, k: int, n: int) -> Cost:
        return self._k("mmul_aa", 1, self._open(W * (m * k + k * n)), 3 * m * k * n)

    def trunc_a(self, n: int, bits: int | None = None) -> Cost:
        return self._k("trunc_a", 1, self._open(storage_bytes(32) * n), 4 * n)

    def msb_a2b(self, n: int) -> Cost:
        return self._k("msb_a2b", 7, self._open(2 * carry_and_bytes(self.ring_bits) * n), 30 * n)

    def a2b(self, n: int) -> Cost:
        return self._k("a2b", 7, self._open(2 * ppa_and_bytes(self.ring_bits) * n), 30 * n)

    def and_bb(self, n: int, nbits: int) -> Cost:
        return self._k("and_bb", 1, self._open(2 * storage_bytes(nbits) * n), 2 * n)

    def mul_a1b(self, n: int) -> Cost:
        return self._k("mul_a1b", 1, self._open(2 * W * n), 3 * n)

    def b2a(self, n: int, nbits: int) -> Cost:
        return self._k("b2a", 1, self._open(storage_bytes(nbits) * n), 2 * n)

    def p2a(self, n: int) -> Cost:
        return ZERO


SEMI2K_2PC = register(Semi2k())
