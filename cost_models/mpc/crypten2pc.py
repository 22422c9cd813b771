"""CrypTen 0.4.1, two parties, default configuration: an exact accounting of its communication.

Every count below is derived from the algorithm in CrypTen's source (facebookresearch/CrypTen,
release 0.4.1; file names relative to ``crypten/``) and equals what CrypTen's own communication
counter reports for one party (``communicator.verbose=True``, ``get_communication_stats()``),
for every operation and shape: ``tests/cost_models/mpc/data/crypten_0.4.1_counts.json`` holds
CrypTen's measured counters and the tests compare against it.

Setting (``configs/default.yaml``): 2 parties, additive shares over Z_2^64 (``torch.long``),
fixed point with 16 fractional bits, ``mpc.provider: TFP`` (trusted-first-party Beaver triples from
shared seeds: no offline communication is counted), ``protocol: beaver``.

How CrypTen counts (``communicator/communicator.py``, ``_logging``): one round per collective
call; an ``all_reduce`` of ``w`` 64-bit words logs ``2 * w * 8`` bytes (send + receive). Every
opening below is one all-reduce, so a step that opens ``w`` words costs 1 round and
``64 * w`` sent bits (``16 * w`` logged bytes). The primitives:

* ``mul`` (``mpc/primitives/beaver.py``): open eps = x - a and delta = y - b in one batched
  all-reduce: 1 round, ``numel(x) + numel(y)`` words (broadcast operands count their own size).
  ``matmul`` is the same with matrix triples. Multiplying by a public value is local.
* ``square``: open x - r only: 1 round, ``n`` words.
* Truncation after a fixed-point product is local for 2 parties (``arithmetic.py`` ``div_``:
  ``world_size > 2`` only uses the ``wraps`` protocol), so division by a public integer is free.
* Binary AND (``beaver.AND``): open x ^ a and y ^ b: 1 round, ``2 n`` words.
* ``_ltz`` (``mpc/mpc.py``): A2B (``converters._A2B``: each party's share becomes a binary
  sharing locally), then one binary addition (``circuit.add``: ``S = x & y``, then 6 =
  log2(64) Set-Propagate-Kill levels, each an AND on the stacked ``[S, P]``, i.e. ``2 n``
  values), then ``>> 63`` and a 1-bit B2A (``beaver.B2A_single_bit``: open ``n`` words).
  8 rounds, ``2 + 6*4 + 1 = 27`` words per element.
* ``eq`` in 2PC (``mpc/mpc.py`` ``_eqz_2PC``): ``circuit.eq``: 6 AND levels of ``__P_circuit``
  then a 1-bit B2A: 7 rounds, 13 words per element.
* ``crypten.rand`` (``mpc/mpc.py`` ``rand``): 16 random bits (``precision_bits``) converted by
  ``_B2A`` with ``bits=16``: one opening of ``16 n`` words.
* ``weighted_index`` (``common/functions/sampling.py``), used by every argmax to break ties:
  ``rand`` of one value per row, times the row total (mul), then ``cumsum > r`` (ltz on all
  elements): 10 rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cost import ZERO, Cost
from .protocols import Protocol, register

__all__ = ["CrypTen2PC", "CRYPTEN_2PC"]

K = 64  # ring bits: shares are torch.long (Z_2^64)


def _open(words: int, work: int | None = None) -> Cost:
    """One all-reduce that opens ``words`` 64-bit values: 1 round."""
    return Cost(1, K * words, words if work is None else work)


def _beaver(nx: int, ny: int, macs: int) -> Cost:
    """A Beaver product of operands with ``nx`` and ``ny`` elements (``macs`` local products)."""
    return _open(nx + ny, nx + ny + 3 * macs)


def mul(n: int) -> Cost:
    """Secret x secret element-wise product of ``n`` values: 1 round, ``2 n`` words."""
    return _beaver(n, n, n)


def square(n: int) -> Cost:
    """Secret square of ``n`` values (``beaver.square``): 1 round, ``n`` words."""
    return _open(n, 4 * n)


def bcast_mul(n: int, m: int) -> Cost:
    """``x * y`` with ``x`` of ``n`` elements and ``y`` of ``m`` broadcast over it: ``n + m`` words."""
    return _beaver(n, m, n)


def and_(n: int) -> Cost:
    """Binary AND of ``n`` 64-bit words (``beaver.AND``): 1 round, ``2 n`` words."""
    return _open(2 * n, 8 * n)


def b2a_bit(n: int) -> Cost:
    """1-bit B2A of ``n`` values (``beaver.B2A_single_bit``): open ``n`` words."""
    return _open(n, 4 * n)


def ltz(n: int) -> Cost:
    """``x < 0`` of ``n`` secrets (``MPCTensor._ltz``): 8 rounds, 27 words per element."""
    return and_(n) + 6 * and_(2 * n) + b2a_bit(n)


def eqz(n: int) -> Cost:
    """``x == 0`` of ``n`` secrets in 2PC (``MPCTensor._eqz_2PC``): 7 rounds, 13 words per element."""
    return 6 * and_(n) + b2a_bit(n)


def rand(n: int) -> Cost:
    """``crypten.rand`` of ``n`` values: 16 random bits per value through ``_B2A(bits=16)``."""
    return _open(16 * n, 16 * 4 * n)


def weighted_index(rows: int, m: int) -> Cost:
    """``weighted_index(dim=-1)`` on ``rows x m`` (tie-breaking of every argmax): 10 rounds."""
    return rand(rows) + mul(rows) + ltz(rows * m)


def where(n: int) -> Cost:
    """``crypten.where(c, x, y) = c * x + (1 - c) * y`` with a secret condition: 2 products."""
    return 2 * mul(n)


def pow_int(n: int, p: int) -> Cost:
    """``x.pow(p)`` for an integer ``p >= 1`` (``common/functions/power.py``: square-and-multiply)."""
    if p == 1:
        return ZERO
    if p == 2:
        return square(n)
    if p % 2 == 0:
        return square(n) + pow_int(n, p // 2)
    return square(n) + mul(n) + pow_int(n, (p - 1) // 2)


@dataclass(frozen=True, kw_only=True)
class CrypTen2PC(Protocol):
    """CrypTen 0.4.1 two-party protocol with its default function configuration.

    The iteration counts are CrypTen's ``configs/default.yaml`` values (``functions:`` section);
    change them to model a non-default CrypTen configuration.
    """

    exp_iterations: int = 8  # functions.exp_iterations
    reciprocal_nr_iters: int = 10  # functions.reciprocal_nr_iters (reciprocal_method: NR)
    sqrt_nr_iters: int = 3  # functions.sqrt_nr_iters
    erf_iterations: int = 8  # functions.erf_iterations
    sigmoid_exp_iterations: int = 8  # sigmoid's exp runs outside its config override: the default
    sigmoid_nr_iters: int = 3  # approximations.sigmoid overrides reciprocal_nr_iters to 3 ...
    # ... with reciprocal_initial = 0.75 (a public float), so its first iteration is local.

    name = "crypten-2pc"
    parties = 2
    ring_bits = K
    fraction_bits = 16
    description = ("CrypTen 0.4.1 2PC, default config: Z_2^64, 16 fractional bits, trusted-first-party "
                   "triples (offline cost not counted); exact accounting of CrypTen's own counters")
    sources = (
        "facebookresearch/CrypTen 0.4.1: crypten/mpc/primitives/{beaver,arithmetic,binary,circuit,converters}.py, "
        "crypten/common/functions/{approximations,maximum,logic,power,sampling}.py, configs/default.yaml",
        "docs/sources.md MPC §2-§3 (measured per-primitive table)",
        "tests/cost_models/mpc/data/crypten_0.4.1_counts.json (CrypTen's counters, measured)",
    )

    # ------------------------------------------------------------------ non-linear functions

    def exp(self, n: int, iterations: int | None = None) -> Cost:
        """``exp`` (``approximations.exp``): ``(1 + x / 2^t)^(2^t)``, ``t`` squarings (t = 8)."""
        return (self.exp_iterations if iterations is None else iterations) * square(n)

    def reciprocal_pos(self, n: int) -> Cost:
        """``reciprocal`` with ``reciprocal_all_pos=True``: initial guess ``3 exp(1 - 2x) + 0.003``,
        then ``reciprocal_nr_iters`` Newton steps ``r += r - r^2 x`` (a square and a product)."""
        return self.exp(n) + self.reciprocal_nr_iters * (square(n) + mul(n))

    def reciprocal(self, n: int) -> Cost:
        """``reciprocal`` with the default ``reciprocal_all_pos=False``: ``sign(x)`` (an ltz),
        ``|x| = sign * x``, the positive reciprocal, times ``sign`` again: 38 rounds, 69 words."""
        return ltz(n) + mul(n) + self.reciprocal_pos(n) + mul(n)

    def inv_sqrt(self, n: int) -> Cost:
        """``inv_sqrt``: guess ``2.2 exp(-(x/2 + 0.2)) + 0.2 - x/1024``, then ``sqrt_nr_iters``
        steps ``y = y (3 - x y^2) / 2`` (a square and two products each): 17 rounds, 23 words."""
        return self.exp(n) + self.sqrt_nr_iters * (square(n) + mul(n) + mul(n))

    def sigmoid(self, n: int) -> Cost:
        """``sigmoid`` (``sigmoid_tanh_method: reciprocal``): ltz for the sign, ``|x|``, ``exp(-|x|)``,
        a positive reciprocal with 3 NR steps from the public guess 0.75 (the first is local), then
        ``where`` (two products): 23 rounds, 47 words."""
        return (ltz(n) + mul(n) + self.exp(n, self.sigmoid_exp_iterations)
                + (self.sigmoid_nr_iters - 1) * (square(n) + mul(n)) + where(n))

    def erf(self, n: int) -> Cost:
        """``erf`` (Taylor series, ``erf_iterations`` terms): ``x^(2k+1)`` by ``pow`` for k = 1..t."""
        total = ZERO
        for k in range(1, self.erf_iterations + 1):
            total = total + pow_int(n, 2 * k + 1)
        return total

    def max(self, rows: int, m: int) -> Cost:
        """``max(dim=-1)`` with ``max_method: log_reduction`` (``common/functions/maximum.py``).

        ``int(math.log(m))`` (natural log) halving steps, each a pairwise ``x >= y`` (ltz) and a
        ``where`` (2 products) on half the remaining row; then ``max(dim)`` with the pairwise method
        on the ``m'`` left (``m' - 1`` rolled copies compared at once, reduced by a product tree of
        ``prod(0)`` or, from 128 copies on, by a sum and a comparison), its ``weighted_index`` and the
        product that extracts the maximum; then the argmax that ``max`` returns and softmax discards:
        ``eq`` of the row with its maximum and another ``weighted_index`` on the full row.
        """
        cost = ZERO
        cur = m
        for _ in range(int(math.log(m))):
            half = cur // 2
            cost = cost + ltz(rows * half) + where(rows * half)
            cur = half + cur % 2
        length = cur if cur > 1 else 2  # _argmax_helper_pairwise: row_length
        copies = length - 1
        cost = cost + ltz(copies * rows * cur)
        if copies < 2 * K:  # pairwise_comparisons.prod(0): a product tree over the copies
            size = copies
            while size > 1:
                cost = cost + mul((size // 2) * rows * cur)
                size = size // 2 + size % 2
        else:  # pairwise_comparisons.sum(0).ge(row_length - 1)
            cost = cost + ltz(rows * cur)
        cost = cost + weighted_index(rows, cur) + mul(rows * cur)
        return cost + eqz(rows * m) + weighted_index(rows, m)

    def divide_rows(self, rows: int, m: int) -> Cost:
        """``x / s`` with a secret row total ``s`` (``MPCTensor.div``): ``x * reciprocal(s)``."""
        return self.reciprocal(rows) + bcast_mul(rows * m, rows)

    # ------------------------------------------------------------------ Protocol interface

    def elementwise(self, op: str, n: int) -> Cost:
        if op == "mul":
            return mul(n)
        if op in ("square", "gelu_quad"):  # Quad GeLU: one square, the rest is public arithmetic
            return square(n)
        if op in ("div_public", "scaling"):  # truncation is local in 2PC
            return ZERO
        if op == "gt":
            return ltz(n)
        if op == "relu":  # logic.relu: x * x.ge(0)
            return ltz(n) + mul(n)
        if op == "exp":
            return self.exp(n)
        if op == "reciprocal":
            return self.reciprocal(n)
        if op == "inv_sqrt":
            return self.inv_sqrt(n)
        if op in ("sigmoid", "tanh"):  # tanh(x) = 2 sigmoid(2x) - 1: public scalings only
            return self.sigmoid(n)
        if op == "silu":
            return self.sigmoid(n) + mul(n)
        if op == "gelu_erf":  # x * (1 + erf(x / sqrt 2)) / 2
            return self.erf(n) + mul(n)
        if op == "gelu_tanh":  # x^3 (pow), tanh, one product
            return pow_int(n, 3) + self.sigmoid(n) + mul(n)
        raise KeyError(op)

    def rowwise(self, op: str, rows: int, m: int) -> Cost:
        n = rows * m
        if op in ("max", "argmax"):  # max(dim) computes the argmax too; argmax is the same work
            return self.max(rows, m)
        if op == "softmax":  # approximations.softmax
            if m == 1:
                return ZERO  # CrypTen returns ones without computing
            return self.max(rows, m) + self.exp(n) + self.reciprocal_pos(rows) + bcast_mul(n, rows)
        if op == "relu_softmax":  # relu(x) / (sum + 1e-5): the row total has unknown sign for CrypTen
            return ltz(n) + mul(n) + self.divide_rows(rows, m)
        if op == "quad2":  # (x + c)^2 / sum((x + c)^2)
            return square(n) + self.divide_rows(rows, m)
        if op in ("layernorm", "rmsnorm"):
            # mean and variance are sums divided by the public length (local); the centred square,
            # inv_sqrt of the per-row variance, the normalising product (broadcast over the row) and
            # the product with the secret gamma (broadcast over the rows); + beta is local.
            return square(n) + self.inv_sqrt(rows) + bcast_mul(n, rows) + bcast_mul(n, m)
        raise KeyError(op)

    def matmul(self, op: str, b: int, m: int, k: int, n: int) -> Cost:
        if op == "matmul_public":
            return Cost(0, 0, b * m * k * n)
        return _beaver(b * m * k, b * k * n, b * m * k * n)

    def linear_attention(self, b: int, tokens: int, head_dim: int) -> Cost:
        """``q (k^T v) / N``: two secret matmuls (k^T v first), the public division is local."""
        return (self.matmul("matmul", b, head_dim, tokens, head_dim)
                + self.matmul("matmul", b, tokens, head_dim, head_dim))


CRYPTEN_2PC = register(CrypTen2PC())
