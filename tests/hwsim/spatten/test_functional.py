"""The functional model's generation rows: the kept dequantized K/V give exactly what converting the codes gives."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim import load_design, load_policy
from hwsim.spatten.functional import attend, quantize_layer
from hwsim.spatten.units import SpattenUnits


def _layer(rng, heads=6, kv=2, tokens=40, d=16):
    q = rng.standard_normal((heads, tokens, d)).astype(np.float32)
    k = rng.standard_normal((kv, tokens, d)).astype(np.float32)
    v = rng.standard_normal((kv, tokens, d)).astype(np.float32)
    return q, k, v


def _rows(res):
    """Everything a generation row hands the timing and the tallies, as plain values."""
    heads = [(h.head, h.n_keys.tolist(), h.requant.tolist(), h.n_values.tolist(), h.topk_cycles.tolist(),
              h.topk_fill.tolist(), h.topk_filter.tolist(), h.abs_out_sum, h.v_pos.tolist()) for h in res.heads]
    groups = {g: v.tolist() for g, v in res.group_v_used.items()}
    return heads, groups, res.group_requant, res.token_importance.tolist(), res.err_sq, res.ref_sq, res.mass_kept


@pytest.mark.parametrize("policy", ["spatten-gpt2", "spatten-bert"])
@pytest.mark.parametrize("alive", [[1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 0]])
def test_a_frozen_layers_generation_rows_equal_the_converted_codes(policy, alive):
    rng = np.random.default_rng(5)
    q, k, v = _layer(rng)
    units = SpattenUnits.from_design(load_design("spatten"), 16, policy=load_policy(policy))
    lsb = units.quant.key_lsb_bits
    frozen = quantize_layer(q, k, v, units.quant, frozen=True)
    plain = quantize_layer(q, k, v, units.quant)
    assert plain.dequantized(lsb) is None and frozen.dequantized(lsb) is not None
    heads_alive = np.array(alive, bool)
    for pos, k_pos in ((30, np.arange(31)), (39, np.array([0, 3, 4, 9, 20, 38, 39]))):
        kw = dict(q_pos=np.array([pos]), k_pos=k_pos, heads_alive=heads_alive, group_size=3, causal=True,
                  scale=0.25, units=units, local_v_keep=0.5, fidelity_rows=4)
        outs = [np.zeros((6, 1, 16), np.float32) for _ in range(2)]
        got = attend(frozen, (q, k, v), outputs=outs[0], **kw)
        want = attend(plain, (q, k, v), outputs=outs[1], **kw)
        assert _rows(got) == _rows(want)
        assert np.array_equal(outs[0], outs[1])


def test_a_layer_above_the_cache_bound_converts_its_codes(monkeypatch):
    from hwsim.spatten import functional

    rng = np.random.default_rng(7)
    q, k, v = _layer(rng)
    units = SpattenUnits.from_design(load_design("spatten"), 16, policy=load_policy("spatten-gpt2"))
    kw = dict(q_pos=np.array([39]), k_pos=np.arange(40), heads_alive=np.ones(6, bool), group_size=3, causal=True,
              scale=0.25, units=units, local_v_keep=0.5, fidelity_rows=1)
    want = _rows(attend(quantize_layer(q, k, v, units.quant, frozen=True), (q, k, v), **kw))
    monkeypatch.setattr(functional, "_DEQ_CACHE_BYTES", 3 * k.size * 4 - 1)  # one byte short of this layer's
    big = quantize_layer(q, k, v, units.quant, frozen=True)
    assert big.dequantized(units.quant.key_lsb_bits) is None
    assert _rows(attend(big, (q, k, v), **kw)) == want


def test_a_layer_written_position_by_position_is_read_as_written():
    """A layer that is not frozen (hwsim.quality writes each generated position's codes) sees new codes."""
    rng = np.random.default_rng(6)
    q, k, v = _layer(rng)
    units = SpattenUnits.from_design(load_design("spatten"), 16, policy=load_policy("spatten-gpt2"))
    ql = quantize_layer(q, k, v, units.quant)
    kw = dict(q_pos=np.array([39]), k_pos=np.arange(40), heads_alive=np.ones(6, bool), group_size=3, causal=True,
              scale=0.25, units=units, local_v_keep=None, fidelity_rows=0)
    before = np.zeros((6, 1, 16), np.float32)
    attend(ql, (q, k, v), outputs=before, **kw)
    ql.v[:, 39] = 0  # the newest position's values rewritten
    after = np.zeros((6, 1, 16), np.float32)
    attend(ql, (q, k, v), outputs=after, **kw)
    assert not np.array_equal(before, after)


def test_importance_rows_added_in_order_as_the_loop_does():
    """The token importance kernel adds each head's row at the alive positions in order, bit for bit as
    ``for row in rows: importance[k_pos] += row`` (an ``axis=0`` sum is not: numpy may pair the rows)."""
    from hwsim.spatten.functional import _add_rows_at

    rng = np.random.default_rng(3)
    for _ in range(200):
        n, r = int(rng.integers(1, 300)), int(rng.integers(1, 30))
        idx = np.sort(rng.choice(n + 50, size=n, replace=False))
        rows = rng.random((r, n)) ** int(rng.integers(1, 20))
        start = rng.random(n + 50)
        want, got = start.copy(), start.copy()
        for row in rows:
            want[idx] += row
        _add_rows_at(got, idx, rows)
        assert want.tobytes() == got.tobytes()


@pytest.mark.parametrize("alive", [[1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [1, 0, 0, 1, 1, 1]])
@pytest.mark.parametrize("policy", ["spatten-gpt2", "none"])
def test_a_generation_layers_stacked_rows_are_the_heads_stacked(alive, policy):
    """``LayerResult.stacked`` (built from one stack's arrays) equals ``HeadRows.stack(heads)``; None where the
    groups ran as several stacks (different numbers of alive heads)."""
    from hwsim.spatten.functional import HeadRows

    rng = np.random.default_rng(9)
    q, k, v = _layer(rng)
    units = SpattenUnits.from_design(load_design("spatten"), 16, policy=load_policy(policy))
    ql = quantize_layer(q, k, v, units.quant, frozen=True)
    res = attend(ql, (q, k, v), q_pos=np.array([39]), k_pos=np.array([0, 2, 5, 17, 30, 39]),
                 heads_alive=np.array(alive, bool), group_size=3, causal=True, scale=0.25, units=units,
                 local_v_keep=0.5 if policy != "none" else None, fidelity_rows=1)
    one_stack = len({sum(alive[g * 3:g * 3 + 3]) for g in range(2)} - {0}) == 1
    assert (res.stacked is not None) == one_stack
    if one_stack:
        want = HeadRows.stack(res.heads)
        for name in ("head", "abs_out_sum", "passes"):
            assert getattr(res.stacked, name) == getattr(want, name)
        for name in ("n_keys", "requant", "n_values", "topk_cycles", "topk_fill", "topk_filter", "v_pos"):
            a, b = getattr(res.stacked, name), getattr(want, name)
            assert a.dtype == b.dtype and a.tolist() == b.tolist(), name
