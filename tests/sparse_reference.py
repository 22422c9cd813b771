"""Brute-force per-cycle reference of the sparse engines (tests only).

It builds each fold's explicit schedule -- which MAC every PE does in which cycle, with the operand
skew of a systolic array -- executes it to compute the layer's output, and counts the cycles. It
shares nothing with golden.py but the declared microarchitecture (its docstring).
"""

from __future__ import annotations

import numpy as np


def _fold(rng, size):
    return [list(range(s, min(s + size, rng))) for s in range(0, rng, size)]


def simulate(engine: str, dataflow: str, a: np.ndarray, w: np.ndarray, a_mask: np.ndarray, w_mask: np.ndarray,
             rows: int, cols: int, *, n_of_m: tuple[int, int] | None = None, balance: bool = False):
    """Return (output m x n, cycles) of the schedule; asserts one MAC per PE per cycle."""
    m, k = a.shape
    n = w.shape[0]
    out = np.zeros((m, n))
    busy: set[tuple[int, int, int]] = set()
    cycle0 = 0

    def mac(c, i, j, mm, nn, kk):
        assert (c, i, j) not in busy
        busy.add((c, i, j))
        out[mm, nn] += a[mm, kk] * w[nn, kk]

    keep = np.ones_like(w_mask) if engine == "dense" else w_mask
    kept = [np.flatnonzero(keep[j]) for j in range(n)]
    order = list(range(n))
    if engine == "dual-sparse" and balance:
        order = sorted(range(n), key=lambda j: -len(kept[j]))
    if dataflow == "os":
        for fc in _fold(n, cols):
            fc = [order[x] for x in fc]
            for fr in _fold(m, rows):
                queues = {}
                for i, mm in enumerate(fr):
                    for j, nn in enumerate(fc):
                        ks = kept[nn]
                        if engine == "dual-sparse":
                            ks = [kk for kk in ks if a_mask[mm, kk]]
                        queues[i, j] = ks
                steps = max(len(q) for q in queues.values())
                for (i, j), ks in queues.items():
                    for t, kk in enumerate(ks):
                        mac(cycle0 + t + i + j, i, j, fr[i], fc[j], kk)
                cycle0 += steps + rows + cols - 2
    elif dataflow == "ws":
        for fc in _fold(n, cols):
            # each filter's kept K positions packed into row folds of `rows`
            longest = max(len(kept[nn]) for nn in fc)
            for f in range(-(-longest // rows)):
                for j, nn in enumerate(fc):
                    for i in range(rows):
                        q = f * rows + i
                        if q >= len(kept[nn]):
                            continue
                        kk = kept[nn][q]
                        for t in range(m):  # inputs streamed after `rows` cycles of weight load
                            mac(cycle0 + rows + t + i + j, i, j, t, nn, kk)
                cycle0 += 2 * rows + cols + m - 2
    else:  # is
        if engine == "nm":
            nn_, mm_ = n_of_m
            # compressed K axis: position q of block b holds the q-th kept weight of each filter's block
            kc = k // mm_ * nn_
            for fr in _fold(kc, rows):
                for fcm in _fold(m, cols):
                    for t in range(n):
                        for i, q in enumerate(fr):
                            kk = kept[t][q]
                            for j, mm in enumerate(fcm):
                                mac(cycle0 + rows + t + i + j, i, j, mm, t, kk)
                    cycle0 += 2 * rows + cols + n - 2
        else:
            for fr in _fold(k, rows):
                live = [nn for nn in range(n) if keep[nn, fr].any()]
                if not live:
                    continue
                for fcm in _fold(m, cols):
                    for t, nn in enumerate(live):
                        for i, kk in enumerate(fr):
                            if not keep[nn, kk]:
                                continue
                            for j, mm in enumerate(fcm):
                                mac(cycle0 + rows + t + i + j, i, j, mm, nn, kk)
                    cycle0 += 2 * rows + cols + len(live) - 2
    return out, cycle0
