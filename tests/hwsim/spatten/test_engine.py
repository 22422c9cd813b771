"""The compiled generation timeline (hwsim.spatten.engine) against the simpy processes it replays.

The simpy processes in ``Timeline`` are the reference: every test runs both on the same work and asserts
the same clock, event log, layer completion cycles, stall records and explain accounting, and that the
compiled side really ran (no silent fallback). Random work goes through the corners the simulator reaches
only on some workloads: shared and fused K fetches, requantized rows, two-pass and tiled rows streaming K,
every top-k overlap mode, empty selections, a key SRAM small enough to block fetch-ahead, selections
between layers. ``HWSIM_ENGINE_CASES=N`` runs N random cases (default 30; 200 is the long regression).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from hwsim import load_design, load_policy
from hwsim.spatten import engine, simulate, simulate_replay
from hwsim.spatten import timing as timing_mod
from hwsim.spatten.explain import account
from hwsim.spatten.timing import Machine, RowWork, Timeline, on_done
from hwsim.spatten.units import SpattenUnits
from conftest import SHARED
from tiny_workload import TinyTrace

N_RANDOM = min(100_000, max(1, int(os.environ.get("HWSIM_ENGINE_CASES", "30"))))


@pytest.fixture
def compiled_runs(monkeypatch):
    """Counts the segments the compiled engine ran and those it handed back to simpy."""
    counts = {"ran": 0, "refused": 0}
    original = engine.run_segment

    def counted(*a, **k):
        out = original(*a, **k)
        counts["ran" if out is not None else "refused"] += 1
        return out

    monkeypatch.setattr(engine, "run_segment", counted)
    return counts


def _random_script(rng, heads: int, kv: int):
    """A generation phase as simulate queues it: steps of layers of rows, selections between some layers."""
    script = []
    for step in range(int(rng.integers(1, 4))):
        for layer in range(int(rng.integers(1, 4))):
            if rng.random() < 0.25:
                script.append(("select", int(rng.integers(0, 30)), step, layer))
            rows = []
            firsts = set()
            keys = {fg: int(rng.integers(1, 21)) for fg in range(kv)}  # the same K per group; any two fit 4 KB
            for h in rng.permutation(heads)[: int(rng.integers(1, heads + 1))].tolist():
                g = h // (heads // kv)
                fg = g & ~1 if rng.random() < 0.3 else g  # a fused pair shares one fetch group
                requant = bool(rng.random() < 0.4)
                two_pass = rng.random() < 0.15
                passes = (2 if two_pass else 1) + requant
                topk = tuple(int(c) if rng.random() < 0.6 else 0 for c in rng.integers(1, 40, 3))
                fill = int(rng.integers(0, 12)) if any(topk) else 0
                first = fg not in firsts
                firsts.add(fg)
                rows.append(RowWork(
                    step, layer, h, (step, layer, fg), k_fetch=int(rng.integers(0, 12)) if first else 0,
                    qk=int(rng.integers(1, 9)), softmax=int(rng.integers(1, 9)), requant=requant,
                    lsb_fetch=int(rng.integers(0, 8)) if requant else 0, topk=topk, topk_fill=fill,
                    v_fetch=int(rng.integers(0, 10)), pv=int(rng.integers(1, 9)), keys=keys[fg],
                    passes=passes, k_stream=int(rng.integers(1, 9)) if (two_pass and first) else 0,
                    topk_emit=int(rng.integers(0, 5)), lsb_group=g if rng.random() < 0.7 else None))
            script.append(("gen", rows))
        script.append(("drain",))
    return script


def _play(machine, script, engine_name: str, monkeypatch):
    monkeypatch.setattr(timing_mod, "DEFAULT_ENGINE", engine_name)
    t = Timeline(machine, log_events=True)
    marks = []
    done = None
    for g, item in enumerate(script):
        if item[0] == "gen":
            done = t.generate(item[1], after=done)
            on_done(done, lambda now, g=g: marks.append((g, int(now))))
        elif item[0] == "select":
            t.select(*item[1:], "token")
            done = None
        else:
            t.drain()
            done = None
    now = t.now
    uses = {u: sorted((int(j), int(a), int(b)) for entry in v for j, a, b in _flat(entry)) for u, v in t.uses.items()}
    return {"now": now, "log": list(t.log), "marks": marks,
            "jobs": [(q, s, lay, list(w)) for q, s, lay, w in t.jobs], "uses": uses,
            "explain": account(now, t.jobs, t.uses)}


def _flat(entry):
    j, a, b = entry
    if isinstance(a, np.ndarray):
        return zip(np.broadcast_to(j, a.shape).tolist(), a.tolist(), b.tolist())
    return [(j, a, b)]


@pytest.mark.parametrize("seed", range(N_RANDOM))
def test_random_generation_work_matches_simpy_event_for_event(seed, monkeypatch, compiled_runs):
    rng = np.random.default_rng(seed)
    sets = [f"hbm.fetch={rng.choice(['stream', 'store'])}", f"sram.key_release={rng.choice(['decision', 'done'])}",
            f"topk.overlap={rng.choice(['none', 'filter', 'full'])}", f"topk.engines={rng.choice([1, 2])}",
            f"sram.key_bytes={rng.choice([4096, 196608])}"]
    machine = Machine(SpattenUnits.from_design(load_design("spatten", sets), 64))
    script = _random_script(rng, heads=4, kv=2)
    reference = _play(machine, script, "simpy", monkeypatch)
    compiled = _play(machine, script, "compiled", monkeypatch)
    assert compiled_runs["ran"] > 0 and compiled_runs["refused"] == 0
    for key in reference:
        assert compiled[key] == reference[key], (key, sets)


def test_a_segment_the_engine_refuses_runs_in_simpy(monkeypatch):
    # every segment refused: the whole generation goes through the simpy processes, the same result
    trace = TinyTrace(layers=2, heads=2, kv_heads=1, tokens=12, mode="decoder", generate=3)
    design, policy = load_design("spatten"), load_policy("spatten-gpt2")
    reference = simulate(trace, design, policy, log_events=True)
    monkeypatch.setattr(engine, "run_segment", lambda *a, **k: None)
    refused = simulate(trace, design, policy, log_events=True)
    assert _json(refused) == _json(reference) and refused.events == reference.events


def test_a_segment_longer_than_the_engine_takes_runs_in_simpy(monkeypatch, compiled_runs):
    trace = TinyTrace(layers=2, heads=2, kv_heads=1, tokens=12, mode="decoder", generate=3)
    design, policy = load_design("spatten"), load_policy("spatten-gpt2")
    reference = simulate(trace, design, policy, log_events=True)
    monkeypatch.setattr(engine, "MAX_ROWS", 3)  # a step is 2 layers x 2 heads = 4 rows
    longer = simulate(trace, design, policy, log_events=True)
    assert compiled_runs["refused"] > 0
    assert _json(longer) == _json(reference) and longer.events == reference.events


def _json(r) -> str:
    j = r.to_json()
    j.pop("provenance", None)
    return json.dumps(j, sort_keys=True, default=str)


@pytest.mark.parametrize("sets", [[], ["hbm.fetch=store"], ["sram.key_release=done", "topk.engines=1"],
                                  ["sram.key_bytes=2048"]])
def test_simulate_matches_the_simpy_timeline(sets, monkeypatch, compiled_runs):
    trace = TinyTrace(layers=3, heads=4, kv_heads=2, tokens=40, mode="decoder", generate=4)
    design, policy = load_design("spatten", sets), load_policy("spatten-gpt2")
    monkeypatch.setattr(timing_mod, "DEFAULT_ENGINE", "simpy")
    reference = simulate(trace, design, policy, log_events=True)
    monkeypatch.setattr(timing_mod, "DEFAULT_ENGINE", "compiled")
    compiled = simulate(trace, design, policy, log_events=True)
    assert compiled_runs["ran"] > 0 and compiled_runs["refused"] == 0
    assert _json(compiled) == _json(reference) and compiled.events == reference.events


@pytest.mark.parametrize("conventions", ["hardware", "authors"])
def test_csv_replay_matches_the_simpy_timeline(conventions, monkeypatch, compiled_runs):
    from workloads import spatten_csv

    work = spatten_csv.load(SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv")
    monkeypatch.setattr(timing_mod, "DEFAULT_ENGINE", "simpy")
    reference = simulate_replay(work, load_design("spatten"), conventions=conventions)
    monkeypatch.setattr(timing_mod, "DEFAULT_ENGINE", "compiled")
    compiled = simulate_replay(work, load_design("spatten"), conventions=conventions)
    assert compiled_runs["ran"] > 0 and compiled_runs["refused"] == 0
    assert _json(compiled) == _json(reference)
