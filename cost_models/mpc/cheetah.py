"""Cheetah two-party computation (HE + silent OT) as SPU 0.9.5 runs it (``ProtocolKind.CHEETAH``).

Setting: 2 parties, additive shares over Z_2^64 (FM64), 18 fractional bits, semi-honest. Products
of secrets use lattice HE (BFV, SEAL, 8192 slots; ``arith/cheetah_mul.cc``, ``arith/cheetah_dot.cc``);
truncation, comparison, selection and the boolean kernels use silent OT (yacl Ferret,
``ot/yacl/``). SPU's default configuration (``cheetah_2pc_config`` defaults: ``YACL_Ferret``,
``enable_mul_lsb_error`` off); the operation -> kernel sequences are ``cost_models/mpc/spu.py``'s.
Validated against SPU's own counters (``tests/cost_models/mpc/spu_fixture.json``, ``test_cheetah.py``).

Paths below are ``secretflow/spu`` ``src/libspu/mpc/cheetah/`` at tag ``0.9.5rc2`` (the released
0.9.5's Cheetah code). Bytes are totals over both parties.

**OT kernels** are cut into ``min(instances, 48, ceil(n / 2048))`` pieces, one OT instance each, run
concurrently (``state.cc`` ``InitOTState``, ``kMinWorkSize`` 2048; ``state.h`` ``kMaxOTParallel`` 48;
``instances`` is SPU's ``max_concurrency``, the machine's thread count: :attr:`Cheetah.ot_instances`).
Per piece of ``m`` elements (``flips(k) = 16 ceil(k / 128)``: a receiver's choice bits, sent as 128-bit
blocks; ``camcc(m, b)``: ``m`` correlations of ``b`` bits packed 8 at a time into 64-bit words):

==========  ======  ======================================================================
kernel      rounds  bytes per piece of ``m`` elements (both parties); source
==========  ======  ======================================================================
trunc_a     2       ``camcc(m, s) + flips(m)`` for a shift of ``s`` bits
                    (``nonlinear/truncate_prot.cc`` ``MSB1ToWrap``)
mul_a1b     4       ``2 (8 m + flips(m))``: a 64-bit correlated OT each way, one after the other
                    (``ot/basic_ot_prot.cc`` ``Multiplexer``)
b2a         2       one bit: ``8 m + flips(m)``; ``L`` bits: ``m L`` COTs whose bit ``i`` carries
                    ``64 - i`` bits, packed, ``+ flips(m L)`` (``basic_ot_prot.cc`` ``PackedB2A``)
and_bb      2       ``32 ceil(m w / 64)`` for ``w``-bit shares: triples from random OTs (no
                    messages), then two openings (``basic_ot_prot.cc`` ``BitwiseAnd``)
msb_a2b     19      ``64 m + flips(64 m)`` for 16 one-of-16 OTs of 2-bit messages, then an AND
                    tree 16 -> 8 -> 4 -> 2 -> 1 of openings (``nonlinear/compare_prot.cc``)
a2b         14      ``416 m``: a 64-bit Kogge-Stone adder, 13 ANDs of 64 bits in 7 calls
==========  ======  ======================================================================

**HE kernels** work on ciphertexts of 8192 slots. An OLE on ``n`` values (``CheetahMul::MulOLE``)
encrypts ``ceil(n / 8192)`` slot blocks under each of the CRT plaintext contexts
(``TotalCRTBitLen``: 64 + 64 + 32 bits over 45-bit primes = 4 contexts), sends them and gets the
masked products back (``MulThenResponse``). SEAL compresses what it serialises, so a block's bytes
vary by about 0.1 % from run to run. Measured rather than counted from the source:
:data:`OLE_BLOCK_BYTES` (fitted to SPU's ``square_s`` calls), :data:`MUL_SHARE_BLOCK_BYTES` and
:data:`OT_INSTANCE_SETUP_BYTES`; the matmul ciphertext sizes are computed by rebuilding SEAL's
compressed serialisation (:data:`DOT_SENT_CT_BYTES`).

* ``square_s`` (``arithmetic.cc`` ``SquareA``): one OLE of ``n`` values, or of two halves when
  ``n > 8192``; 2 rounds (the halves run concurrently).
* ``mul_aa`` with ``n < 16384`` (``MulAA::mulWithBeaver``): open ``x - a`` and ``y - b`` (32 bytes
  per element over both parties, 1 round) with a Beaver triple from a cache. A cache short of
  ``n`` triples is refilled by one OLE of ``ceil(2 n / 8192)`` blocks that yields 4096 triples per
  block (``state.cc`` ``CheetahMulState::makeSureCacheSize``; 2 more rounds).
* ``mul_aa`` with ``n >= 16384`` (``MulAA::mulDirectly``): two ``MulShare`` halves, each sending the
  encryptions of both operands and getting one masked response back.
* ``mmul_aa`` (``MatMulAA``): two mirrored ``CheetahDot`` products at once; :func:`mmul_bytes`.

**State.** Three costs depend on what ran before in the same SPU session: the Beaver cache; the OT
instances already set up (:data:`OT_INSTANCE_SETUP_BYTES` each, measured); and Ferret's buffers of
correlated OTs, one per instance and direction, which a bootstrap of :data:`FERRET_BOOTSTRAP_BYTES`
refills with :data:`FERRET_BOOTSTRAP_COTS` whenever a kernel needs more than is left (COTs per
element and direction: ``OT_KERNELS``). :class:`Cheetah` prices an operation in the steady state of
a long session: every Beaver triple carries its share of a refill (a block over the 4096 triples it
yields) and every COT its share of a bootstrap; instances are set up. :class:`CheetahSession`
replays a session in order, cache, instances and buffers included, as SPU ran the fixture; that is
what the validation compares. Not modelled: the one-off key exchanges of a session's first HE
products (about 19.4 MB for the matmul keys), which the fixture's warm-up pays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from .cost import ZERO, Cost
from .network import Network
from .protocols import Protocol, register
from .spu import KernelTally, SpuProtocol

__all__ = ["Cheetah", "CheetahSession", "CheetahState", "CHEETAH_2PC", "ot_pieces"]

W = 8  # bytes of one FM64 ring element
RING = 64  # FM64 ring bits
SLOTS = 8192  # arith/cheetah_mul.cc kPolyDegree: BFV slots per ciphertext (OLEBatchSize)
CRT_CONTEXTS = 4  # arith/cheetah_mul.cc TotalCRTBitLen: ceil((64 + 64 + 32) / 45) plaintext primes
TRIPLES_PER_BLOCK = SLOTS // 2  # state.cc makeSureCacheSize: num_beaver = num_ole * ole_sze / 2
MUL_DIRECT_MIN = 2 * SLOTS  # arithmetic.cc MulAA::proc: numel >= 2 * OLEBatchSize -> mulDirectly
OT_MIN_WORK = 2048  # state.cc InitOTState kMinWorkSize
OT_MAX_INSTANCES = 48  # state.h CheetahOTState kMaxOTParallel
OT_BATCH = 8  # ot/yacl/ferret.cc kOTBatchSize: correlations packed 8 at a time
COMPARE_RADIX = 4  # nonlinear/compare_prot.h compare_radix: 16 digits of 4 bits, 1-of-16 OTs
#: One OLE slot block, both ways, all CRT contexts (bytes). Fitted: the mean of SPU's 39 measured
#: ``square_s`` kernels per block (1,143,891, rounded; they range over 1,143,004-1,144,929 because SEAL
#: compresses what it sends; tests/cost_models/mpc/spu_fixture.json).
OLE_BLOCK_BYTES = 1_143_900
#: A yacl Ferret bootstrap (bytes): 1280 GYWZ trees of height 13, 16 bytes a level, + a 19-byte seed
#: (ot/yacl/yacl_ote_adapter.h lpn parameters t = 1280, n = 10485760; yacl gywz_ote.cc).
FERRET_BOOTSTRAP_BYTES = 1280 * 13 * 16 + 19
#: Correlated OTs one bootstrap yields per instance and direction: n minus the reserve the next
#: bootstrap needs (yacl FerretCotHelper: 452,000 + 13 x 1,279 + 13).
FERRET_BOOTSTRAP_COTS = 10_485_760 - (452_000 + 13 * 1279 + 13)
#: Correlated OTs left after an instance's one-time set-up (pre-LPN n 470,016 minus that reserve).
FERRET_SETUP_COTS = 470_016 - 468_640
#: Setting up one OT instance (a spawned link; SoftSpoken base OTs and pre-Ferret for a Ferret sender
#: and a receiver; state.h LazyInit -> ot/basic_ot_prot.cc, ot/yacl/yacl_ote_adapter.cc OneTimeSetup).
#: Measured, not derived: SPU's mul of 10,000 values set up its second instance (1,504,124 bytes of
#: truncation = 31,280 + 2 bootstraps + this).
OT_INSTANCE_SETUP_BYTES = 940_326
#: SPU's compute time per byte sent (s/byte, both parties' bytes), the fixture's 2-core machine: Cheetah
#: is compute-bound there (HE and OT extension), and its time follows its traffic. Fitted: least
#: squares over the two whole-layer runs (BERT-base at 128 tokens 502.9 s for 5.89 GB; the CIFAR ViT
#: layer 63.9 s for 0.714 GB; each within 5 % of this rate). Single operations on small inputs run
#: slower than this (fixed costs per call).
COMPUTE_S_PER_BYTE = 8.55e-8
#: Ring operations a second the compute time is expressed in: the networks' default compute rate, so
#: that the latency's compute term is the fitted time on that machine (scaled by a network's rate).
REFERENCE_OPS_PER_S = Network.model_fields["compute_gops_per_s"].default * 1e9


def ot_pieces(n: int, instances: int = 2) -> list[int]:
    """The piece sizes an OT kernel on ``n`` elements is cut into (``state.cc`` ``TiledDispatchOTFunc``)
    when SPU may use ``instances`` OT instances: ``min(instances, 48, ceil(n / 2048))`` pieces, all of
    ``ceil(n / pieces)`` elements but the last."""
    if n <= 0:
        return []
    w = min(instances, OT_MAX_INSTANCES, math.ceil(n / OT_MIN_WORK))
    load = math.ceil(n / w)
    return [load] * (w - 1) + [n - load * (w - 1)]


# ---------------------------------------------------------------------------------------------- OT pieces
# Bytes (both parties) of one piece of ``m`` elements; ot/yacl/ferret.cc, ot/basic_ot_prot.cc.


def _flips(k: int) -> int:
    """The receiver's choice flips of ``k`` chosen-choice COTs, a bit set of 128-bit blocks
    (ot/yacl/yacl_ote_adapter.cc ``recv_cot``)."""
    return 16 * math.ceil(k / 128)


def _camcc(m: int, bits: int) -> int:
    """``SendCAMCC`` of ``m`` correlations of ``bits`` bits: packed ``OT_BATCH`` at a time into 64-bit
    words below 64 bits, 8 bytes each at 64 (ot/yacl/ferret.cc)."""
    if bits >= RING:
        return W * m
    full, rest = divmod(m, OT_BATCH)
    return W * (full * math.ceil(OT_BATCH * bits / RING) + (math.ceil(rest * bits / RING) if rest else 0))


def _open_bits(m: int, bits: int) -> int:
    """Both parties open ``m`` XOR shares of ``bits`` bits, packed in 64-bit words (ot/ot_util.cc OpenShare)."""
    return 2 * W * math.ceil(m * bits / RING)


def trunc_piece(m: int, bits: int) -> int:
    """``TruncA`` (signed, heuristic; nonlinear/truncate_prot.cc ``MSB1ToWrap``): one ``SendCAMCC`` of
    ``bits``-bit messages and its flips."""
    return _camcc(m, bits) + _flips(m) if bits else 0


def mux_piece(m: int) -> int:
    """``mul_a1b`` (``BasicOTProtocols::Multiplexer``): one 64-bit ``SendCAMCC`` each way."""
    return 2 * (_camcc(m, RING) + _flips(m))


def _batch_bytes(b: int, width: int) -> int:
    """One batch of ``b`` correlations of ``width`` bits (``SendCAMCC``)."""
    return W * b if width >= RING else W * math.ceil(b * width / RING)


def b2a_piece(m: int, bits: int) -> int:
    """``B2A`` of ``bits``-bit shares: ``SingleB2A`` for one bit; else ``PackedB2A``, ``m bits`` COTs in
    collapse mode sent in batches of 8, a batch starting at COT ``i`` carrying ``64 - floor(i / m)`` bits
    (ferret.cc ``SendCAMCC_Collapse``). Summed level by level: the batches starting in level ``j`` are
    the multiples of 8 in ``[j m, (j + 1) m)``, all full but the very last one."""
    if bits <= 1:
        return _camcc(m, RING) + _flips(m)
    n = m * bits
    total = sum((math.ceil((j + 1) * m / OT_BATCH) - math.ceil(j * m / OT_BATCH)) * _batch_bytes(OT_BATCH, RING - j)
                for j in range(bits))
    last = OT_BATCH * ((n - 1) // OT_BATCH)
    width = RING - last // m
    total += _batch_bytes(n - last, width) - _batch_bytes(OT_BATCH, width)
    return total + _flips(n)


def and_piece(m: int, bits: int) -> int:
    """``AndBB`` (``BitwiseAnd``): an AND triple from random OTs (no messages), two XOR openings."""
    return 2 * _open_bits(m, bits)


def msb_piece(m: int) -> int:
    """``MsbA2B`` (nonlinear/compare_prot.cc ``CompareProtocol``, radix 4): 16 one-of-16 OTs of 2-bit
    messages per value (4 COTs each), then the AND tree 16 -> 8 -> 4 -> 2 -> 1 (at each level above 2 a
    ``BitwiseAnd`` and a ``CorrelatedBitwiseAnd`` of three openings; at 2 a ``BitwiseAnd``)."""
    digits = math.ceil(RING / COMPARE_RADIX)
    leaf = digits * m * math.ceil(2 * 2 ** COMPARE_RADIX / 8) + _flips(digits * m * COMPARE_RADIX)
    tree, d = 0, digits
    while d > 2:
        tree += 2 * _open_bits(m, 1) + 3 * _open_bits(m * (d // 2 - 1), 1)
        d //= 2
    return leaf + tree + 2 * _open_bits(m, 1)


def a2b_piece(m: int) -> int:
    """``A2B``: a 64-bit Kogge-Stone adder of the two shares (mpc/ab_api.cc), 13 ANDs of 64 bits."""
    return 13 * and_piece(m, RING)


#: (rounds, piece bytes, COTs per element in each direction (party 0 sends, party 1 sends)) of every OT
#: kernel; rounds from the message chain in the source (concurrent pieces add none). COTs: truncation one
#: correlated OT a value and b2a one a bit (party 0 sends); and_bb one random OT a bit each way;
#: mul_a1b one each way; msb_a2b 64 for its leaves (16 one-of-16 OTs of 4 COTs) and 15 each way for its
#: AND tree; a2b 13 ANDs of 64 bits each way.
#: Messages each party sends per piece (SPU's "send actions"): b2a 1, trunc_a 1, and_bb 2, msb_a2b 18,
#: a2b 14, mul_a1b 2 (test_cheetah.py checks them, with the HE kernels' ciphertexts, against SPU's counts).
OT_KERNELS = {
    "trunc_a": (2, trunc_piece, lambda bits: (1, 0)),  # flips, then corrections (truncate_prot.cc)
    "mul_a1b": (4, lambda m, bits: mux_piece(m), lambda bits: (1, 1)),  # two SendCAMCC, one each way, in turn
    "b2a": (2, b2a_piece, lambda bits: (max(bits, 1), 0)),  # flips, then corrections (basic_ot_prot.cc)
    "and_bb": (2, and_piece, lambda bits: (bits, bits)),  # two openings (basic_ot_prot.cc BitwiseAnd)
    "msb_a2b": (19, lambda m, bits: msb_piece(m), lambda bits: (79, 15)),  # leaves 2 + tree 3 x 5 + 2
    "a2b": (14, lambda m, bits: a2b_piece(m), lambda bits: (832, 832)),  # 7 vmapped and_bb calls x 2
}


def ole_blocks(n: int) -> int:
    """Slot blocks of one OLE on ``n`` values."""
    return math.ceil(n / SLOTS)


def halves_blocks(n: int) -> int:
    """Slot blocks of ``n`` values cut into two halves of ``n // 2`` and the rest, each its own OLE
    (``SquareA`` above 8192 values, ``mulDirectly``)."""
    return ole_blocks(n // 2) + ole_blocks(n - n // 2)


@dataclass
class CheetahState:
    """What an SPU Cheetah session carries from one kernel call to the next."""

    triples: int = 0  # Beaver triples in the cache (state.cc cached_sze_)
    #: correlated OTs left per (OT instance, direction); an instance is set up on first use
    cots: dict = field(default_factory=dict)

    def take_triples(self, n: int) -> int:
        """Take ``n`` triples; return the OLE blocks of the refill this needed (0 if none)."""
        blocks = 0
        if self.triples < n:
            blocks = math.ceil(2 * n / SLOTS)
            self.triples += blocks * TRIPLES_PER_BLOCK
        self.triples -= n
        return blocks

    def take_cots(self, pieces: list[int], per_element: tuple[int, int]) -> tuple[int, int]:
        """Run an OT kernel on ``pieces`` (instance ``i`` takes piece ``i``) using ``per_element`` COTs
        per element in each direction; return (instances set up, Ferret bootstraps)."""
        setups = boots = 0
        for i, m in enumerate(pieces):
            if (i, 0) not in self.cots:
                self.cots[(i, 0)] = self.cots[(i, 1)] = FERRET_SETUP_COTS
                setups += 1
            for d, per in enumerate(per_element):
                need, left = m * per, self.cots[(i, d)]
                while need > left:
                    need -= left
                    left = FERRET_BOOTSTRAP_COTS
                    boots += 1
                self.cots[(i, d)] = left - need
        return setups, boots


@dataclass(frozen=True, kw_only=True)
class Cheetah(SpuProtocol):
    """SPU's Cheetah (2PC, HE-based products, silent-OT nonlinear kernels), steady state of a session."""

    name = "cheetah-2pc"
    parties = 2
    description = ("SPU 0.9.5 Cheetah 2PC: BFV HE products, Ferret silent-OT truncation/comparison, "
                   "FM64, 18 fractional bits, SPU's default approximations; validated on SPU's own counters")
    sources = (
        "secretflow/spu src/libspu/mpc/cheetah/{arithmetic,boolean,conversion,state}.cc, arith/, nonlinear/, ot/",
        "secretflow/spu src/libspu/kernel/hal/{fxp_base,fxp_approx,ring}.cc, kernel/hlo/reduce.cc (sequences)",
        "tests/cost_models/mpc/spu_fixture.json (SPU 0.9.5's counters, measured; OLE block bytes fitted)",
    )

    #: OT instances SPU may run at once: ``max_concurrency``, which defaults to the machine's threads
    #: (``core/config.cc``: ``yacl::get_num_threads()``, the smaller over the parties), capped at 48
    #: (``state.h``). 2 on the fixture's machine (its 8,320-value truncation is 2 pieces: 26,016 bytes,
    #: not 5 pieces: 26,000).
    ot_instances: int = 2

    def _k(self, name: str, rounds: float, total_bytes: float, work: float = 0.0) -> Cost:
        """One kernel call; its local work is SPU's fitted compute time for its bytes
        (:data:`COMPUTE_S_PER_BYTE`, in ring operations at :data:`REFERENCE_OPS_PER_S`)."""
        return super()._k(name, rounds, total_bytes, total_bytes * COMPUTE_S_PER_BYTE * REFERENCE_OPS_PER_S)

    # ------------------------------------------------------------------ session state hooks

    def _refill(self, n: int) -> tuple[float, float]:
        """(OLE blocks, refills) the Beaver cache needs for ``n`` triples. Steady state: each triple
        carries its share of a refill (a block yields 4096 triples; a refill is ``ceil(2 n / 8192)`` blocks)."""
        blocks = n / TRIPLES_PER_BLOCK
        return blocks, blocks / math.ceil(2 * n / SLOTS)

    def _ot_events(self, pieces: list[int], per_element: tuple[int, int]) -> float:
        """Bytes of OT instance set-up and Ferret bootstraps a kernel causes. Steady state: every COT
        carries its share of a bootstrap; instances are already set up."""
        return sum(pieces) * sum(per_element) * FERRET_BOOTSTRAP_BYTES / FERRET_BOOTSTRAP_COTS

    def _ot(self, name: str, n: int, bits: int = 0) -> Cost:
        """OT kernel ``name`` on ``n`` elements (``bits`` wide where it matters), cut into pieces that
        run concurrently, one OT instance each."""
        rounds, piece, cots = OT_KERNELS[name]
        pieces = ot_pieces(n, self.ot_instances)
        total = sum(piece(m, bits) for m in pieces) + self._ot_events(pieces, cots(bits))
        return self._k(name, rounds, total)

    # ------------------------------------------------------------------ kernels

    def mul_aa(self, n: int) -> Cost:
        if n >= MUL_DIRECT_MIN:
            return self._k("mul_aa", 2, halves_blocks(n) * MUL_SHARE_BLOCK_BYTES)
        blocks, refills = self._refill(n)
        return self._k("mul_aa", 1 + 2 * refills, 4 * W * n + blocks * OLE_BLOCK_BYTES)

    def square_a(self, n: int) -> Cost:
        blocks = ole_blocks(n) if n <= SLOTS else halves_blocks(n)
        return self._k("square_s", 2, blocks * OLE_BLOCK_BYTES)

    def mmul_aa(self, m: int, k: int, n: int) -> Cost:
        return self._k("mmul_aa", 2, mmul_bytes(m, k, n))

    def trunc_a(self, n: int, bits: int | None = None) -> Cost:
        return self._ot("trunc_a", n, self.fraction_bits if bits is None else bits)

    def msb_a2b(self, n: int) -> Cost:
        return self._ot("msb_a2b", n)

    def a2b(self, n: int) -> Cost:
        return self._ot("a2b", n)

    def and_bb(self, n: int, nbits: int) -> Cost:
        return self._ot("and_bb", n, nbits)

    def mul_a1b(self, n: int) -> Cost:
        return self._ot("mul_a1b", n)

    def b2a(self, n: int, nbits: int) -> Cost:
        return self._ot("b2a", n, nbits)

    def p2a(self, n: int) -> Cost:
        return ZERO


# ---------------------------------------------------------------------------------------------- mmul_aa

#: CheetahDot ciphertext sizes (bytes), FM64: N = 8192, coefficient moduli {59, 55, 49, 49} bits, the
#: last one special (arith/cheetah_dot.cc:137-141). SEAL compresses what it sends with zstd
#: (rlwe/utils.h:48-56), so sizes are not in the source: these were computed by rebuilding SEAL's
#: serialised layout with those primes and compressing it with zstd level 3, SEAL's default (mean of
#: random draws; a draw varies by 5-100 bytes). Encryptor -> evaluator: a seeded symmetric encryption at
#: the 3 data primes, c0 only (cheetah_dot.cc:535-538).
DOT_SENT_CT_BYTES = 184_912
#: Evaluator -> encryptor: a masked product after H2A, switched down to 2 primes, c0 and c1
#: (cheetah_dot.cc:281-289, :460-461).
DOT_RESPONSE_CT_BYTES = 254_303
#: An unpacked response keeps only its ``K`` result slots in c0 (arith/matmat_prot.cc:606-651
#: ExtractLWEsInplace): c1 and headers, plus per kept slot (a least-squares line over simulated sizes).
DOT_SPARSE_BASE_BYTES = 127_186
DOT_SPARSE_SLOT_BYTES = 16.47


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@lru_cache(maxsize=4096)
def sub_mat_shape(m: int, k: int, n: int, disable_pack: bool = False) -> tuple[int, int, int]:
    """``MatMatProtocol::GetSubMatShape`` (arith/matmat_prot.cc:180-223): the block shape of a product,
    minimising 1000 x (ciphertexts sent + received) + automorphisms + block products / 10."""
    best, min_cost = (0, 0, 0), math.inf
    for d0 in range(1, min(SLOTS, m) + 1):
        b0 = _cdiv(m, d0)
        d1 = 1
        while d1 <= k and d0 * d1 <= SLOTS:
            b1 = _cdiv(k, d1)
            d2 = min(n, SLOTS // d0 // d1)
            b2 = _cdiv(n, d2)
            automorph = 0 if disable_pack else _cdiv(m * n, SLOTS) * d1
            cost = (min(b0, b2) * b1 + _cdiv(b0 * b2, d1)) * 1000.0 + automorph + b0 * b1 * b2 / 10.0
            if cost <= min_cost:
                min_cost, best = cost, (d0, d1, d2)
            d1 = d1 + 1 if disable_pack else d1 * 2
    return best


class DotPlan(NamedTuple):
    """What one ``CheetahDot`` product sends: ciphertexts out, ciphertexts back, bytes of both."""

    sent: int
    back: int
    nbytes: float


@lru_cache(maxsize=4096)
def dot_plan(m: int, k: int, n: int) -> DotPlan:
    """One ``DotOLE`` of an ``m x k`` by a ``k x n`` share (``CheetahDot::Impl::doDotOLE``,
    arith/cheetah_dot.cc:739-824): the operand with fewer blocks is encrypted and sent, the masked result
    comes back packed (``rlwes``: ``ceil(b0 b2 / d1)`` ciphertexts; ``lwes``: ``ceil(m n / 8192)``) or,
    when the result is one block, unpacked (one sparse ciphertext per output block)."""
    d = (m, k, n)
    sub = sub_mat_shape(m, k, n)
    blk = [_cdiv(d[i], sub[i]) for i in range(3)]
    pack = "none" if blk[0] * blk[2] <= 1 else ("rlwes" if sub[1] < m * n else "lwes")
    sub = sub_mat_shape(m, k, n, pack == "none")  # cheetah_dot.cc:780-785
    blk = [_cdiv(d[i], sub[i]) for i in range(3)]
    sent = min(blk[0] * blk[1], blk[1] * blk[2])  # cheetah_dot.cc:787-790
    if pack == "rlwes":
        back = _cdiv(blk[0] * blk[2], sub[1])
        nbytes = back * DOT_RESPONSE_CT_BYTES
    elif pack == "lwes":
        back = _cdiv(m * n, SLOTS)
        nbytes = back * DOT_RESPONSE_CT_BYTES
    else:
        back, nbytes = blk[0] * blk[2], 0.0
        for rb in range(blk[0]):
            rows = min(sub[0], m - rb * sub[0])
            for cb in range(blk[2]):
                slots = rows * min(sub[2], n - cb * sub[2])
                full = sub[0] * sub[2] == SLOTS and slots == SLOTS
                nbytes += DOT_RESPONSE_CT_BYTES if full else DOT_SPARSE_BASE_BYTES + DOT_SPARSE_SLOT_BYTES * slots
    return DotPlan(sent, back, sent * DOT_SENT_CT_BYTES + nbytes)


def mmul_bytes(m: int, k: int, n: int) -> float:
    """Bytes (both parties) of one ``mmul_aa`` of an ``m x k`` by a ``k x n`` secret: ``MatMulAA``
    (arithmetic.cc:420-457) runs two mirrored :func:`dot_plan` products at once (one per cross term, on
    the main and the duplicated link), so each party sends one product's ciphertexts and the other's
    responses."""
    return 2.0 * dot_plan(m, k, n).nbytes


#: ``mulDirectly``'s ``MulShare`` per slot block, all CRT contexts (bytes): both operands' encryptions
#: go out and one masked response comes back (arith/cheetah_mul.cc ``MulShare``, ``FMAThenResponse``).
#: Fitted: SPU's one measured direct product (the 20,000-value ``mul_aa`` of ``inv_sqrt`` on 10,000
#: values, 4 blocks); the 284 blocks of the vit-cifar layer run then land within 0.01 % of it.
MUL_SHARE_BLOCK_BYTES = 1_787_634


@dataclass(frozen=True, kw_only=True)
class CheetahSession(Cheetah):
    """Cheetah priced as one SPU session runs it: kernel by kernel, in order, with the session's state.

    Costs are not memoised (each call changes :attr:`state`); the Beaver cache refills and OT
    instance set-ups fall where SPU's would.
    """

    state: CheetahState = field(default_factory=CheetahState, compare=False, hash=False)

    def cost(self, op, shape) -> Cost:
        return Protocol.cost(self, op, shape)

    def _times(self, k: int, fn, *args) -> Cost:
        cost = ZERO
        for _ in range(k):
            cost = cost + fn(*args)
        return cost

    def replay(self, items) -> list[tuple[Cost, KernelTally]]:
        """Price ``(op, shape)`` items one after another in this session; return each one's cost and
        kernel tally (calls and bytes per kernel)."""
        out = []
        for op, shape in items:
            with KernelTally() as tally:
                cost = self.cost(op, tuple(shape))
            out.append((cost, tally))
        return out

    def _refill(self, n: int) -> tuple[int, int]:
        blocks = self.state.take_triples(n)
        return blocks, int(blocks > 0)

    def _ot_events(self, pieces: list[int], per_element: tuple[int, int]) -> float:
        setups, boots = self.state.take_cots(pieces, per_element)
        return setups * OT_INSTANCE_SETUP_BYTES + boots * FERRET_BOOTSTRAP_BYTES


CHEETAH_2PC = register(Cheetah())
