"""ABY3 three-party replicated sharing as SPU 0.9.5 runs it (``ProtocolKind.ABY3``, FM64).

Setting: 3 parties, 2-out-of-3 replicated secret sharing, semi-honest, honest majority, ring
Z_2^64, 18 fractional bits; SPU's default configuration (``cost_models/mpc/spu.py`` gives the
operation -> kernel sequences). Validated against SPU itself: ``tests/cost_models/mpc/spu_fixture.json``
(SPU's own per-kernel profiles, three parties as processes over brpc) and ``test_spu.py``.

Kernels (``secretflow/spu`` ``src/libspu/mpc/aby3/``; bytes are totals over the 3 parties per
element; a ``rotate`` sends one share to the next party: 8 bytes from each of the 3 parties):

============  ======  ======================================================================
kernel        rounds  bytes (all parties) per element
============  ======  ======================================================================
mul_aa        1       24: ``arithmetic.cc`` ``MulAA``, one ``rotate``
mmul_aa       1       24 per *output* element (``MatMulAA``: one ``rotate`` of the product)
trunc_a       2       16 + 3w, w = 4 (FM32) for shifts <= 32 bits: ``TruncAPr2`` (the one
                      ``protocol.cc`` registers under ``ENABLE_PRECISE_ABY3_TRUNCPR``): P2 sends
                      the adjusted ``c1`` (w) while P0 and P1 exchange ``x+a``, ``y+b`` (w each,
                      ``PrivateMul``, ``getTruncField``), then P0 and P1 exchange the 2-to-3
                      re-sharing (8 each)
msb_a2b       8       108: ``conversion.cc`` ``MsbA2B``: a ``rotate`` (24), then the carry of a
                      64-bit adder: one AND on 64 bits and 6 levels of two ANDs on 32, 16, 8,
                      4, 2, 1 bits (stored in 4, 2, 1, 1, 1, 1 bytes): 3 x (8 + 20)
a2b           8       336: ``A2B``: a ``rotate`` (24) and a 64-bit parallel prefix adder
                      (``wrap_add_bb``: one AND and 6 levels of two ANDs, all 64-bit: 3 x 104)
and_bb        1       3 x bytes of the narrower operand (``AndBB``: one ``rotate``)
mul_a1b       2       64: two 3-party OTs (sender 16, helper 8, receiver forwards 8, each)
b2a <= 8 bit  2       24 b + 8: ``B2AByOT`` (``B2ASelector``): helper 8 b, sender 16 b, receiver 8
b2a > 8 bit   10      368: ``B2AByPPA``: ``rotate`` (24), the 64-bit adder (312), a reveal to P0
                      (8), a ``rotate`` (24); 1 + 7 + 1 + 1 rounds
p2a           1       24: ``P2A`` (one ``rotate`` of a zero share)
============  ======  ======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from .cost import Cost
from .protocols import register
from .spu import SpuProtocol, storage_bytes

__all__ = ["Aby3", "ABY3_3PC"]

W = 8  # bytes of one FM64 ring element


def carry_and_bytes(ring_bits: int = 64) -> int:
    """Bytes one party's ANDs open in ``MsbA2B``'s carry circuit: one AND on ``K`` bits, then per
    level two ANDs on ``K/2, K/4, ..., 1`` bits (each at least one byte)."""
    total = storage_bytes(ring_bits)
    width = ring_bits // 2
    while width >= 1:
        total += 2 * storage_bytes(width)
        width //= 2
    return total


def ppa_and_bytes(ring_bits: int = 64) -> int:
    """Bytes one party's ANDs open in a ``K``-bit parallel prefix adder: one AND, then log2 K levels
    of two ANDs, all ``K`` bits wide."""
    levels = ring_bits.bit_length() - 1
    return storage_bytes(ring_bits) * (1 + 2 * levels)


@dataclass(frozen=True, kw_only=True)
class Aby3(SpuProtocol):
    """SPU's ABY3 (3PC replicated sharing) with SPU's default configuration."""

    name = "aby3-3pc"
    parties = 3
    description = ("SPU 0.9.5 ABY3 3PC replicated sharing (semi-honest, honest majority), FM64, 18 fractional "
                   "bits, SPU's default approximations; kernel costs from SPU's source, validated on SPU's own counters")
    sources = (
        "secretflow/spu src/libspu/mpc/aby3/{arithmetic,conversion,boolean,protocol}.cc (kernel messages)",
        "secretflow/spu src/libspu/kernel/hal/{fxp_base,fxp_approx,ring}.cc, kernel/hlo/reduce.cc (sequences)",
        "tests/cost_models/mpc/spu_fixture.json (SPU 0.9.5's counters, measured)",
    )

    def _rot(self, n: int) -> int:
        """Bytes of one ``rotate`` of ``n`` ring elements (every party sends one share)."""
        return 3 * W * n

    def mul_aa(self, n: int) -> Cost:
        return self._k("mul_aa", 1, self._rot(n), 3 * n)

    def square_a(self, n: int) -> Cost:  # ABY3 registers no square kernel: _square is _mul(x, x)
        return self.mul_aa(n)

    def mmul_aa(self, m: int, k: int, n: int) -> Cost:
        return self._k("mmul_aa", 1, self._rot(m * n), 3 * m * k * n)

    def trunc_a(self, n: int, bits: int | None = None) -> Cost:
        w = storage_bytes(32) if (bits or self.fraction_bits) <= 32 else W
        return self._k("trunc_a", 2, (2 * W + 3 * w) * n, 4 * n)

    def msb_a2b(self, n: int) -> Cost:
        return self._k("msb_a2b", 8, self._rot(n) + 3 * carry_and_bytes(self.ring_bits) * n, 30 * n)

    def a2b(self, n: int) -> Cost:
        return self._k("a2b", 8, self._rot(n) + 3 * ppa_and_bytes(self.ring_bits) * n, 30 * n)

    def and_bb(self, n: int, nbits: int) -> Cost:
        return self._k("and_bb", 1, 3 * storage_bytes(nbits) * n, 2 * n)

    def mul_a1b(self, n: int) -> Cost:
        return self._k("mul_a1b", 2, 2 * (2 * W + W + W) * n, 8 * n)

    def b2a(self, n: int, nbits: int) -> Cost:
        if nbits <= 8:
            return self._k("b2a", 2, (3 * W * nbits + W) * n, 4 * nbits * n)
        return self._k("b2a", 10, (2 * self._rot(1) + 3 * ppa_and_bytes(self.ring_bits) + W) * n, 40 * n)

    def p2a(self, n: int) -> Cost:
        return self._k("p2a", 1, self._rot(n), n)


ABY3_3PC = register(Aby3())
