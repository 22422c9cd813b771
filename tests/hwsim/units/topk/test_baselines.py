"""Baselines: Batcher's odd-even merge sorter (network and streaming model), the authors' latency model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hwsim.errors import HwsimError
from hwsim.units.topk.authors import AUTHORS_TABLE, authors_quickselect_cycles
from hwsim.units.topk.sorter import (
    MergeSorterModel,
    apply_network,
    merge_comparators,
    network_depth,
    oddeven_merge_sort_network,
    sort_comparators,
)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16])
def test_network_sorts_every_zero_one_input(n):
    net = oddeven_merge_sort_network(n)
    for bits in itertools.product([0, 1], repeat=n):  # the 0-1 principle
        out = apply_network(net, bits)
        assert (np.diff(out) <= 0).all()


@pytest.mark.parametrize("n", [2, 4, 8, 16, 32, 64, 128, 1024])
def test_network_size_and_depth(n):
    net = oddeven_merge_sort_network(n)
    p = n.bit_length() - 1
    assert len(net) == sort_comparators(n)
    assert network_depth(net, n) == p * (p + 1) // 2
    if n >= 4:
        assert sort_comparators(n) == 2 * sort_comparators(n // 2) + merge_comparators(n // 2)
    x = np.random.default_rng(n).integers(0, 50, n)
    np.testing.assert_array_equal(apply_network(net, x), np.sort(x)[::-1])


def test_merge_sorter_model():
    s = MergeSorterModel(lanes=16, in_lanes=8)
    assert s.comparators == 63 + 65
    # n = 1024: 128 input cycles + depth 10; 64 runs -> 6 passes of 64 rows + 5 deep, the last
    # one stopping after 512 / 16 = 32 rows
    assert s.cycles(1024, 512) == 128 + 10 + 5 * (64 + 5) + (32 + 5)
    assert MergeSorterModel(lanes=4, in_lanes=4).cycles(3, 2) == 1 + 3  # one run: no merge pass
    with pytest.raises(HwsimError, match="^k must be an integer from 1 to n = 4, not 5$"):
        s.cycles(4, 5)
    with pytest.raises(HwsimError, match="^a sorting network needs a power-of-two size, not 12$"):
        oddeven_merge_sort_network(12)


def test_authors_model_reproduces_their_table():
    c = authors_quickselect_cycles(1024, 512, 16, trials=400, seed=1)
    assert abs(c.mean() - AUTHORS_TABLE[(1024, 512)]) < 0.08 * AUTHORS_TABLE[(1024, 512)]
    assert 50 < c.std() < 90  # "262 +- 70"
    small = authors_quickselect_cycles(64, 32, 16, trials=400, seed=2)
    assert abs(small.mean() - AUTHORS_TABLE[(64, 32)]) < 4
