"""The authors' top-k latency model, re-implemented for comparison (docs/sources.md SpAtten §3.4).

Released code ``sim/TopKLatencyModel.scala`` (mit-han-lab/spatten): random 31-bit scores, a pivot
drawn uniformly from the current set, every round costs ``ceil(m / P) + 3`` cycles (m = set
size, P = parallelism) and the search recurses into the side that holds the target rank. It
models the quick-select phase only (no fill, no filter pass). Our engine's rounds cost
``ceil(m / P) + 4`` (the extra cycle is the decision, as in the authors' C++ model ``bert.cpp``:
``3 + 1``) and its pivot comes from an LFSR instead of a software RNG.

The authors' trace simulation (``sim/TestSpAtten.scala``) never runs a real engine: it builds
``TopKDummy`` (``TopK.scala``; ``SpAtten.scala:35`` ``useDummyTopK = true``), which holds the first
beat of a request until ``topk_latency`` cycles (this model, called with ``key_fetch_num`` and
``value_fetch_num``) have passed since it reached the head of the queue, then passes every beat of
the request through at one per cycle, the discarded ones included, before the next request's
count starts: :func:`dummy_occupancy_cycles`. The testbench sets ``topk_latency = 0`` for the
second request of every fused pair of 6-bit heads (``TestSpAtten.scala``: ``batch_part_id % 2``).
"""

from __future__ import annotations

import numpy as np

from ...errors import HwsimError

__all__ = ["authors_quickselect_cycles", "authors_latency_cycles", "dummy_occupancy_cycles",
           "AUTHORS_ROUND_OVERHEAD_CYCLES", "AUTHORS_TABLE"]

#: Cycles per round on top of ceil(m / P) in TopKLatencyModel.scala.
AUTHORS_ROUND_OVERHEAD_CYCLES = 3

#: Means of the authors' model at P = 16 from spatten.md §3.4 (n, k) -> cycles ([D], 200 trials).
AUTHORS_TABLE = {(64, 32): 37, (128, 64): 58, (256, 32): 75, (512, 128): 136, (1024, 512): 262,
                 (1024, 128): 213, (993, 204): 234, (2048, 64): 342, (4096, 32): 586}


def authors_quickselect_cycles(n: int, k: int, parallelism: int, trials: int, seed: int = 0) -> np.ndarray:
    """Cycles of the authors' model for ``trials`` random inputs: int64 array [trials].

    The k largest of n are found as the element of ascending rank ``n - k`` (0-based), the
    authors' ``target``; for the median (k = n / 2) this is their ``(1024, 512)`` case.
    """
    if not 1 <= k <= n:
        raise HwsimError(f"k must be an integer from 1 to n = {n}, not {k}")
    rng = np.random.default_rng(seed)
    return np.array([authors_latency_cycles(n, n - k, parallelism, rng) for _ in range(trials)], dtype=np.int64)


def authors_latency_cycles(n: int, target: int, parallelism: int, rng: np.random.Generator) -> int:
    """One run of ``TopKLatencyModel.topKLatency(n, target, parallelism)`` on fresh random scores (cycles).

    ``target`` is the 0-based ascending rank searched for; the search ends when the pivot's rank
    range holds it or the set runs empty (``target >= n``: every round recurses to the upper side
    until nothing is left, as theirs does).
    """
    seq = rng.integers(0, 2**31, size=n)
    cycles = 0
    while seq.size:
        cycles += -(-seq.size // parallelism) + AUTHORS_ROUND_OVERHEAD_CYCLES
        pivot = seq[rng.integers(0, seq.size)]
        less = seq[seq < pivot]
        eq = int((seq == pivot).sum())
        if less.size <= target < less.size + eq:
            break
        if less.size > target:
            seq = less
        else:
            target -= less.size + eq
            seq = seq[seq > pivot]
    return cycles


def dummy_occupancy_cycles(n: int, latency: int, *, beat: int) -> int:
    """Cycles ``TopKDummy`` holds the engine for a request of ``n`` scores in beats of ``beat``.

    ``latency`` is the request's ``topk_latency`` (:func:`authors_latency_cycles`, or 0 for the
    second head of a fused 6-bit pair); the ``ceil(n / beat)`` beats then leave one per cycle.
    """
    return int(latency) + -(-int(n) // int(beat))
