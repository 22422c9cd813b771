"""The fetcher/HBM golden model: granules per channel and cycles."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.units.hbm import transfer, transfer_cycles, vector_bytes


def test_contiguous_fetch_spreads_over_all_channels():
    # 1024 keys x 64 dims x 8 bit = 64 KiB = 2048 granules of 32 B over 16 channels
    counts, bus, payload = transfer(np.arange(1024), vector_bytes(64, 8), interleave_bytes=32, channels=16)
    assert counts.tolist() == [128] * 16 and bus == payload == 65536
    # 512 GB/s at 1 GHz: 65536 B / 512 B per cycle = 128 cycles, plus latency
    assert transfer_cycles(counts, interleave_bytes=32, channel_bytes_per_cycle=32.0, latency_cycles=40) == 168


def test_sparse_vectors_share_and_overfetch_granules():
    vb = vector_bytes(64, 6)  # 48 bytes: 1.5 granules
    assert vb == 48
    counts, bus, payload = transfer(np.array([0, 1]), vb, interleave_bytes=32, channels=16)
    assert (bus, payload) == (96, 96) and counts[:3].tolist() == [1, 1, 1]
    counts, bus, payload = transfer(np.array([1, 5]), vb, interleave_bytes=32, channels=16)
    # vector 1: bytes 48..95 -> granules 1, 2; vector 5: bytes 240..287 -> granules 7, 8
    assert (bus, payload) == (128, 96) and np.flatnonzero(counts).tolist() == [1, 2, 7, 8]


def test_reference_count_against_python_loop():
    rng = np.random.default_rng(1)
    for _ in range(50):
        idx = np.sort(rng.choice(500, size=rng.integers(1, 200), replace=False))
        vb = int(rng.choice([8, 24, 32, 48, 96]))
        ch = int(rng.choice([1, 2, 16]))
        granules = sorted({g for j in idx for g in range(j * vb // 32, ((j + 1) * vb - 1) // 32 + 1)})
        expect = np.bincount(np.array(granules) % ch, minlength=ch)
        counts, bus, _ = transfer(idx, vb, interleave_bytes=32, channels=ch)
        np.testing.assert_array_equal(counts, expect)
        assert bus == 32 * len(granules)


def test_empty_and_odd_sizes():
    counts, bus, payload = transfer(np.array([], np.int64), 48, interleave_bytes=32, channels=16)
    assert bus == payload == 0
    assert transfer_cycles(counts, interleave_bytes=32, channel_bytes_per_cycle=32.0, latency_cycles=40) == 0
    with pytest.raises(ValueError):
        vector_bytes(3, 6)


def test_many_fetches_in_one_call_equal_one_by_one():
    """``fetch_many`` (a generation layer's V transfers in one call) gives each set's ``fetch``, empty sets included."""
    from hwsim.units.hbm import HbmParams, fetch, fetch_many

    rng = np.random.default_rng(7)
    for _ in range(30):
        params = HbmParams(channels=int(rng.choice([1, 4, 16])), interleave_bytes=32,
                           channel_bytes_per_cycle=float(rng.choice([8.0, 12.8, 32.0])), latency_cycles=40)
        sets = [np.sort(rng.choice(300, size=int(rng.integers(0, 40)), replace=False)) for _ in range(int(rng.integers(1, 10)))]
        vb = int(rng.choice([16, 24, 48, 96]))
        assert fetch_many(sets, vb, params) == [fetch(s, vb, params) for s in sets]
        assert any(f.busy for f in fetch_many(sets, vb, params)) == any(len(s) for s in sets)
    assert fetch_many([np.array([], np.int64)] * 3, 48, params) == [fetch(np.array([], np.int64), 48, params)] * 3


def test_new_fetches_equal_the_fetch_of_what_the_owner_has_not_fetched():
    """``fetch_new`` (each generation row's V, less what its group fetched) equals ``fetch`` of the set difference."""
    from hwsim.units.hbm import HbmParams, fetch, fetch_new

    rng = np.random.default_rng(11)
    for _ in range(30):
        params = HbmParams(channels=int(rng.choice([1, 4, 16])), interleave_bytes=32,
                           channel_bytes_per_cycle=float(rng.choice([8.0, 12.8, 32.0])), latency_cycles=40)
        n = int(rng.integers(1, 10))
        sets = [np.sort(rng.choice(300, size=int(rng.integers(0, 60)), replace=False)) for _ in range(n)]
        owners = rng.integers(0, 3, size=n).tolist()
        vb = int(rng.choice([16, 24, 48, 96]))
        seen: dict[int, np.ndarray] = {}
        expected = []
        for s, o in zip(sets, owners):
            before = seen.get(o, np.zeros(0, np.int64))
            f = fetch(np.setdiff1d(s, before), vb, params)
            expected.append((f.busy, f.bus_bytes, f.payload_bytes))
            seen[o] = np.union1d(before, s)
        got = fetch_new(sets, owners, vb, params, length=300 if rng.random() < 0.5 else None)
        assert list(zip(*got)) == expected
    assert fetch_new([np.array([3, 4])], [0], 0, params) == ([0], [0], [0])  # no bytes per vector: nothing moves


def test_one_set_at_several_widths_equals_a_fetch_per_width():
    """``fetch_widths`` (a layer's K, LSB plane and fused K pair in one call) gives ``fetch`` at each width, 0 included."""
    from hwsim.units.hbm import HbmParams, fetch, fetch_widths

    rng = np.random.default_rng(5)
    for _ in range(30):
        params = HbmParams(channels=int(rng.choice([1, 4, 16])), interleave_bytes=32,
                           channel_bytes_per_cycle=float(rng.choice([8.0, 12.8, 32.0])), latency_cycles=40)
        pos = np.sort(rng.choice(500, size=int(rng.integers(0, 120)), replace=False))
        widths = [int(w) for w in rng.choice([0, 8, 16, 24, 48, 96], size=3)]
        assert fetch_widths(pos, widths, params) == [fetch(pos, w, params) for w in widths]
