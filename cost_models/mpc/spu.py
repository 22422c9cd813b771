"""SecretFlow SPU 0.9.5 as it runs jax programs: the operation -> MPC kernel sequences, shared by protocols.

SPU executes a compiled program one operation after another; each operation runs its
``libspu/kernel/hal`` function, which calls MPC kernels (``mul_aa``, ``trunc_a``, ``msb_a2b``, ...)
one after another. The kernel sequences below follow SPU's source (``secretflow/spu`` tag
``0.9.5rc2``; files relative to ``src/libspu/``) and jax 0.4.34's lowering of the jax functions
that ``tests/cost_models/mpc/spu_fixture.py`` runs; they are the same for every protocol, except
where SPU dispatches on which kernels a protocol registers (``square_a`` exists in SEMI2K only).
A protocol subclass prices each kernel (``kernel/hal`` is protocol independent; ``mpc/<protocol>``
is not).

Configuration: SPU's defaults (``core/config.cc`` ``populateRuntimeConfig``): FM64, 18 fractional
bits, ``fxp_exp_iters`` 8 (Taylor), ``fxp_div_goldschmidt_iters`` 2, ``sigmoid_mode`` REAL.

Counting conventions. ``Cost.sent_bits`` is the **average** over parties of what one party sends
(SPU's truncation and B2A pick a random pivot party per call, so one party's traffic varies from
run to run; the total over parties does not): ``total bytes = sent_bytes * parties``, the number
the fixture ``tests/cost_models/mpc/spu_fixture.json`` records as ``send_bytes``. SPU counts send
actions, not rounds; the rounds of each kernel are read from its source (the dependency chain of
its messages) and the rounds of an operation are the sum over its kernel calls.

Operation -> kernels (``f_mul`` = ``mul_aa`` + ``trunc_a``; ``n`` elements):

* product with a public non-integer (``x * 0.5``, ``x / 3``): ``trunc_a``.
* ``x < y`` (``hal/fxp_base.cc`` ``f_less`` -> ``_less``): ``msb_a2b`` of ``x - y``; a select
  with that bit (``_mux``, ``jnp.maximum``, ``jnp.where``): ``mul_a1b``.
* ``exp`` (``hal/fxp_approx.cc`` ``exp_taylor``): ``trunc_a`` by ``iters`` bits, then ``iters``
  squares (``f_square``: ``square_a`` or ``mul_aa``, then ``trunc_a``).
* reciprocal / division (``hal/fxp_base.cc`` ``reciprocal_goldschmidt``, ``div_goldschmidt_general``):
  sign by ``msb_a2b``, made arithmetic by a 1-bit ``b2a``, ``|b|`` by a ``mul_aa``;
  ``highestOneBit`` (``_prefix_or``: ``a2b`` then 6 ``and_bb`` on widths 63, 62, 60, 56, 48,
  32 bits, ``hal/ring.cc``); the bit-reversed factor made arithmetic (``b2a`` of 2f = 36 bits);
  Goldschmidt: ``c = b factor``, ``e = 1 - c w``, then per iteration ``r = r (1 + e)`` and, but
  for the last, ``e = e^2``; ``r * a`` (division only), ``r * factor``; the sign mux (``mul_aa``).
* ``rsqrt`` (``hal/fxp_approx.cc`` ``f_rsqrt``): ``highestOneBit``; ``x * bitrev(z)`` (``b2a`` of
  36 bits, ``mul_aa``, ``trunc_a``); the degree-4 polynomial (``detail::polynomial``: ``x^2``
  then ``x^3, x^4`` in one batched ``f_mul`` of ``2 n`` values (``vmap``), then ``trunc_a``);
  the compensation ``mux(parity, c0, c1) * bitrev(a)`` (1-bit ``b2a``; ``b2a`` of 18 bits and a
  ``mul_aa``); ``r * comp`` (``mul_aa`` + ``trunc_a``).
* ``tanh`` (``tanh_chebyshev``): clamp to [-5, 5] (2 x (``msb_a2b`` + ``mul_a1b``)), ``0.2 x``,
  ``x^2`` (``f_square``), 8 ``f_mul`` for the Chebyshev terms, the public combination ``f_mmul``
  (``trunc_a``).
* row reductions (``kernel/hlo/reduce.cc`` ``TreeReduce``): ``len`` halves (``len /= 2``) with one
  reducer call on ``rows x half`` per level; every odd length leaves a tail reduced at the end
  (one call on ``rows`` each). A max reducer is ``less`` + select. jax's ``softmax`` passes
  ``initial=-inf`` (``jax/_src/nn/functions.py``), one more reducer call on ``rows``. Every
  distinct scalar init value of a program is made secret once (``p2a``; XLA merges equal
  constants): 2 in softmax (-inf, 0), 1 in the other row ops. Denominators are broadcast before
  the division (jax ``x / s[..., None]``), so divisions run on all ``n`` elements.
* ``gelu_erf`` (``jax.nn.gelu(approximate=False)``): jax lowers ``lax.erf`` (f32) to XLA's
  erf/erfc rational approximations; the program SPU runs has 23 secret products, 5 public
  products, ``abs`` (``msb_a2b``, 1-bit ``b2a``, ``mul_aa``), 4 comparisons, 4 selects, one
  ``exp`` and 2 reciprocals (dump it with ``spu.utils.frontend.compile``).
* matmul (``kernel/hlo/basic_binary.cc`` dot): a batched product runs one ``mmul_aa`` + ``trunc_a``
  per batch element, one after another.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from .cost import ZERO, Cost
from .protocols import Protocol

__all__ = ["SpuProtocol", "KernelTally", "storage_bytes"]

_TALLY: list["KernelTally"] = []


class KernelTally:
    """Record the kernel calls of the costs computed inside a ``with`` block (``{kernel: calls}``)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.bytes: dict[str, float] = {}

    def __enter__(self) -> "KernelTally":
        _TALLY.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _TALLY.remove(self)


def storage_bytes(nbits: int) -> int:
    """Bytes of the smallest unsigned type holding ``nbits`` bits (``mpc/aby3/value.cc`` ``calcBShareBacktype``)."""
    for size in (1, 2, 4, 8, 16):
        if nbits <= 8 * size:
            return size
    raise ValueError(f"nbits must be at most 128, not {nbits}")


@dataclass(frozen=True, kw_only=True)
class SpuProtocol(Protocol):
    """An SPU protocol: SPU's operation -> kernel sequences, priced by the subclass's kernels.

    Subclasses define the kernels (``mul_aa``, ``square_a``, ``mmul_aa``, ``trunc_a``, ``msb_a2b``,
    ``a2b``, ``and_bb``, ``mul_a1b``, ``b2a``, ``p2a``) through :meth:`_k`.
    """

    ring_bits: int = 64  # FM64, SPU's usual field (config.cc defaultFxpBits: 18 fraction bits)
    fraction_bits: int = 18
    exp_iters: int = 8  # config.cc: fxp_exp_iters defaults to 8
    goldschmidt_iters: int = 2  # config.cc: fxp_div_goldschmidt_iters defaults to 2

    def cost(self, op: str, shape: Sequence[int]) -> Cost:
        """Return the :class:`Cost` of ``op`` on ``shape`` (memoised, except inside a :class:`KernelTally`)."""
        if _TALLY:
            return super().cost(op, shape)
        return _cached_cost(self, op, tuple(shape))

    # ------------------------------------------------------------------ kernel plumbing

    def _k(self, name: str, rounds: float, total_bytes: float, work: float) -> Cost:
        """One call of kernel ``name``: ``rounds``, ``total_bytes`` sent over all parties, local work."""
        for t in _TALLY:
            t.calls[name] = t.calls.get(name, 0) + 1
            t.bytes[name] = t.bytes.get(name, 0) + total_bytes
        return Cost(rounds, 8 * total_bytes / self.parties, work)

    def _times(self, k: int, fn, *args) -> Cost:
        """``fn(*args)`` repeated ``k`` times in sequence (each call tallied when a tally is open)."""
        if not _TALLY:
            return k * fn(*args) if k else ZERO
        cost = ZERO
        for _ in range(k):
            cost = cost + fn(*args)
        return cost

    @abstractmethod
    def mul_aa(self, n: int) -> Cost: ...

    @abstractmethod
    def square_a(self, n: int) -> Cost:
        """A secret square: SPU's ``square_a`` where the protocol registers it, else ``mul_aa``."""

    @abstractmethod
    def mmul_aa(self, m: int, k: int, n: int) -> Cost: ...

    @abstractmethod
    def trunc_a(self, n: int, bits: int | None = None) -> Cost: ...

    @abstractmethod
    def msb_a2b(self, n: int) -> Cost: ...

    @abstractmethod
    def a2b(self, n: int) -> Cost: ...

    @abstractmethod
    def and_bb(self, n: int, nbits: int) -> Cost: ...

    @abstractmethod
    def mul_a1b(self, n: int) -> Cost: ...

    @abstractmethod
    def b2a(self, n: int, nbits: int) -> Cost: ...

    @abstractmethod
    def p2a(self, n: int) -> Cost: ...

    # ------------------------------------------------------------------ hal building blocks

    def f_mul(self, n: int) -> Cost:
        """``f_mul``: ``mul_aa`` then ``trunc_a`` by the fraction bits."""
        return self.mul_aa(n) + self.trunc_a(n)

    def f_square(self, n: int) -> Cost:
        """``f_square``: ``_square`` (``square_a`` or ``mul_aa``) then ``trunc_a``."""
        return self.square_a(n) + self.trunc_a(n)

    def less(self, n: int) -> Cost:
        return self.msb_a2b(n)

    def select(self, n: int) -> Cost:
        """A select by a comparison's bit (``_mux`` with a boolean share): ``mul_a1b``."""
        return self.mul_a1b(n)

    def abs(self, n: int) -> Cost:
        """``|x|`` as ``f_abs`` and the Goldschmidt divisions compute it: the sign bit (``msb_a2b``) made
        arithmetic (1-bit ``b2a``), times ``x`` (an integer ``mul_aa``)."""
        return self.msb_a2b(n) + self.b2a(n, 1) + self.mul_aa(n)

    def prefix_or(self, n: int) -> Cost:
        """``_prefix_or``: ``a2b``, then ``b |= b >> s`` for s = 1, 2, 4, ..., K/2 (``and_bb`` each)."""
        cost = self.a2b(n)
        s = 1
        while s < self.ring_bits:
            cost = cost + self.and_bb(n, self.ring_bits - s)
            s *= 2
        return cost

    def exp(self, n: int) -> Cost:
        cost = self.trunc_a(n, self.exp_iters)
        for _ in range(self.exp_iters):
            cost = cost + self.f_square(n)
        return cost

    def _goldschmidt(self, n: int) -> Cost:
        """``reciprocal_goldschmidt_normalized_approx`` on a normalised value."""
        cost = self.f_mul(n) + self.f_mul(n)  # c = b * factor; e = 1 - c * w
        for i in range(self.goldschmidt_iters):
            cost = cost + self.f_mul(n)
            if i + 1 < self.goldschmidt_iters:
                cost = cost + self.f_square(n)
        return cost

    def _factor(self, n: int) -> Cost:
        """``highestOneBit`` and the bit-reversed factor made arithmetic (2f bits)."""
        return self.prefix_or(n) + self.b2a(n, 2 * self.fraction_bits)

    def reciprocal(self, n: int) -> Cost:
        """``reciprocal_goldschmidt`` (unknown sign)."""
        return (self.abs(n) + self._factor(n) + self._goldschmidt(n) + self.f_mul(n)
                + self.mul_aa(n))

    def reciprocal_positive(self, n: int) -> Cost:
        return self._factor(n) + self._goldschmidt(n) + self.f_mul(n)

    def divide(self, n: int) -> Cost:
        """``div_goldschmidt_general`` of ``n`` secrets by ``n`` secrets (unknown sign)."""
        return (self.abs(n) + self._factor(n) + self._goldschmidt(n) + self.f_mul(n) + self.f_mul(n)
                + self.mul_aa(n))

    def rsqrt(self, n: int) -> Cost:
        """``f_rsqrt``, its kernels in SPU's order (``highestOneBit`` first: the order decides which call
        a Cheetah Ferret bootstrap falls into)."""
        f = self.fraction_bits
        z = self.prefix_or(n)
        guess = (self.b2a(n, 2 * f) + self.mul_aa(n) + self.trunc_a(n)
                 + self.f_mul(n) + self.f_mul(2 * n) + self.trunc_a(n))
        comp = self.b2a(n, 1) + self.b2a(n, (f // 2) * 2) + self.mul_aa(n)
        return z + guess + comp + self.mul_aa(n) + self.trunc_a(n)

    def tanh(self, n: int) -> Cost:
        clamp = self._times(2, self.max_pairs, n)
        cheb = self.f_square(n) + self._times(8, self.f_mul, n)
        return clamp + self.trunc_a(n) + cheb + self.trunc_a(n)

    def sigmoid(self, n: int) -> Cost:
        """``sigmoid_real``: ``1 / (1 + exp(-x))`` with the general reciprocal."""
        return self.exp(n) + self.reciprocal(n)

    def gelu_tanh(self, n: int) -> Cost:
        """``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``: ``x^3`` (2 products), 3 public
        products, tanh and the product with ``x``."""
        return self._times(3, self.f_mul, n) + self._times(3, self.trunc_a, n) + self.tanh(n)

    def gelu_erf(self, n: int) -> Cost:
        """jax's erf (f32 erf/erfc rational approximations) inside ``x (1 + erf(x / sqrt 2)) / 2``."""
        t = self._times
        return (t(5, self.trunc_a, n) + self.abs(n) + t(4, self.less, n) + t(23, self.f_mul, n) + self.exp(n)
                + t(2, self.reciprocal, n) + t(4, self.select, n))

    def tree(self, rows: int, m: int, reducer) -> Cost:
        """``TreeReduce`` of ``rows`` rows of length ``m`` with ``reducer(n)`` on ``n`` pairs."""
        cost = ZERO
        tails = 0
        length = m
        while length > 1:
            half = length // 2
            if length % 2:
                tails += 1
            cost = cost + reducer(rows * half)
            length = half
        return cost + self._times(tails, reducer, rows)

    def max_pairs(self, n: int) -> Cost:
        return self.less(n) + self.select(n)

    # ------------------------------------------------------------------ Protocol interface

    def elementwise(self, op: str, n: int) -> Cost:
        if op in ("mul", "square"):  # jax x * x is a mul of one operand twice: mul_aa, not square_a
            return self.f_mul(n)
        if op in ("div_public", "scaling"):
            return self.trunc_a(n)
        if op == "gt":
            return self.less(n)
        if op == "relu":  # jnp.maximum(x, 0): less and select
            return self.less(n) + self.select(n)
        if op == "exp":
            return self.exp(n)
        if op == "reciprocal":
            return self.reciprocal(n)
        if op == "inv_sqrt":
            return self.rsqrt(n)
        if op == "sigmoid":
            return self.sigmoid(n)
        if op == "silu":
            return self.sigmoid(n) + self.f_mul(n)
        if op == "tanh":
            return self.tanh(n)
        if op == "gelu_tanh":
            return self.gelu_tanh(n)
        if op == "gelu_erf":
            return self.gelu_erf(n)
        if op == "gelu_quad":  # 0.125 x * x + 0.25 x + 0.5: two public products and one secret one
            return self.trunc_a(n) + self.f_mul(n) + self.trunc_a(n)
        raise KeyError(op)

    def rowwise(self, op: str, rows: int, m: int) -> Cost:
        n = rows * m
        if op == "max":
            return self.tree(rows, m, self.max_pairs) + self.p2a(1)
        if op == "argmax":  # not measured: the max tree with a second select for the index
            return self.tree(rows, m, lambda k: self.max_pairs(k) + self.select(k)) + self.p2a(1)
        if op == "softmax":
            mx = self.tree(rows, m, self.max_pairs) + self.max_pairs(rows)  # + the initial=-inf step
            return mx + self.exp(n) + self.divide(n) + self._times(2, self.p2a, 1)
        if op == "relu_softmax":
            return self.less(n) + self.select(n) + self.divide(n) + self.p2a(1)
        if op == "quad2":
            return self.f_mul(n) + self.divide(n) + self.p2a(1)
        if op in ("layernorm", "rmsnorm"):
            mean = self.trunc_a(rows) if op == "layernorm" else ZERO
            # centred square, variance = sum / d, rsqrt, normalise, * gamma (+ beta is local)
            return (mean + self.f_mul(n) + self.trunc_a(rows) + self.rsqrt(rows) + self.f_mul(n) + self.f_mul(n)
                    + self.p2a(1))
        raise KeyError(op)

    def matmul(self, op: str, b: int, m: int, k: int, n: int) -> Cost:
        if op == "matmul_public":  # mmul_ap is local; the product is truncated
            return self._times(b, lambda: self.trunc_a(m * n) + Cost(0, 0, m * k * n))
        return self._times(b, lambda: self.mmul_aa(m, k, n) + self.trunc_a(m * n))

    def linear_attention(self, b: int, tokens: int, head_dim: int) -> Cost:
        """``q (k^T v) * (1/N)``: per head ``k^T v`` then ``q (.)``, then one public product."""
        return (self.matmul("matmul", b, head_dim, tokens, head_dim)
                + self.matmul("matmul", b, tokens, head_dim, head_dim) + self.trunc_a(b * tokens * head_dim))


@lru_cache(maxsize=4096)
def _cached_cost(protocol: SpuProtocol, op: str, shape: tuple) -> Cost:
    return Protocol.cost(protocol, op, shape)
