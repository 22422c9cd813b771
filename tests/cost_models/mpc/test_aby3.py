"""aby3-3pc: SPU's ABY3 kernel table composed into PUMA's approximations."""

from __future__ import annotations

import pytest

from cost_models.mpc import ABY3_3PC, Aby3, estimate, op_cost

K = 64


def test_kernels_are_the_spu_complexity_table():
    """secretflow/spu docs/reference/complexity.md, ABY3: (rounds, bits per element)."""
    p = ABY3_3PC
    assert (p.mul_aa(1).rounds, p.mul_aa(1).sent_bits) == (1, K)
    assert (p.trunc(1).rounds, p.trunc(1).sent_bits) == (3, 4 * K)
    assert (p.a2b(1).rounds, p.a2b(1).sent_bits) == (6 + 2, 6 * K + 2 * K)
    assert (p.and_bb(1).rounds, p.a2p(1).rounds) == (1, 1)
    assert (p.b2a(1, 1).rounds, p.b2a(1, 36).rounds, p.b2a(1, 36).sent_bits) == (2, 9, (2 * 6 + 3) * K)
    small = Aby3(ring_bits=32)
    assert (small.a2b(1).rounds, small.a2b(1).sent_bits) == (5 + 2, 5 * 32 + 2 * 32)


def test_fixed_point_products_truncate_and_public_division_is_not_free():
    assert (op_cost("mul", (10,), "aby3-3pc").rounds, op_cost("mul", (10,), "aby3-3pc").sent_bits) == (4, 10 * 5 * K)
    d = op_cost("div_public", (10,), "aby3-3pc")
    assert (d.rounds, d.sent_bits) == (3, 10 * 4 * K)
    assert op_cost("div_public", (10,), "crypten-2pc").rounds == 0


def test_matmul_communication_is_output_sized():
    a = op_cost("matmul", (8, 1000, 4), "aby3-3pc")
    b = op_cost("matmul", (8, 10, 4), "aby3-3pc")
    assert a.sent_bits == b.sent_bits == 8 * 4 * 5 * K
    assert a.rounds == 4 and a.local_ops > b.local_ops


@pytest.mark.parametrize("op,rounds", [
    ("relu", 10), ("exp", 3 + 5 * 4), ("gelu_erf", 3 * 8 + 4 * 4 + 7 * 3 + 3 * 2), ("reciprocal", 59),
    ("inv_sqrt", 61), ("tanh", 2 * 10 + 3 + 9 * 4 + 3),
])
def test_elementwise_rounds(op, rounds):
    assert op_cost(op, (3, 7), "aby3-3pc").rounds == rounds


def test_softmax_is_puma_hack_softmax():
    m, rows = 65, 4 * 65
    sm = op_cost("softmax", (rows, m), "aby3-3pc")
    levels = 7  # ceil(log2 65) tree levels of compare + mux
    assert sm.rounds == levels * 10 + 8 + 23 + 2 + 59 + 4


def test_bert_base_is_puma_sized():
    """PUMA reports BERT-base at 128 tokens as ~10.8 GB in 3PC (references §3.4 V7, from memory):
    this accounting must land in the same range."""
    r = estimate("bert-base", protocol="aby3-3pc", tokens=128)
    assert 5e9 < r.bytes < 25e9


def test_parameters_are_keyword_only_and_checked():
    with pytest.raises(ValueError, match="^Aby3: exp_iters must be a positive integer, not 0$"):
        Aby3(exp_iters=0)
    with pytest.raises(TypeError):
        Aby3(32)  # noqa
    assert Aby3(exp_iters=3).cost("exp", (10,)).rounds == 3 + 3 * 4
