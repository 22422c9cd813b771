"""Memory side of the sparse engines: compressed bytes, SRAM tiling, overlap with the HBM; energy and area."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cost_models import sparse as cost
from hwsim.units.sparse import golden, masks
from hwsim.units.sparse.params import MemoryParams, SparsityParams, SystolicParams
from hwsim.units.sparse.timing import format_bits, hbm_cycles, layer_bytes, layer_timing


def test_format_bits():
    mask = np.zeros((4, 16), bool)
    mask[:, :4] = True  # 16 non-zeros
    assert format_bits("dense", mask, 8) == (512, 0)
    assert format_bits("bitmask", mask, 8) == (128, 64)
    assert format_bits("csr", mask, 8) == (128, 16 * 4 + 5 * 5)
    assert format_bits("nm", mask, 8, m=4) == (128, 32)


def test_tiling_refetches_what_does_not_fit():
    w_mask = np.ones((64, 128), bool)
    big = MemoryParams(ifmap_bytes=1 << 20, filter_bytes=1 << 20, ofmap_bytes=1 << 20)
    small = MemoryParams(ifmap_bytes=1024, filter_bytes=1024, ofmap_bytes=1024)
    dense = SparsityParams(engine="dense")
    for df in ("os", "ws", "is"):
        arr = SystolicParams(rows=8, cols=16, dataflow=df)
        fit = layer_bytes(arr, dense, big, m=32, w_mask=w_mask)
        assert fit == {"weight": 64 * 128, "metadata": 0, "input": 32 * 128, "output": 32 * 64}
        tight = layer_bytes(arr, dense, small, m=32, w_mask=w_mask)
        if df == "is":
            assert tight["weight"] == 64 * 128 * math.ceil(32 / 16) and tight["input"] == 32 * 128
        else:
            assert tight["input"] == 32 * 128 * math.ceil(64 / 16) and tight["weight"] == 64 * 128
        assert tight["output"] == 32 * 64 * (1 if df == "os" else 2 * 16 - 1)


def test_total_cycles_overlap_compute_and_hbm():
    mem = MemoryParams()
    arr = SystolicParams(rows=32, cols=32, dataflow="os")
    w_mask = masks.bernoulli_mask((256, 1024), 0.5, seed=0)
    for m in (1, 512):  # one token: HBM-bound; many: compute-bound
        eng = golden.weight_sparse_cycles(w_mask, m, arr)
        t = layer_timing(eng, arr, SparsityParams(engine="weight-sparse"), mem, m=m, w_mask=w_mask)
        assert t.total_cycles == max(t.compute_cycles, t.hbm_cycles)
        # granules of 32 B over 16 channels, 32 B per channel-cycle, plus the read latency once
        assert t.hbm_cycles == math.ceil(math.ceil(t.dram_bytes / 32) / 16) + mem.latency_cycles
    slow = MemoryParams(channels=1, channel_bytes_per_cycle=4.0)  # 4 B/cycle: HBM-bound
    eng = golden.weight_sparse_cycles(w_mask, 1, arr)
    t = layer_timing(eng, arr, SparsityParams(engine="weight-sparse"), slow, m=1, w_mask=w_mask)
    assert t.total_cycles == t.hbm_cycles == math.ceil(t.dram_bytes / 32) * 8 + slow.latency_cycles > eng.compute_cycles
    assert hbm_cycles(0, mem) == 0
    assert hbm_cycles(32 * 16, mem) == 1 + mem.latency_cycles


def test_energy_and_area():
    e = cost.layer_energy_pj(effectual_macs=1000, dram_bytes=100, sram_bytes=500, bits=8, node_nm=40,
                             sram_capacity_bytes=65536)
    assert e["energy_pj"] == pytest.approx(e["mac_energy_pj"] + e["sram_energy_pj"] + e["dram_energy_pj"])
    assert e["dram_energy_pj"] == pytest.approx(100 * 8 * 3.9)
    assert cost.mac_energy_pj(16, 40) > cost.mac_energy_pj(8, 40) > 0
    a = cost.engine_area_mm2(rows=32, cols=32, bits=8, node_nm=40, sram_bytes=(65536,) * 3)
    b = cost.engine_area_mm2(rows=64, cols=32, bits=8, node_nm=40, sram_bytes=(65536,) * 3)
    assert b["array_area_mm2"] == pytest.approx(2 * a["array_area_mm2"])
