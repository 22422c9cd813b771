"""ABY3 three-party replicated sharing as SPU runs it, with PUMA's approximations.

Setting: 3 parties, 2-out-of-3 replicated secret sharing, semi-honest, honest majority, ring
Z_2^64 (``FM64``), 18 fractional bits (SPU's FM64 default), as in PUMA's BERT/GPT-2 benchmarks
(``AntCPLab/puma_benchmarks/puma_bert_benchmarks/3pc.json``: ``protocol: ABY3``, ``field: FM64``,
``fxp_exp_mode: 0``, ``fxp_exp_iters: 5``; compiler flag ``enable_optimize_denominator_with_broadcast``
rewrites ``x / bcast(y)`` as ``x * bcast(1 / y)``).

Kernel costs (rounds, bits each party sends per element, ``K`` = ring bits) are SPU's own cost
table, ``secretflow/spu docs/reference/complexity.md`` ("dumped from the source code ... could be
used as a formal cost model"), ABY3 section:

==========  ==================  =======================
kernel      rounds              bits sent per element
==========  ==================  =======================
a2p         1                   K
mul_aa      1                   K
mmul_aa     1                   K per *output* element
trunc_a     3                   4K (``TruncAPr``, the one ``aby3/protocol.cc`` registers)
and_bb      1                   K
a2b         log2(K) + 2         log2(K) K + 2K
==========  ==================  =======================

and, for the kernels the table leaves out (``libspu/mpc/aby3/``):

* ``b2a`` (``conversion.cc`` ``B2ASelector``): up to 8 bits by 3-party OT, 2 rounds and 4K bits
  (``B2AByOT`` comment); wider values by a parallel prefix adder, 3 + log2(K) rounds and
  2 K log2(K) + 3K bits (``B2AByPPA`` comment).
* ``msb_a2b`` (``conversion.cc`` ``MsbA2B``): a rotate plus the carry of a prefix adder, the same
  structure as ``a2b``; priced as ``a2b``.
* ``mul_a1b`` (``arithmetic.cc`` ``MulA1B``, multiply by a shared bit): 2 rounds, recorded as
  ``8 * numel * 8`` bytes, i.e. 8K bits per element.

Operations are SPU's ``libspu/kernel/hal`` sequences executed one kernel after another (SPU's
interpreter runs the ops of a program in order), every fixed-point product being ``mul_aa`` then
``trunc_a`` (``fxp_base.cc`` ``f_mul``) and every product with a public non-integer ``trunc_a`` only.
Unlike CrypTen's 2PC, division by a public constant is **not** free here (3 rounds). This is a
kernel-level accounting of those sequences, not a replay of an SPU run: SPU can fuse or reorder some
kernels, so treat its totals as estimates (same order as PUMA's published 3PC numbers, docs/mpc.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cost import ZERO, Cost
from .protocols import Protocol, register

__all__ = ["Aby3", "ABY3_3PC"]


@dataclass(frozen=True, kw_only=True)
class Aby3(Protocol):
    """SPU ABY3 (3PC replicated sharing) with PUMA's approximations; ``ring_bits`` is K."""

    ring_bits: int = 64  # FM64 (puma 3pc.json "field": "FM64")
    fraction_bits: int = 18  # SPU's default fxp_fraction_bits for FM64
    exp_iters: int = 5  # puma 3pc.json "fxp_exp_iters": 5 (Taylor (1 + x/2^5)^(2^5))
    goldschmidt_iters: int = 2  # SPU default fxp_div_goldschmidt_iters

    name = "aby3-3pc"
    parties = 3
    description = ("SPU ABY3 3PC replicated sharing (semi-honest, honest majority), FM64, 18 fractional bits, "
                   "PUMA's approximations; kernel costs from SPU's complexity table")
    sources = (
        "secretflow/spu docs/reference/complexity.md (ABY3 kernel rounds and bits)",
        "secretflow/spu libspu/mpc/aby3/{conversion,arithmetic,protocol}.cc (b2a, msb, mul_a1b, TruncAPr)",
        "secretflow/spu libspu/kernel/hal/{fxp_base,fxp_approx}.cc (f_mul, reciprocal, exp_taylor, rsqrt, tanh)",
        "AntCPLab/puma_benchmarks puma_bert_benchmarks (3pc.json; hack_softmax, hack_gelu)",
        "docs/sources.md MPC §3.3",
    )

    # ------------------------------------------------------------------ kernels (per n elements)

    @property
    def _log_k(self) -> int:
        return int(math.log2(self.ring_bits))

    def _k(self, rounds: int, k_multiple: float, n: int, work: float | None = None) -> Cost:
        bits = k_multiple * self.ring_bits * n
        return Cost(rounds, bits, (4 * k_multiple * n) if work is None else work)

    def a2p(self, n: int) -> Cost:
        return self._k(1, 1, n)

    def mul_aa(self, n: int) -> Cost:
        return self._k(1, 1, n, 3 * n)

    def trunc(self, n: int) -> Cost:
        return self._k(3, 4, n)

    def and_bb(self, n: int) -> Cost:
        return self._k(1, 1, n)

    def a2b(self, n: int) -> Cost:
        return self._k(self._log_k + 2, self._log_k + 2, n)

    msb = a2b

    def b2a(self, n: int, bits: int) -> Cost:
        if bits <= 8:
            return self._k(2, 4, n)
        return self._k(3 + self._log_k, 2 * self._log_k + 3, n)

    def mul_a1b(self, n: int) -> Cost:
        return self._k(2, 8, n)

    # ------------------------------------------------------------------ hal building blocks

    def f_mul(self, n: int) -> Cost:
        """Fixed-point secret product: ``mul_aa`` then ``trunc_a``."""
        return self.mul_aa(n) + self.trunc(n)

    def f_mul_public(self, n: int) -> Cost:
        """Product with a public non-integer (``mul_ap`` is local) then ``trunc_a``."""
        return self.trunc(n)

    def less(self, n: int) -> Cost:
        """``x < y`` (``_less``): the most significant bit of ``x - y``; a shared bit."""
        return self.msb(n)

    def mux(self, n: int) -> Cost:
        """``_mux(bit, a, b) = b + bit * (a - b)`` with a shared bit: ``mul_a1b``."""
        return self.mul_a1b(n)

    def prefix_or(self, n: int) -> Cost:
        """``_prefix_or`` on an arithmetic value: ``a2b`` then log2(K) OR levels (one AND each)."""
        return self.a2b(n) + self._log_k * self.and_bb(n)

    def polynomial(self, n: int, degree: int) -> Cost:
        """``detail::polynomial`` of ``degree`` with public coefficients: ``1 * x`` truncated, ``degree - 1``
        fixed-point products for the powers, then one truncation of the sum."""
        return self.f_mul_public(n) + (degree - 1) * self.f_mul(n) + self.trunc(n)

    def exp(self, n: int) -> Cost:
        """``exp_taylor``: ``trunc(x, iters) + 1`` then ``iters`` fixed-point squares."""
        return self.trunc(n) + self.exp_iters * self.f_mul(n)

    def reciprocal(self, n: int, *, positive: bool = False) -> Cost:
        """``reciprocal_goldschmidt`` (``fxp_base.cc``): sign by msb and mux (unless known positive),
        ``highestOneBit`` (prefix-or), bit-reversed factor converted to arithmetic (b2a of 2f bits),
        the normalised value, ``e = 1 - c w``, Goldschmidt iterations (``r = r (1 + e)`` and, but for
        the last, ``e = e^2``), ``r * factor`` and the sign mux."""
        cost = ZERO if positive else self.msb(n) + self.mux(n)
        cost = cost + self.prefix_or(n) + self.b2a(n, 2 * self.fraction_bits)
        cost = cost + self.f_mul(n) + self.f_mul(n)  # c = b * factor; e = 1 - c * w
        cost = cost + (2 * self.goldschmidt_iters - 1) * self.f_mul(n) + self.f_mul(n)
        return cost if positive else cost + self.mux(n)

    def rsqrt(self, n: int) -> Cost:
        """``f_rsqrt`` (``fxp_approx.cc``): ``z = highestOneBit(x) << 1``; the guess on ``u = x * bitrev(z)``
        (b2a of 2f bits, product, truncation) by a degree-4 polynomial; the compensation
        ``mux(parity bit, c0, c1) * bitrev(a)`` (1-bit b2a; b2a of f bits and a product); the final
        product and truncation."""
        f = self.fraction_bits
        guess = self.b2a(n, 2 * f) + self.mul_aa(n) + self.trunc(n) + self.polynomial(n, 4)
        comp = self.b2a(n, 1) + self.b2a(n, (f // 2) * 2) + self.mul_aa(n)
        return self.prefix_or(n) + guess + comp + self.mul_aa(n) + self.trunc(n)

    def tanh(self, n: int) -> Cost:
        """``tanh_chebyshev``: clamp to [-5, 5] (two comparisons and muxes), ``0.2 x``, 9 Chebyshev
        polynomials (one square and 8 products), their public combination (``f_mmul``: a truncation)."""
        clamp = 2 * (self.less(n) + self.mux(n))
        return clamp + self.f_mul_public(n) + 9 * self.f_mul(n) + self.trunc(n)

    def gelu(self, n: int) -> Cost:
        """PUMA's ``hack_gelu``: 3 comparisons, x^2, x^3, x^4, x^6 (4 products), 7 public coefficient
        products, 3 selections of the pieces by shared bits."""
        return 3 * self.less(n) + 4 * self.f_mul(n) + 7 * self.f_mul_public(n) + 3 * self.mux(n)

    def max(self, rows: int, m: int, *, with_index: bool = False) -> Cost:
        """Row maximum by a tree of ``ceil(log2 m)`` levels, each a comparison and a mux on the pairs
        (plus a mux of the indices for argmax)."""
        cost = ZERO
        cur = m
        while cur > 1:
            half = cur // 2
            level = self.less(rows * half) + self.mux(rows * half)
            if with_index:
                level = level + self.mux(rows * half)
            cost = cost + level
            cur = half + cur % 2
        return cost

    # ------------------------------------------------------------------ Protocol interface

    def elementwise(self, op: str, n: int) -> Cost:
        if op in ("mul", "square"):
            return self.f_mul(n)
        if op in ("div_public", "scaling"):
            return self.f_mul_public(n)
        if op == "gt":
            return self.less(n)
        if op == "relu":  # select(x > 0, x, 0)
            return self.less(n) + self.mux(n)
        if op == "exp":
            return self.exp(n)
        if op == "reciprocal":
            return self.reciprocal(n)
        if op == "inv_sqrt":
            return self.rsqrt(n)
        if op == "sigmoid":  # SPU's default sigmoid_mode MM1: 0.5 + 0.125 x
            return self.f_mul_public(n)
        if op == "silu":
            return self.f_mul_public(n) + self.f_mul(n)
        if op == "tanh":
            return self.tanh(n)
        if op in ("gelu_erf", "gelu_tanh"):  # PUMA replaces either form by its piecewise polynomial
            return self.gelu(n)
        if op == "gelu_quad":  # 0.125 x^2 + 0.25 x + 0.5: a square and two public products
            return self.f_mul(n) + 2 * self.f_mul_public(n)
        raise KeyError(op)

    def rowwise(self, op: str, rows: int, m: int) -> Cost:
        n = rows * m
        if op == "max":
            return self.max(rows, m)
        if op == "argmax":
            return self.max(rows, m, with_index=True)
        divide = self.reciprocal(rows) + self.f_mul(n)  # x * bcast(1 / s)
        if op == "softmax":  # hack_softmax: max, exp(x - max) * (x - max > -14), sum, divide
            return self.max(rows, m) + self.less(n) + self.exp(n) + self.mux(n) + divide
        if op == "relu_softmax":
            return self.less(n) + self.mux(n) + divide
        if op == "quad2":
            return self.f_mul(n) + divide
        if op in ("layernorm", "rmsnorm"):
            mean = self.f_mul_public(rows) if op == "layernorm" else ZERO
            # centred square, variance = sum * (1/m), rsqrt, normalise, * gamma (+ beta is local)
            return (mean + self.f_mul(n) + self.f_mul_public(rows) + self.rsqrt(rows) + self.f_mul(n)
                    + self.f_mul(n))
        raise KeyError(op)

    def matmul(self, op: str, b: int, m: int, k: int, n: int) -> Cost:
        out = b * m * n
        if op == "matmul_public":  # mmul_ap is local; the product is truncated
            return self.trunc(out) + Cost(0, 0, b * m * k * n)
        return Cost(1, self.ring_bits * out, 2 * b * m * k * n) + self.trunc(out)

    def linear_attention(self, b: int, tokens: int, head_dim: int) -> Cost:
        return (self.matmul("matmul", b, head_dim, tokens, head_dim)
                + self.matmul("matmul", b, tokens, head_dim, head_dim) + self.f_mul_public(b * tokens * head_dim))


ABY3_3PC = register(Aby3())
