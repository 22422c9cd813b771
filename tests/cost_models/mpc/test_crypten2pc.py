"""crypten-2pc equals CrypTen 0.4.1's own communication counters, exactly, for every op and shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cost_models.mpc import CRYPTEN_2PC, CrypTen2PC, estimate, op_cost
from workloads.models import ModelSpec

#: CrypTen 0.4.1's own counters, written by crypten_fixture.py (needs CrypTen; not run in CI).
COUNTS = json.loads((Path(__file__).resolve().parent / "data" / "crypten_0.4.1_counts.json").read_text())


def test_fixture_is_crypten_measurement():
    assert COUNTS["format"] == "hwsim-crypten-counts"
    assert COUNTS["crypten_version"] == "0.4.1"
    ops = {c["op"] for c in COUNTS["cases"]}
    # every operation the protocol prices was measured, at several shapes
    from cost_models.mpc import OPS

    assert ops == set(OPS)
    for op in ops:
        assert sum(c["op"] == op for c in COUNTS["cases"]) >= 3


@pytest.mark.parametrize("case", COUNTS["cases"], ids=lambda c: f"{c['op']}-{'x'.join(map(str, c['shape']))}")
def test_op_equals_crypten_counter(case):
    cost = op_cost(case["op"], tuple(case["shape"]), "crypten-2pc")
    assert (cost.rounds, cost.bytes) == (case["rounds"], case["bytes"])
    assert cost.bytes == 2 * cost.sent_bytes  # CrypTen logs send + receive


@pytest.mark.parametrize("case", COUNTS["models"], ids=lambda m: f"{m['model']}-{m['attention']}-{m['activation']}")
def test_whole_model_equals_crypten_counter(case):
    spec = ModelSpec(name=case["model"], family=case["family"], mode="encoder", layers=case["layers"],
                     hidden=case["hidden"], heads=case["heads"], kv_heads=case["kv_heads"], ffn=case["ffn"],
                     tokens=case["tokens"], block=case["block"], norm=case["norm"])
    r = estimate(spec, protocol="crypten-2pc", attention=case["attention"], activation=case["activation"])
    assert (r.rounds, r.bytes) == (case["rounds"], case["bytes"])


@pytest.mark.parametrize("attention,rounds,gbytes", [
    ("softmax", 1372, 0.440), ("relu_softmax", 903, 0.329), ("scaling", 567, 0.270), ("quad2", 847, 0.276),
])
def test_mpcvit_cifar_totals_of_the_reference(attention, rounds, gbytes):
    """docs/sources.md MPC §3.1: the four homogeneous MPCViT CIFAR ViTs (erf GeLU kept)."""
    r = estimate("vit-cifar", protocol="crypten-2pc", attention=attention, activation="gelu_erf")
    assert r.rounds == rounds
    assert round(r.bytes / 1e9, 3) == gbytes


def test_softmax_split_of_the_reference():
    """§3.1: Softmax ViT per-operator split: softmax 805 r / 170 MB, GeLU 245 r / 183 MB, LN 280 r / 12 MB,
    linear 28 r / 68 MB, QK^T + AV 14 r / 7.5 MB."""
    g = estimate("vit-cifar", attention="softmax", activation="gelu_erf").groups()
    assert [(k, v["rounds"], round(v["bytes"] / 1e6)) for k, v in g.items()] == [
        ("linear", 28, 68), ("attention matmul", 14, 7), ("attention function", 805, 170),
        ("activation", 245, 183), ("norm", 280, 12)]
    assert round(g["attention matmul"]["bytes"] / 1e6, 1) == 7.5


@pytest.mark.parametrize("m,rounds", [(8, 93), (16, 95), (32, 105), (65, 115), (128, 116), (197, 126), (257, 126),
                                      (512, 136)])
def test_softmax_rounds_of_the_reference_table(m, rounds):
    """§3: softmax rounds at each row length (measured with CrypTen for the reference)."""
    assert op_cost("softmax", (3, m)).rounds == rounds


@pytest.mark.parametrize("op,rounds,words", [
    ("mul", 1, 2), ("square", 1, 1), ("div_public", 0, 0), ("gt", 8, 27), ("relu", 9, 29), ("exp", 8, 8),
    ("reciprocal", 38, 69), ("inv_sqrt", 17, 23), ("sigmoid", 23, 47), ("tanh", 23, 47), ("gelu_erf", 35, 49),
    ("gelu_tanh", 26, 52), ("gelu_quad", 1, 1), ("scaling", 0, 0),
])
def test_per_element_table_of_the_reference(op, rounds, words):
    """§3: rounds and 64-bit words each party sends per element."""
    n = 1000
    cost = op_cost(op, (10, 100))
    assert cost.rounds == rounds
    assert cost.sent_bits == 64 * words * n


@pytest.mark.parametrize("rows,m", [(4 * 65, 65), (128, 128), (512, 512)])
def test_row_ops_of_the_reference_table(rows, m):
    """§3: ReLU-softmax 48 r, (30 + 70/m) n words; 2Quad 40 r, (2 + 70/m) n; LayerNorm 20 r, 3n + 24N + D."""
    n = rows * m
    rs, q2, ln = (op_cost(op, (rows, m)) for op in ("relu_softmax", "quad2", "layernorm"))
    assert (rs.rounds, rs.sent_bits) == (48, 64 * (30 * n + 70 * rows))
    assert (q2.rounds, q2.sent_bits) == (40, 64 * (2 * n + 70 * rows))
    assert (ln.rounds, ln.sent_bits) == (20, 64 * (3 * n + 24 * rows + m))


def test_matmul_opens_both_operands_and_public_is_free():
    c = op_cost("matmul", (65, 256, 768))
    assert (c.rounds, c.sent_bits) == (1, 64 * (65 * 256 + 256 * 768))
    b = op_cost("matmul", (4, 65, 64, 65))
    assert b.sent_bits == 64 * 2 * 4 * 65 * 64
    p = op_cost("matmul_public", (65, 256, 768))
    assert (p.rounds, p.bytes) == (0, 0) and p.local_ops == 65 * 256 * 768


def test_max_counts_the_argmax_that_softmax_discards():
    """CrypTen's max(dim) also builds the one-hot argmax: its eq and weighted_index are in max and softmax."""
    mx, am, sm = (op_cost(op, (2, 100)) for op in ("max", "argmax", "softmax"))
    assert mx == am
    assert sm.rounds == mx.rounds + 8 + 28 + 1  # + exp + positive reciprocal + broadcast product
    assert op_cost("softmax", (5, 1)).rounds == 0  # a row of one: CrypTen returns ones


def test_config_changes_the_counts():
    fast = CrypTen2PC(exp_iterations=4, reciprocal_nr_iters=5)
    assert fast.cost("exp", (10,)).rounds == 4
    assert fast.cost("reciprocal", (10,)).rounds == 38 - 4 - 10
    assert CRYPTEN_2PC.cost("exp", (10,)).rounds == 8
