"""Baseline: a Batcher odd-even merge sorter at the same lanes (what SpAtten compares against).

SpAtten (HPCA 2021, §4 "Top-k engine"; docs/sources.md SpAtten §3.1) reports 1.4x the
throughput of a Batcher odd-even merge sorter at n = 1024 in the worst case (median selection)
and 3.5x less power; the sorter's configuration is not given. This module declares one:

* the network itself: :func:`oddeven_merge_sort_network` builds Batcher's comparator list for a
  power-of-two ``n`` (``(p^2 - p + 4) 2^(p-2) - 1`` comparators, depth ``p (p + 1) / 2`` for
  ``n = 2^p``), and :func:`apply_network` runs it;
* :class:`MergeSorterModel`, a streaming sorter with ``lanes`` lanes: a fully pipelined
  ``lanes``-input odd-even merge *sorting* network turns the stream into sorted runs of
  ``lanes`` (at the input rate ``min(in_lanes, lanes)`` per cycle: its network takes ``lanes`` a cycle),
  then ``ceil(log2(runs))`` merge passes through a ``2 lanes``-input odd-even *merging* network
  that emits ``lanes`` elements per cycle; each pass waits for the previous one and adds the
  merger's pipeline depth; the last pass stops after the ``k`` largest. Its output is sorted by
  score, not in input order (restoring the order would cost another pass, not counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import HwsimError
from .params import check_power_of_two

__all__ = [
    "oddeven_merge_sort_network",
    "apply_network",
    "network_depth",
    "sort_comparators",
    "merge_comparators",
    "MergeSorterModel",
]


def _merge(lo: int, n: int, r: int, out: list) -> None:
    step = r * 2
    if step < n:
        _merge(lo, n, step, out)
        _merge(lo + r, n, step, out)
        out.extend((i, i + r) for i in range(lo + r, lo + n - r, step))
    else:
        out.append((lo, lo + r))


def _sort(lo: int, n: int, out: list) -> None:
    if n > 1:
        half = n // 2
        _sort(lo, half, out)
        _sort(lo + half, half, out)
        _merge(lo, n, 1, out)


def oddeven_merge_sort_network(n: int) -> list[tuple[int, int]]:
    """Batcher's odd-even merge sort for ``n`` (a power of two) inputs as comparator pairs ``(i, j)``, i < j.

    A comparator puts the larger value on ``i`` (descending sort).
    """
    if type(n) is not int or n < 1 or n & (n - 1):
        raise HwsimError(f"a sorting network needs a power-of-two size, not {n!r}")
    out: list[tuple[int, int]] = []
    _sort(0, n, out)
    return out


def apply_network(network: list[tuple[int, int]], values) -> np.ndarray:
    """Run a comparator network on ``values`` (descending: larger value to the lower index)."""
    v = np.array(values, copy=True)
    for i, j in network:
        if v[i] < v[j]:
            v[i], v[j] = v[j], v[i]
    return v


def network_depth(network: list[tuple[int, int]], n: int) -> int:
    """Comparator stages of a network (each wire in at most one comparator per stage)."""
    level = [0] * n
    for i, j in network:
        d = max(level[i], level[j]) + 1
        level[i] = level[j] = d
    return max(level, default=0)


def sort_comparators(n: int) -> int:
    """Comparators of Batcher's odd-even merge sort of ``n = 2^p`` inputs: ``(p^2 - p + 4) 2^(p-2) - 1``."""
    p = n.bit_length() - 1
    if n == 1:
        return 0
    return (p * p - p + 4) * 2 ** (p - 2) - 1 if p >= 2 else 1


def merge_comparators(m: int) -> int:
    """Comparators of Batcher's odd-even merge of two sorted lists of ``m = 2^q``: ``m q + 1``."""
    return m * (m.bit_length() - 1) + 1


@dataclass(frozen=True)
class MergeSorterModel:
    """The streaming merge sorter declared in the module docstring (cycles per selection)."""

    lanes: int = 16
    in_lanes: int = 8

    def __post_init__(self) -> None:
        check_power_of_two("lanes", self.lanes)
        check_power_of_two("in_lanes", self.in_lanes)

    @property
    def comparators(self) -> int:
        """Comparators: the ``lanes``-input sorting network plus the ``2 lanes``-input merger."""
        return sort_comparators(self.lanes) + merge_comparators(self.lanes)

    @property
    def sort_depth(self) -> int:
        p = self.lanes.bit_length() - 1
        return p * (p + 1) // 2

    @property
    def merge_depth(self) -> int:
        return self.lanes.bit_length()  # log2(2 lanes) stages

    def passes(self, n: int) -> int:
        """Merge passes to turn ``ceil(n / lanes)`` runs into one."""
        runs = -(-n // self.lanes)
        return math.ceil(math.log2(runs)) if runs > 1 else 0

    def cycles(self, n: int, k: int) -> int:
        """Cycles from the first input to the k-th largest out, for ``n`` scores."""
        if not 1 <= k <= n:
            raise HwsimError(f"k must be an integer from 1 to n = {n}, not {k}")
        rows = -(-n // self.lanes)
        t = -(-n // min(self.in_lanes, self.lanes)) + self.sort_depth
        passes = self.passes(n)
        if passes == 0:
            return t
        t += (passes - 1) * (rows + self.merge_depth)
        return t + -(-k // self.lanes) + self.merge_depth
