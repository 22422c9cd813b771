"""Rows longer than one SRAM load (design.sram.tiling, hwsim.units.tiling): untiled where it fits, hand-counted bytes
where it does not, the hierarchical top-k inside the pipeline, and refusals only for what a design cannot do."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.config import load_design, load_policy
from hwsim.errors import HwsimError
from hwsim.spatten import check_fits, simulate
from hwsim.spatten import functional
from hwsim.spatten.functional import attend, quantize_layer
from hwsim.spatten.units import SpattenUnits
from hwsim.units.tiling import TilingParams
from tiny_workload import TinyTrace

#: one 64-dim key at 12 bits (the datapath) = 96 bytes = three 32-byte HBM granules
VEC = 64 * 12 // 8


def _summary(trace, design_sets, policy="spatten-gpt2", policy_sets=()):
    r = simulate(trace, load_design("spatten", list(design_sets)), load_policy(policy, list(policy_sets)), seed=0)
    s = dict(r.summary)
    for k in ("provenance", "design"):
        s.pop(k, None)
    return s, r


@pytest.mark.parametrize("trace", [
    TinyTrace(layers=3, heads=4, tokens=64, seed=1),
    TinyTrace(layers=3, heads=4, kv_heads=2, tokens=60, mode="decoder", generate=4, seed=2),
], ids=["encoder", "decoder"])
def test_a_workload_that_fits_runs_exactly_as_untiled(trace):
    """Tiling on (the default), off, and on with tiny query blocks: the same bytes, cycles and energy."""
    tiled, _ = _summary(trace, [])
    untiled, _ = _summary(trace, ["sram.tiling=none"])
    blocks, _ = _summary(trace, ["sram.query_block=1"])
    assert tiled == untiled == blocks


def _busy(result, unit):
    """A unit's busy cycles over every (layer, head) row of the per-head table."""
    return sum(h[f"{unit}_busy_cycles"] for h in result.heads)


def _one_head(tokens, **kw):
    return TinyTrace(layers=1, heads=1, tokens=tokens, seed=4, **kw)


def test_two_tiles_two_blocks_by_hand():
    """40 keys, a buffer of 20 (key_bytes = 2 x 20 x 96), blocks of 20 queries, no pruning, 12-bit K.

    Each of the 2 query blocks reads K twice (statistics pass, then the normalizing pass):
    4 x 40 x 96 = 15,360 bytes of K instead of 3,840; Q and V are read once.
    """
    trace = _one_head(40)
    sets = [f"sram.key_bytes={2 * 20 * VEC}", f"sram.value_bytes={2 * 20 * VEC}", "sram.query_block=20"]
    _, flat = _summary(trace, [], policy="none")
    _, tiled = _summary(trace, sets, policy="none")
    fd, td = flat.summary["dram_bytes_by_kind"], tiled.summary["dram_bytes_by_kind"]
    assert fd["k_msb"] == 40 * VEC
    assert td["k_msb"] == 2 * 2 * 40 * VEC
    assert td["q"] == fd["q"] == 40 * VEC
    # no local V: every row uses every V; more than one buffer of V, so each block reads the V it uses: all 40
    assert fd["v"] == 40 * VEC and td["v"] == 2 * 40 * VEC
    # every row runs Q x K and softmax twice, and the summary says so
    assert _busy(tiled, "qk") == 2 * _busy(flat, "qk")
    assert (tiled.summary["two_pass_fraction"], flat.summary["two_pass_fraction"]) == (1.0, 0.0)
    assert tiled.summary["latency_cycles"] > flat.summary["latency_cycles"]
    # the numbers the hardware computes do not change
    assert tiled.summary["attention_rel_error_ratio"] == flat.summary["attention_rel_error_ratio"]


def test_a_row_longer_than_the_softmax_fifo_runs_two_passes_without_refetching():
    """K fits its buffer, the row does not fit the FIFO (8 x 8 = 64 exponentials): two passes, K read once."""
    trace = _one_head(100)
    _, flat = _summary(trace, [], policy="none")
    _, two = _summary(trace, ["softmax.fifo_depth=8"], policy="none")
    assert two.summary["dram_bytes_by_kind"] == flat.summary["dram_bytes_by_kind"]
    assert _busy(two, "qk") == 2 * _busy(flat, "qk")
    assert _busy(two, "softmax") == 2 * _busy(flat, "softmax")


def test_progressive_rows_take_a_third_pass_and_stream_the_lsb_plane_twice():
    """6+4-bit K with every row below the threshold: MSB statistics, full-precision statistics, normalize."""
    trace = _one_head(40)
    pol = ["quantization.threshold=1.0"]  # every row re-fetches its LSBs
    sets = [f"sram.key_bytes={2 * 20 * VEC}", f"sram.value_bytes={2 * 20 * VEC}", "sram.query_block=40"]
    _, flat = _summary(trace, [], policy_sets=pol + ["token_pruning.enabled=false"])
    _, tiled = _summary(trace, sets, policy_sets=pol + ["token_pruning.enabled=false"])
    fd, td = flat.summary["dram_bytes_by_kind"], tiled.summary["dram_bytes_by_kind"]
    assert flat.summary["lsb_refetch_fraction"] == tiled.summary["lsb_refetch_fraction"] == 1.0
    assert td["k_msb"] == 3 * fd["k_msb"]  # one block: 2 + requant passes over the MSB plane
    assert td["k_lsb"] == 2 * fd["k_lsb"]  # both full-precision passes
    # per row: untiled 2 passes (MSB, full), tiled 3
    assert 2 * _busy(tiled, "qk") == 3 * _busy(flat, "qk")


def test_generation_streams_k_once_per_pass():
    """A decoder step over more keys than one buffer reads its group's K per pass (2 without LSBs)."""
    trace = TinyTrace(layers=1, heads=2, kv_heads=1, tokens=50, mode="decoder", generate=3, seed=5)
    pol = ["token_pruning.enabled=false", "local_v.enabled=false", "quantization.mode=static",
           "quantization.key_bits=12", "quantization.value_bits=12", "quantization.query_bits=12"]
    sets = [f"sram.key_bytes={2 * 10 * VEC}", f"sram.value_bytes={2 * 100 * VEC}", "sram.query_block=1024"]
    _, flat = _summary(trace, [], policy_sets=pol)
    _, tiled = _summary(trace, sets, policy_sets=pol)
    prompt_k = 47 * VEC  # one prompt block of 47 queries over 47 keys: 2 passes in the tiled run
    steps_k = sum(n * VEC for n in (48, 49, 50))
    assert flat.summary["dram_bytes_by_kind"]["k_msb"] == prompt_k + steps_k
    assert tiled.summary["dram_bytes_by_kind"]["k_msb"] == 2 * (prompt_k + steps_k)


def test_hierarchical_local_v_keeps_the_same_values_at_other_cycles():
    """A 200-key row on an engine of max_n = 64: the kept V (and so every output) are the flat selection's."""
    trace = TinyTrace(layers=2, heads=2, tokens=200, seed=6)
    pol = ["token_pruning.enabled=false", "local_v.keep=0.2"]
    flat, fr = _summary(trace, [], policy_sets=pol)
    tiled, tr = _summary(trace, ["topk.max_n=64"], policy_sets=pol)
    assert fr.summary["dram_bytes_by_kind"] == tr.summary["dram_bytes_by_kind"]
    assert fr.summary["attention_rel_error_ratio"] == tr.summary["attention_rel_error_ratio"]
    assert _busy(tr, "topk") > _busy(fr, "topk")


def test_query_chunks_give_the_unchunked_rows(monkeypatch):
    """Long contexts run their queries in chunks of whole blocks: the same rows, V sets and outputs."""
    trace = TinyTrace(layers=1, heads=4, kv_heads=2, tokens=96, seed=7)
    units = SpattenUnits.from_design(load_design("spatten", ["sram.query_block=16", f"sram.key_bytes={2 * 32 * VEC}"]),
                                     64, policy=load_policy("spatten-gpt2"))
    raw = (trace.q(0), np.asarray(trace.k(0), np.float32), np.asarray(trace.v(0), np.float32))
    ql = quantize_layer(np.asarray(raw[0], np.float32), raw[1], raw[2], units.quant)
    kw = dict(q_pos=np.arange(96), k_pos=np.arange(96), heads_alive=np.ones(4, bool), group_size=2, causal=False,
              scale=trace.scale, units=units, local_v_keep=0.25, fidelity_rows=16)
    whole = attend(ql, raw, **kw)
    monkeypatch.setattr(functional, "_CHUNK_ELEMENTS", 2 * 96 * 32)  # chunks of 32 queries
    parts = attend(ql, raw, **kw)
    for a, b in zip(whole.heads, parts.heads):
        for f in ("n_keys", "requant", "n_values", "topk_cycles", "topk_fill", "topk_filter", "v_pos"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        # BLAS may round a chunk's float32 scores differently in the last bit (its kernels depend on the
        # shape), which flips a few probabilities by one 12-bit fixed-point step (2^-12) before prob x V
        # (seen on an AMD EPYC: 7e-6 of a head's sum); every integer field above stays exact
        assert a.abs_out_sum == pytest.approx(b.abs_out_sum, rel=1e-4)
    np.testing.assert_allclose(whole.token_importance, parts.token_importance, rtol=1e-6)
    for g in whole.group_v_used:
        np.testing.assert_array_equal(whole.group_v_used[g], parts.group_v_used[g])
        assert [(list(p), r) for p, r in whole.group_blocks[g]] == [(list(p), r) for p, r in parts.group_blocks[g]]
    assert (whole.err_sq, whole.sampled_rows) == pytest.approx((parts.err_sq, parts.sampled_rows), rel=1e-6)


def test_minilm_runs_on_spatten_eighth():
    """The demo workload (512 tokens) on SpAtten1/8: K streamed through 256-key buffers, rows longer than its FIFO."""
    import workloads

    wl = workloads.resolve("minilm")
    design = load_design("spatten-eighth")
    tiling = TilingParams.from_design(design, wl.head_dim)
    assert (tiling.key_tile, tiling.row_capacity) == (256, 128)
    with pytest.raises(HwsimError, match="sram.key_bytes / 2"):
        check_fits(wl, load_design("spatten-eighth", ["sram.tiling=none"]))
    r = simulate(wl, design, load_policy("spatten-bert"), seed=0)
    assert r.summary["latency_cycles"] > 0 and r.summary["dram_bytes_by_kind"]["k_msb"] > 0


def test_refuses_only_a_selection_no_tile_can_shrink():
    """k and n - k both >= max_n: one line naming topk.max_n and the size it needs, before any work."""
    trace = TinyTrace(layers=2, heads=2, tokens=200, seed=8)
    design = load_design("spatten", ["topk.max_n=64"])
    check_fits(trace, design, load_policy("spatten-gpt2", ["local_v.keep=0.2"]))  # k = 40 < 64: fine
    with pytest.raises(HwsimError) as e:
        check_fits(trace, design, load_policy("spatten-gpt2", ["local_v.keep=0.5"]))
    assert str(e.value) == ("workload 'tiny-encoder': the local-V selection keeps 100 of 200 scores; a hierarchical "
                            "top-k on design 'spatten' needs k or n - k below topk.max_n = 64; expected topk.max_n "
                            "of at least 101 (every selection of policy 'spatten-gpt2')")


@pytest.mark.parametrize("seed", range(4))
def test_smaller_buffers_and_blocks_only_add_traffic_and_time(seed):
    """Monotone in the tile plan: fewer keys per buffer or fewer queries per block never read less K or compute
    less, and never change a number the hardware computes. (Latency need not be monotone: a streamed group
    starts computing after its first tile, an untiled one after its whole fetch; a few cycles either way.)"""
    rng = np.random.default_rng(seed)
    mode = "decoder" if seed % 2 else "encoder"
    trace = TinyTrace(layers=2, heads=4, kv_heads=2 if mode == "decoder" else None, tokens=int(rng.integers(40, 90)),
                      mode=mode, generate=3 if mode == "decoder" else 0, seed=seed)
    runs = []
    for keys, block in ((1024, 128), (32, 128), (32, 16), (12, 16), (12, 4)):
        s, r = _summary(trace, [f"sram.key_bytes={2 * keys * VEC}", f"sram.query_block={block}"])
        runs.append({**s, "qk_busy": _busy(r, "qk"), "softmax_busy": _busy(r, "softmax")})
    assert runs[1]["qk_busy"] > runs[0]["qk_busy"]  # 32 keys per buffer: every row now takes two passes
    for a, b in zip(runs, runs[1:]):
        assert b["dram_bytes_by_kind"]["k_msb"] >= a["dram_bytes_by_kind"]["k_msb"]
        assert b["qk_busy"] >= a["qk_busy"] and b["softmax_busy"] >= a["softmax_busy"]
        assert b["attention_rel_error_ratio"] == a["attention_rel_error_ratio"]
        assert b["values_kept_fraction"] == a["values_kept_fraction"]
