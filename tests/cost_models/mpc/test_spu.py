"""aby3-3pc and semi2k-2pc equal SecretFlow SPU 0.9.5's own counters: kernel calls, bytes and rounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cost_models.mpc import OPS, Aby3, KernelTally, Semi2k, estimate, get_protocol, op_cost

#: SPU 0.9.5's per-kernel profiles and link totals, written by spu_fixture.py (needs SPU; not run in CI).
FIXTURE = json.loads((Path(__file__).resolve().parent / "spu_fixture.json").read_text())
PROTOCOLS = {"aby3": "aby3-3pc", "semi2k": "semi2k-2pc"}

def _tables():
    """The docs table generator ``spu_tables.py`` beside this file, as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("spu_tables", Path(__file__).resolve().parent / "spu_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = [(p, c) for p in PROTOCOLS for c in FIXTURE["protocols"][p]["cases"] if c["op"] in OPS]


def _id(case):
    proto, c = case
    return f"{proto}-{c['op']}-{'x'.join(map(str, c['shape']))}"


def test_fixture_is_spu_measurement():
    assert FIXTURE["format"] == "hwsim-spu-counts" and FIXTURE["spu_version"] == "0.9.5"
    assert FIXTURE["config"]["field"] == "FM64" and FIXTURE["config"]["fxp_fraction_bits"] == 18
    for proto, name in PROTOCOLS.items():
        data = FIXTURE["protocols"][proto]
        assert data["parties"] == get_protocol(name).parties
        ops = {c["op"] for c in data["cases"]}
        assert ops >= set(OPS) - {"argmax"}  # every op the models use was measured, at 3 shapes or more
        for op in ops:
            assert sum(c["op"] == op for c in data["cases"]) >= 3
        for c in data["cases"]:  # the totals are the sums of the parties, SPU computed what we asked
            assert c["send_bytes"] == sum(c["send_bytes_per_party"])
            assert c["max_abs_error"] < 0.1, (c["op"], c["shape"])


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_op_equals_spu_kernels_and_bytes(case):
    """The same kernels, called as often, sending the same bytes in total over the parties (within 1 %)."""
    proto, c = case
    p = get_protocol(PROTOCOLS[proto])
    with KernelTally() as tally:
        cost = p.cost(c["op"], tuple(c["shape"]))
    measured = {k: v["calls"] for k, v in c["kernels"].items() if v["send_bytes"] or k in tally.calls}
    assert tally.calls == measured
    total = cost.sent_bytes * p.parties
    assert total == pytest.approx(c["send_bytes"], rel=0.01, abs=0)
    for kernel, nbytes in tally.bytes.items():
        assert nbytes == pytest.approx(c["kernels"][kernel]["send_bytes"], rel=0.01, abs=0), kernel


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "semi2k"], ids=_id)
def test_semi2k_rounds_are_spu_send_actions(case):
    """Two parties, one message each per round: SPU's send actions of each party are the rounds."""
    _, c = case
    rounds = op_cost(c["op"], tuple(c["shape"]), "semi2k-2pc").rounds
    assert c["send_actions_per_party"] == [rounds, rounds]


def test_addition_is_free():
    for proto in PROTOCOLS:
        adds = [c for c in FIXTURE["protocols"][proto]["cases"] if c["op"] == "add"]
        assert adds and all(c["send_bytes"] == 0 for c in adds)


def test_aby3_kernel_rounds_from_spu_source():
    """Rounds per kernel call, read from SPU's source (aby3.py's table)."""
    p = Aby3()
    rounds = {"mul_aa": p.mul_aa(1), "mmul_aa": p.mmul_aa(1, 1, 1), "trunc_a": p.trunc_a(1), "msb_a2b": p.msb_a2b(1),
              "a2b": p.a2b(1), "and_bb": p.and_bb(1, 64), "mul_a1b": p.mul_a1b(1), "b2a_ot": p.b2a(1, 1),
              "b2a_ppa": p.b2a(1, 36), "p2a": p.p2a(1)}
    assert {k: c.rounds for k, c in rounds.items()} == {
        "mul_aa": 1, "mmul_aa": 1, "trunc_a": 2, "msb_a2b": 8, "a2b": 8, "and_bb": 1, "mul_a1b": 2, "b2a_ot": 2,
        "b2a_ppa": 10, "p2a": 1}


def test_aby3_multiply_is_the_issue_example():
    """10,000 fixed-point products: 520,000 bytes over the three parties (8 for mul_aa, 12/12/4 for the
    truncation, per element), 3 rounds."""
    c = op_cost("mul", (10000,), "aby3-3pc")
    assert (c.rounds, round(c.sent_bytes * 3)) == (3, 520000)


@pytest.mark.parametrize("op,aby3,semi2k", [
    ("mul", 3, 2), ("gt", 8, 7), ("relu", 10, 8), ("exp", 26, 17), ("reciprocal", 54, 36), ("inv_sqrt", 51, 26),
    ("tanh", 51, 36), ("gelu_tanh", 66, 45),
])
def test_elementwise_rounds(op, aby3, semi2k):
    assert op_cost(op, (3, 7), "aby3-3pc").rounds == aby3
    assert op_cost(op, (3, 7), "semi2k-2pc").rounds == semi2k


def test_config_changes_the_counts():
    assert Aby3(exp_iters=4).cost("exp", (10,)).rounds == 2 + 4 * 3
    assert Semi2k(goldschmidt_iters=3).cost("reciprocal", (10,)).rounds == 36 + 4  # one more r (1 + e) and e^2
    with pytest.raises(ValueError, match="^Aby3: exp_iters must be a positive integer, not 0$"):
        Aby3(exp_iters=0)
    with pytest.raises(TypeError):
        Aby3(32)  # noqa


def test_bert_base_costs_under_every_spu_protocol():
    a = estimate("bert-base", protocol="aby3-3pc", tokens=128)
    s = estimate("bert-base", protocol="semi2k-2pc", tokens=128)
    assert a.rounds > s.rounds > 0 and a.bytes > 0 and s.bytes > 0


def test_docs_hold_the_generated_validation_tables():
    """docs/mpc.md's SPU validation tables are exactly what spu_tables.py prints for the current code."""
    import re

    t = _tables()

    doc = (Path(__file__).resolve().parents[3] / "docs" / "mpc.md").read_text()
    for proto in t.NAMES:
        m = re.search(rf"<!-- spu-table {proto} -->\n(.*?)\n<!-- /spu-table {proto} -->", doc, re.S)
        assert m, f"docs/mpc.md has no spu-table {proto} block"
        assert m.group(1) == t.table(proto)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_whole_layers_within_5_percent_of_spu(proto):
    model_total_bytes = _tables().model_total_bytes
    models = FIXTURE["protocols"][proto]["models"]
    assert {m["model"] for m in models} >= {"bert-base-1layer-128", "vit-tiny-1layer"}
    for m in models:
        rounds, total = model_total_bytes(m, PROTOCOLS[proto])
        assert total == pytest.approx(m["send_bytes"], rel=0.05), m["model"]
        if proto == "semi2k":
            assert [rounds, rounds] == m["send_actions_per_party"], m["model"]


def test_cli_prices_the_spu_protocols(hwsim, tmp_path):
    """``hwsim mpc op`` and ``hwsim mpc --workload`` as a user runs them, for each SPU protocol."""
    r = hwsim("mpc", "op", "mul", "--shape", "10000", "--protocol", "semi2k-2pc", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["rounds"], out["sent_bytes"]) == (2, 200000)  # SPU: 400,000 bytes over both parties, 2 actions each
    r = hwsim("mpc", "--workload", "vit-cifar", "--protocol", "aby3-3pc", "--json", "out.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["protocol"] == "aby3-3pc" and doc["rounds"] == estimate("vit-cifar", protocol="aby3-3pc").rounds
