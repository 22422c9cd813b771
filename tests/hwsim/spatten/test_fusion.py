"""Fused head pairs (design.hbm.fuse_pairs): 6-bit K and V of K/V heads 2g, 2g+1 in one aligned vector."""

from __future__ import annotations

import pytest
import workloads

from conftest import SHARED
from hwsim import load_design, load_policy
from hwsim.spatten import simulate
from tiny_workload import TinyTrace

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"


@pytest.fixture(scope="module")
def replays():
    wl = workloads.resolve(str(CSV))
    return {f: simulate(wl, load_design("spatten", [f"hbm.fuse_pairs={f}"]), None, seed=0).summary
            for f in ("kv", "k", "none")}


def test_fused_vectors_cross_the_bus_as_asked(replays):
    """96 B fused vectors are whole granules: the bus moves the payload; 48 B ones straddle (+14 % K, +30 % V)."""
    kv, k, none = replays["kv"], replays["k"], replays["none"]
    for r in (kv, k, none):  # what the rows ask for does not depend on the layout
        assert r["dram_payload_bytes_by_kind"] == none["dram_payload_bytes_by_kind"]
    assert kv["dram_bytes_by_kind"]["k_msb"] == kv["dram_payload_bytes_by_kind"]["k_msb"]
    assert kv["dram_bytes_by_kind"]["v"] == kv["dram_payload_bytes_by_kind"]["v"]
    assert k["dram_bytes_by_kind"]["v"] == none["dram_bytes_by_kind"]["v"]  # 'k' leaves V unfused
    assert none["dram_bytes_by_kind"]["k_msb"] / none["dram_payload_bytes_by_kind"]["k_msb"] == pytest.approx(1.14, abs=0.01)
    assert none["dram_bytes_by_kind"]["v"] / none["dram_payload_bytes_by_kind"]["v"] == pytest.approx(1.30, abs=0.01)
    # the K LSB plane is per head in every layout (the requantization profile is unfused)
    assert kv["dram_bytes_by_kind"]["k_lsb"] == none["dram_bytes_by_kind"]["k_lsb"]


def test_a_trace_pair_fetches_its_keys_once_and_the_union_of_its_values():
    # 2 K/V heads (one fused pair), 6-bit K and V, every token kept: K crosses the bus once as 96 B vectors,
    # V as the union of the two heads' local-V selections (the bus may carry more V than either head asked for)
    trace = TinyTrace(layers=1, heads=2, kv_heads=2, tokens=64, seed=4)
    policy = load_policy("spatten-bert", ["token_pruning.enabled=false", "head_pruning.enabled=false",
                                          "local_v.enabled=true", "local_v.keep=0.25", "quantization.key_bits=6",
                                          "quantization.value_bits=6"])
    fused = simulate(trace, load_design("spatten"), policy).summary
    apart = simulate(trace, load_design("spatten", ["hbm.fuse_pairs=none"]), policy).summary
    assert fused["dram_payload_bytes_by_kind"] == apart["dram_payload_bytes_by_kind"]
    assert fused["dram_bytes_by_kind"]["k_msb"] == 64 * 96 == fused["dram_payload_bytes_by_kind"]["k_msb"]
    assert apart["dram_bytes_by_kind"]["k_msb"] == 2 * 64 * 48  # contiguous: no straddle
    assert fused["dram_bytes_by_kind"]["v"] >= fused["dram_payload_bytes_by_kind"]["v"]
    assert fused["attention_rel_error_ratio"] == apart["attention_rel_error_ratio"]  # the layout computes the same


def test_an_odd_head_out_is_stored_alone():
    # 3 K/V heads: heads 0 and 1 fused, head 2 alone; fusion changes no number of head 2
    trace = TinyTrace(layers=1, heads=3, kv_heads=3, tokens=32, seed=5)
    policy = load_policy("spatten-bert", ["token_pruning.enabled=false", "head_pruning.enabled=false",
                                          "quantization.key_bits=6", "quantization.value_bits=6"])
    fused = simulate(trace, load_design("spatten"), policy)
    apart = simulate(trace, load_design("spatten", ["hbm.fuse_pairs=none"]), policy)
    lone = [(r["dram_k_msb_bytes"], r["dram_v_bytes"]) for r in fused.heads if r["head"] == 2]
    assert lone and lone[0][0] > 0
    assert lone == [(r["dram_k_msb_bytes"], r["dram_v_bytes"]) for r in apart.heads if r["head"] == 2]
    k_msb = lambda r: [h["dram_k_msb_bytes"] for h in r.heads if h["head"] < 2]  # noqa: E731
    # every key kept, so the 48 B vectors are contiguous: the same bytes, moved once by the pair's first head
    assert k_msb(fused) == [32 * 96, 0] and k_msb(apart) == [32 * 48, 32 * 48]
