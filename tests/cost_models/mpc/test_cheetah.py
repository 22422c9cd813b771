"""cheetah-2pc against SecretFlow SPU 0.9.5's own Cheetah counters: kernel calls, bytes, session state."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cost_models.mpc import OPS, Cheetah, CheetahSession, KernelTally, estimate, get_protocol, op_cost
from cost_models.mpc.cheetah import (
    FERRET_BOOTSTRAP_BYTES,
    FERRET_BOOTSTRAP_COTS,
    OLE_BLOCK_BYTES,
    OT_INSTANCE_SETUP_BYTES,
    CheetahState,
    ot_pieces,
)


def _tables():
    """The docs table generator ``spu_tables.py`` beside this file, as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("spu_tables", Path(__file__).resolve().parent / "spu_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


T = _tables()
DATA = T.FIXTURE["protocols"]["cheetah"]
CASES = T.cheetah_cases()
REPLAY = T.cheetah_replay([(c["op"], c["shape"]) for c in CASES])


def _id(c):
    return f"{c['op']}-{'x'.join(map(str, c['shape']))}"


def test_fixture_is_spu_cheetah():
    assert DATA["parties"] == get_protocol("cheetah-2pc").parties == 2
    ops = {c["op"] for c in CASES}
    assert ops >= set(OPS) - {"argmax"}
    for c in DATA["cases"]:
        assert c["send_bytes"] == sum(c["send_bytes_per_party"])
        assert c["max_abs_error"] < 0.1, (c["op"], c["shape"])


#: Where the replay puts a Ferret bootstrap into another kernel of the same case than SPU did: spu.py's
#: gelu_erf is jax's erf program as a list of kernels, not in SPU's exact call order. The case total
#: is still right; the test checks that exactly one bootstrap moved.
BOOTSTRAP_MOVED = {("gelu_erf", (10000,)): ("a2b", "and_bb")}


@pytest.mark.parametrize("i", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_session_replay_equals_spu(i):
    """Replayed in SPU's order (one session), every case calls the kernels SPU called, as often, and
    sends what SPU sent: in total and kernel by kernel, within 1 % (HE ciphertexts are compressed)."""
    c, (cost, tally) = CASES[i], REPLAY[i]
    measured = {k: v["calls"] for k, v in c["kernels"].items() if v["send_bytes"] or k in tally.calls}
    assert tally.calls == measured
    assert cost.sent_bytes * 2 == pytest.approx(c["send_bytes"], rel=0.01, abs=0)
    moved = BOOTSTRAP_MOVED.get((c["op"], tuple(c["shape"])), ())
    for kernel, nbytes in tally.bytes.items():
        spu = c["kernels"][kernel]["send_bytes"]
        if kernel in moved:
            sign = 1 if kernel == moved[0] else -1
            assert nbytes - spu == pytest.approx(sign * FERRET_BOOTSTRAP_BYTES, abs=0.01 * spu), kernel
        else:
            assert nbytes == pytest.approx(spu, rel=0.01, abs=0), kernel
    ot_only = set(tally.bytes) <= {"trunc_a", "msb_a2b", "mul_a1b", "a2b", "and_bb", "b2a"}
    if ot_only and not moved:  # no ciphertexts: the OT kernels are exact to the byte
        assert {k: round(v) for k, v in tally.bytes.items()} == {k: c["kernels"][k]["send_bytes"] for k in tally.bytes}


def test_replay_finds_the_one_off_events():
    """The Ferret bootstraps and OT instance set-ups the replay places, against SPU's measured bytes: the
    first 2-piece kernel (mul of 10,000 values) sets up instance 1, whose buffers then bootstrap."""
    i = next(j for j, c in enumerate(CASES) if (c["op"], c["shape"]) == ("mul", [10000]))
    _, tally = REPLAY[i]
    assert round(tally.bytes["trunc_a"]) == 31280 + OT_INSTANCE_SETUP_BYTES + 2 * FERRET_BOOTSTRAP_BYTES
    assert round(tally.bytes["trunc_a"]) == CASES[i]["kernels"]["trunc_a"]["send_bytes"]
    gt = next(j for j, c in enumerate(CASES) if (c["op"], c["shape"]) == ("gt", [16, 64]))
    assert round(REPLAY[gt][1].bytes["msb_a2b"]) == 84224 + FERRET_BOOTSTRAP_BYTES  # instance 0's first refill


def test_ot_pieces_follow_spu_worker_split():
    assert ot_pieces(2048) == [2048] and ot_pieces(2049) == [1025, 1024]
    assert ot_pieces(10000, instances=48) == [2000] * 5
    assert ot_pieces(0) == []


def test_beaver_cache_refills_as_spu():
    s = CheetahState()
    assert s.take_triples(64) == 1 and s.triples == 4096 - 64  # one 8192-slot OLE yields 4096 triples
    assert s.take_triples(4000) == 0 and s.triples == 32
    assert s.take_triples(10000) == 3 and s.triples == 32 + 3 * 4096 - 10000


def test_steady_state_charges_refills_per_triple():
    """Outside a session a triple carries its share of a refill block and a COT its share of a Ferret
    bootstrap; a session pays whole refills, bootstraps and set-ups where they fall."""
    n = 1000
    trunc = 8 * (125 * 3) + 16 * 8  # 18-bit corrections packed 8 per 3 words, choice flips
    steady = Cheetah().cost("mul", (n,)).sent_bytes * 2
    assert steady == pytest.approx(32 * n + trunc + n / 4096 * OLE_BLOCK_BYTES
                                   + n * FERRET_BOOTSTRAP_BYTES / FERRET_BOOTSTRAP_COTS)
    s = CheetahSession()
    first = s.cost("mul", (n,)).sent_bytes * 2  # an empty cache: one refill block; instance 0 set up
    second = s.cost("mul", (n,)).sent_bytes * 2  # 3,096 triples left; 376 COTs left: a bootstrap
    third = s.cost("mul", (n,)).sent_bytes * 2
    assert first == 32 * n + trunc + OLE_BLOCK_BYTES + OT_INSTANCE_SETUP_BYTES
    assert second == 32 * n + trunc + FERRET_BOOTSTRAP_BYTES and third == 32 * n + trunc


def test_bootstrap_constant_is_from_source():
    assert FERRET_BOOTSTRAP_BYTES == 266259  # 1280 trees x 13 levels x 16 B + 19 B seed


def test_knobs_change_the_counts():
    assert Cheetah(exp_iters=4).cost("exp", (10,)).rounds < Cheetah().cost("exp", (10,)).rounds
    wide = Cheetah(ot_instances=8).cost("div_public", (8320,)).sent_bytes
    assert wide != Cheetah().cost("div_public", (8320,)).sent_bytes
    with pytest.raises(ValueError, match="^Cheetah: ot_instances must be a positive integer, not 0$"):
        Cheetah(ot_instances=0)


def test_bert_base_costs_under_cheetah():
    r = estimate("bert-base", protocol="cheetah-2pc", tokens=128)
    assert r.rounds > 0 and r.bytes > 0 and math.isfinite(r.latency_s)


def test_cli_prices_cheetah(hwsim, tmp_path):
    r = hwsim("mpc", "op", "mul", "--shape", "16,64", "--protocol", "cheetah-2pc", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rounds"] == op_cost("mul", (16, 64), "cheetah-2pc").rounds
    r = hwsim("mpc", "--workload", "vit-cifar", "--protocol", "cheetah-2pc", "--json", "out.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["protocol"] == "cheetah-2pc"


def test_whole_layers_against_spu():
    """Each whole-layer run (one SPU program): the session replay of its steps within 1 % of SPU's bytes,
    the steady state within 5 %; every kernel called as often as SPU called it."""
    models = DATA["models"]
    assert {m["model"] for m in models} >= {"vit-cifar-1layer-relu_softmax", "bert-base-1layer-128"}
    for m in models:
        res = T.cheetah_replay(T.layer_items(m))
        calls: dict[str, int] = {}
        for _, tally in res:
            for k, v in tally.calls.items():
                calls[k] = calls.get(k, 0) + v
        assert calls == {k: v["calls"] for k, v in m["kernels"].items() if v["send_bytes"] or k in calls}, m["model"]
        assert T.cheetah_layer(m)[1] == pytest.approx(m["send_bytes"], rel=0.01), m["model"]
        assert T.model_total_bytes(m, "cheetah-2pc")[1] == pytest.approx(m["send_bytes"], rel=0.05), m["model"]


def test_compute_time_is_the_fitted_rate_of_spu_runs():
    """The latency's compute term on the default compute rate is SPU's fitted time: within 5 % of both
    whole-layer runs' wall times (a fit over those two runs, not a prediction)."""
    for m in DATA["models"]:
        r = estimate(T.layer_spec(m), protocol="cheetah-2pc", network="lan", attention=m["spec"]["attention"],
                     activation=m["spec"]["activation"])
        assert r.latency.compute_s == pytest.approx(m["duration_s"], rel=0.05), m["model"]


#: Messages each party sends per OT piece (cheetah.py OT_KERNELS) and per Beaver product (one opening).
MESSAGES = {"b2a": 1, "trunc_a": 1, "and_bb": 2, "msb_a2b": 18, "a2b": 14, "mul_a1b": 2, "mul_aa": 1}


def _he_messages(kernel: str, n: int, refill_blocks: int = 0, dims=None) -> tuple[int, int]:
    """Messages (party 0, party 1) of an HE kernel as SPU's source sends them: a ciphertext per slot block
    and CRT context each way (``EncryptArrayThenSend``, ``MulThenResponse``), ``CheetahDot``'s
    ciphertexts out and back in both mirrored products."""
    from cost_models.mpc.cheetah import CRT_CONTEXTS, MUL_DIRECT_MIN, SLOTS, dot_plan, halves_blocks, ole_blocks

    c = CRT_CONTEXTS
    if kernel == "square_s":
        blocks = ole_blocks(n) if n <= SLOTS else halves_blocks(n)
        return c * blocks, c * blocks
    if kernel == "mmul_aa":
        plan = dot_plan(*dims)
        return plan.sent + plan.back, plan.sent + plan.back
    if n >= MUL_DIRECT_MIN:  # MulShare halves: party 1 evaluates the first, party 0 the second
        b1, b2 = ole_blocks(n // 2), ole_blocks(n - n // 2)  # the two halves apart: their messages differ
        return c * (2 * b1 + b2), c * (b1 + 2 * b2)
    return 1 + c * refill_blocks, 1 + c * refill_blocks  # the opening, and a refill's OLE


#: The one event-free case whose messages differ: SPU's party 0 sent 2 more than the source's chains give
#: (193 against 191; its bytes are right to 0.003 %). Not explained.
UNEXPLAINED_MESSAGES = {("reciprocal", (10000,)): [2, 0]}


def test_messages_are_spu_send_actions(monkeypatch):
    """Where no Ferret bootstrap or OT set-up falls, the messages SPU's source sends (per OT piece, per
    ciphertext) equal SPU's send actions on both parties: a check of the message chains the rounds are
    read from, ciphertext kernels and Beaver refills included."""
    from cost_models.mpc import cheetah

    log = []
    ot, mul, sq, mm = cheetah.Cheetah._ot, cheetah.Cheetah.mul_aa, cheetah.Cheetah.square_a, cheetah.Cheetah.mmul_aa
    take = cheetah.CheetahState.take_triples

    def spy_ot(self, name, n, bits=0):
        pieces = len(ot_pieces(n, self.ot_instances))
        log.append((MESSAGES[name] * pieces, MESSAGES[name] * pieces))
        return ot(self, name, n, bits)

    def spy_take(self, n):
        blocks = take(self, n)
        log.append(_he_messages("mul_aa", n, blocks))
        return blocks

    def spy_mul(self, n):
        if n >= cheetah.MUL_DIRECT_MIN:
            log.append(_he_messages("mul_aa", n))
        return mul(self, n)

    monkeypatch.setattr(cheetah.Cheetah, "_ot", spy_ot)
    monkeypatch.setattr(cheetah.CheetahState, "take_triples", spy_take)
    monkeypatch.setattr(cheetah.Cheetah, "mul_aa", spy_mul)
    monkeypatch.setattr(cheetah.Cheetah, "square_a", lambda self, n: (log.append(_he_messages("square_s", n)),
                                                                        sq(self, n))[1])
    monkeypatch.setattr(cheetah.Cheetah, "mmul_aa", lambda self, m, k, n: (
        log.append(_he_messages("mmul_aa", 0, dims=(m, k, n))), mm(self, m, k, n))[1])
    session = CheetahSession()
    session.replay(T.WARMUP)
    checked = 0
    for c in CASES:
        log.clear()
        before = dict(session.state.cots)
        session.replay([(c["op"], c["shape"])])
        if len(session.state.cots) != len(before) or any(session.state.cots[k] > v for k, v in before.items()):
            continue  # a bootstrap or a set-up: its messages are not modelled
        ours = [sum(p for p, _ in log), sum(q for _, q in log)]
        extra = UNEXPLAINED_MESSAGES.get((c["op"], tuple(c["shape"])), [0, 0])
        assert c["send_actions_per_party"] == [o + e for o, e in zip(ours, extra)], (c["op"], c["shape"])
        checked += 1
    assert checked >= 80


def test_packed_b2a_closed_form_equals_batch_by_batch():
    """``b2a_piece`` sums SendCAMCC_Collapse's batches level by level; the batch-by-batch definition
    (a batch of 8 starting at COT i carries 64 - i // m bits) gives the same bytes."""
    import random

    from cost_models.mpc.cheetah import _flips, b2a_piece

    rng = random.Random(7)
    for _ in range(500):
        m, bits = rng.randint(1, 700), rng.randint(2, 64)
        n = m * bits
        loop = 0
        for i in range(0, n, 8):
            b, width = min(8, n - i), 64 - i // m
            loop += 8 * b if width >= 64 else 8 * math.ceil(b * width / 64)
        assert b2a_piece(m, bits) == loop + _flips(n), (m, bits)


@pytest.mark.parametrize("name", sorted(DATA["sessions"]))
def test_held_out_sessions_are_predicted(name):
    """Two more SPU sessions (spu_fixture.py SESSIONS: new sizes, 2,048-element piece boundaries, repeats
    that meet the state their first run left; measured while the formulas were checked, nothing fitted to
    them): replayed, every case calls
    SPU's kernels and its OT bytes are exact, bootstraps and set-ups included; totals within 1 %."""
    records = DATA["sessions"][name]
    res = T.cheetah_replay([(r["op"], r["shape"]) for r in records])
    for r, (cost, tally) in zip(records, res):
        assert tally.calls == {k: v["calls"] for k, v in r["kernels"].items() if v["send_bytes"] or k in tally.calls}
        assert cost.sent_bytes * 2 == pytest.approx(r["send_bytes"], rel=0.01, abs=0), (r["op"], r["shape"])
        for kernel in set(tally.bytes) - {"square_s", "mmul_aa", "mul_aa"}:
            assert round(tally.bytes[kernel]) == r["kernels"][kernel]["send_bytes"], (r["op"], r["shape"], kernel)
