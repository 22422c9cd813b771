"""The authors' top-k latency model, re-implemented for comparison (``references/spatten.md`` §3.4).

Released code ``sim/TopKLatencyModel.scala`` (mit-han-lab/spatten): random 31-bit scores, a pivot
drawn uniformly from the current set, every round costs ``ceil(m / P) + 3`` cycles (m = set
size, P = parallelism) and the search recurses into the side that holds the target rank. It
models the quick-select phase only (no fill, no filter pass). Our engine's rounds cost
``ceil(m / P) + 4`` (the extra cycle is the decision, as in the authors' C++ model ``bert.cpp``:
``3 + 1``) and its pivot comes from an LFSR instead of a software RNG.
"""

from __future__ import annotations

import numpy as np

from ...errors import HwsimError

__all__ = ["authors_quickselect_cycles", "AUTHORS_ROUND_OVERHEAD_CYCLES", "AUTHORS_TABLE"]

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
    out = np.zeros(trials, dtype=np.int64)
    for t in range(trials):
        seq = rng.integers(0, 2**31, size=n)
        target = n - k
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
        out[t] = cycles
    return out
