"""Stall accounting (``hwsim simulate --explain``): exact on a small timeline, sums to the latency, changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

import workloads
from conftest import SHARED
from hwsim import load_design, load_policy
from hwsim.spatten import simulate
from hwsim.spatten.explain import CAUSES, EXPLAIN_UNITS
from tiny_workload import TinyTrace

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"
ENCODER = dict(layers=3, heads=2, tokens=48, seed=1)
DECODER = dict(layers=3, heads=4, kv_heads=2, tokens=24, mode="decoder", generate=3, seed=2)

#: (latency_cycles, dram_bytes, stage_cycles) before the timeline recorded stalls (the recording must
#: not move any simulated number; a deliberate model change updates these: last, summarization rows
#: following each other through the row pipeline without a drain between heads, generation unchanged).
PINNED = {  # the defaults: fetched lines stream into Q x K and prob x V, 6-bit K/V of head pairs stored fused
    ("encoder", "spatten", ()): (1658, 54272, {"summarization": 1658, "generation": 0}),
    ("decoder", "spatten", ()): (3870, 29472, {"summarization": 1935, "generation": 1935}),
    ("decoder", "spatten", ("topk.overlap=none",)): (4317, 29472, {"summarization": 2323, "generation": 1994}),
    ("encoder", "spatten-eighth", ()): (9105, 54272, {"summarization": 9105, "generation": 0}),
    ("decoder", "spatten-eighth", ("topk.engines=1",)): (5171, 29472, {"summarization": 2865, "generation": 2306}),
    ("decoder", "spatten-eighth", ("topk.overlap=none",)): (5629, 29472, {"summarization": 3253, "generation": 2376}),
    # store and forward, unfused: the numbers of main before streaming fetches and fused pairs (a7e2bf9)
    ("encoder", "spatten", ("hbm.fetch=store", "hbm.fuse_pairs=none")): (1687, 54272, {"summarization": 1687,
                                                                                      "generation": 0}),
    ("decoder", "spatten", ("hbm.fetch=store", "hbm.fuse_pairs=none")): (3957, 29632, {"summarization": 1938,
                                                                                      "generation": 2019}),
}


def _run(kind, design="spatten", overrides=(), **kw):
    trace = TinyTrace(**(ENCODER if kind == "encoder" else DECODER))
    policy = "spatten-bert" if kind == "encoder" else "spatten-gpt2"
    return simulate(trace, load_design(design, list(overrides)), load_policy(policy), seed=0, **kw)


def _adds_up(r):
    latency = r["latency_cycles"]
    units = r["explain"]["units"]
    assert set(units) == set(EXPLAIN_UNITS)
    for unit, e in units.items():
        parts = [e["busy_cycles"], *(e[f"stall_{c}_cycles"] for c in CAUSES), e["idle_cycles"]]
        assert min(parts) >= 0 and sum(parts) == latency, unit
        # the per-(stage, layer) rows split the same busy and stalled cycles
        rows = [row for row in r["explain"]["layers"] if row["unit"] == unit]
        for key in ["busy_cycles", *(f"stall_{c}_cycles" for c in CAUSES)]:
            assert sum(row[key] for row in rows) == e[key], (unit, key)


@pytest.mark.parametrize("case", sorted(PINNED, key=str))
def test_recording_changes_no_simulated_number(case):
    kind, design, overrides = case
    r = _run(kind, design, overrides)
    assert (r["latency_cycles"], r["dram_bytes"], r["stage_cycles"]) == PINNED[case]
    _adds_up(r)


def test_replay_is_unchanged_and_explained():
    wl = workloads.resolve(str(CSV))
    old = simulate(wl, load_design("spatten", ["sram.key_release=done", "hbm.fetch=store", "hbm.fuse_pairs=none"]),
                   None, seed=0)
    assert (old["latency_cycles"], old["dram_bytes"]) == (872647, 95510432)  # main at fb0dc38 (K held to prob x V)
    _adds_up(old)
    held = simulate(wl, load_design("spatten", ["sram.key_release=done"]), None, seed=0)
    # streamed fetches and fused head pairs: fewer bytes (no 48 B vector straddles a granule)
    assert (held["latency_cycles"], held["dram_bytes"]) == (913650, 83018080)
    _adds_up(held)
    r = simulate(wl, load_design("spatten"), None, seed=0)
    # K released at the requant decision (SpAttenController.scala:157): the same bytes, less waiting for SRAM space
    assert (r["latency_cycles"], r["dram_bytes"]) == (750718, 83018080)
    assert r["explain"]["units"]["qk"]["stall_sram_cycles"] < held["explain"]["units"]["qk"]["stall_sram_cycles"]
    _adds_up(r)
    e = r["explain"]["units"]
    assert e["select"]["busy_cycles"] == r["selection_cycles"] > 0
    assert e["topk"]["bound_heads"] == sum(r["bound_by_heads"].values())
    assert e["qk"]["stall_layer_cycles"] > 0 and e["pv"]["stall_hbm_cycles"] > 0


@pytest.mark.parametrize("fetch,first,end", [("store", 49, 187), ("stream", 45, 183)])
def test_summarization_stalls_exactly(fetch, first, end):
    # the timelines of tests/hwsim/spatten/test_simulate.py::test_summarization_timeline_exactly and
    # ::test_summarization_streams_the_fetch_into_q_x_k: HBM busy 0-9; store and forward: data after 40 cycles
    # of latency (49), Q x K rows 49-81, softmax 62-94, prob x V 152-184, 187 in all; streamed: 4 cycles earlier
    r = simulate(TinyTrace(layers=1, heads=1, tokens=16), load_design("spatten", [f"hbm.fetch={fetch}"]),
                 load_policy("none"))
    zero = dict.fromkeys(CAUSES, 0)
    expected = {
        "hbm": (9, zero, end - 9),
        "qk": (32, {**zero, "hbm": first}, 106),
        "softmax": (32, {**zero, "hbm": first, "pipeline": 13}, 93),
        "pv": (32, {**zero, "hbm": first, "pipeline": 103}, 3),
        "pq": (0, zero, end), "topk": (0, zero, end), "select": (0, zero, end),
    }
    for unit, (busy, stalls, idle) in expected.items():
        e = r["explain"]["units"][unit]
        assert (e["busy_cycles"], {c: e[f"stall_{c}_cycles"] for c in CAUSES}, e["idle_cycles"]) == \
            (busy, stalls, idle), unit
    assert r["explain"]["units"]["qk"]["bound_heads"] == 1 and r["explain"]["units"]["select"]["bound_heads"] is None


def test_generation_waits_for_the_previous_layer_and_selections():
    r = _run("decoder")
    _adds_up(r)
    e = r["explain"]["units"]
    assert e["qk"]["stall_layer_cycles"] > 0  # layer l + 1's query needs layer l's output
    assert e["select"]["busy_cycles"] == r["selection_cycles"] > 0
    assert e["qk"]["stall_select_cycles"] > 0
    stages = {row["stage"] for row in r["explain"]["layers"]}
    assert stages == {"summarization", "generation"}


def test_a_small_key_sram_stalls_the_fetches():
    # 4 K/V groups of 16 keys x 96 B; a key SRAM of 2 groups: the third fetch waits for the first group's compute
    trace = TinyTrace(layers=1, heads=4, kv_heads=4, tokens=16)
    roomy = simulate(trace, load_design("spatten"), load_policy("none"))
    tight = simulate(trace, load_design("spatten", ["sram.key_bytes=3072"]), load_policy("none"))
    assert roomy["explain"]["units"]["hbm"]["stall_sram_cycles"] == 0
    assert tight["explain"]["units"]["hbm"]["stall_sram_cycles"] > 0
    _adds_up(tight)


def test_event_log_is_kept():
    a, b = _run("decoder", log_events=True), _run("decoder")
    assert a.events and not b.events
    assert a["explain"] == b["explain"]


def _per_cycle(latency, jobs, uses):
    """The definition of hwsim.spatten.explain stepped one cycle at a time (a reference for small runs)."""
    def cause_at(j, t):
        queued, _, _, trans = jobs[j]
        if t < queued:
            return "pipeline"
        now = "pipeline"
        for at, c in sorted(trans, key=lambda tc: tc[0]):
            if at <= t:
                now = c
        return cause_at(now[1], t) if isinstance(now, tuple) else now

    def flat(unit):
        out = []
        for j, a, b in uses.get(unit, []):
            if isinstance(a, np.ndarray):  # intervals of one job, or of a job each (the compiled generation's)
                out += [(int(k), int(x), int(y)) for k, x, y in zip(np.broadcast_to(j, a.shape), a, b)]
            else:
                out.append((j, a, b))
        return out

    selections = flat("select")
    result = {}
    for unit in EXPLAIN_UNITS:
        iv = flat(unit)
        last = {}
        for j, a, b in iv:
            last[j] = max(last.get(j, 0), b)
        counts = {"busy": 0, **dict.fromkeys(CAUSES, 0), "idle": 0}
        for t in range(latency):
            if any(a <= t < b for _, a, b in iv):
                counts["busy"] += 1
                continue
            pending = [j for j, e in last.items() if e > t]
            if not pending:
                counts["idle"] += 1
                continue
            j = min(pending)
            if t < jobs[j][0]:
                counts["select" if any(a <= t < b for _, a, b in selections) else "layer"] += 1
            else:
                counts[cause_at(j, t)] += 1
        result[unit] = counts
    return result


@pytest.mark.parametrize("kind,design_sets,policy_sets", [
    ("encoder", [], ["local_v.enabled=true"]),
    ("decoder", [], []),
    # LSB re-fetches (the pq stage holding for HBM) and a key SRAM of two groups (fetches wait for space)
    ("encoder", ["sram.key_bytes=3072"], ["local_v.enabled=true", "quantization.mode=progressive",
                                          "quantization.key_bits=4", "quantization.threshold=0.9"]),
])
def test_accounting_matches_a_per_cycle_reference(kind, design_sets, policy_sets):
    from hwsim.spatten import timing

    seen = {}
    account = timing.account
    trace = TinyTrace(layers=2, heads=4, kv_heads=4 if design_sets else 1, tokens=16, mode=kind,
                      generate=2 if kind == "decoder" else 0)
    policy = "spatten-gpt2" if kind == "decoder" else "spatten-bert"
    try:
        timing.account = lambda latency, jobs, uses: seen.setdefault("args", (latency, jobs, uses)) and \
            account(latency, jobs, uses)
        r = simulate(trace, load_design("spatten", design_sets), load_policy(policy, policy_sets))
    finally:
        timing.account = account
    reference = _per_cycle(*seen["args"])
    for unit, e in r["explain"]["units"].items():
        got = {"busy": e["busy_cycles"], **{c: e[f"stall_{c}_cycles"] for c in CAUSES}, "idle": e["idle_cycles"]}
        assert got == reference[unit], unit
    if design_sets:
        assert reference["hbm"]["sram"] > 0 and reference["pq"]["busy"] > 0 and reference["pq"]["hbm"] > 0


def test_authors_conventions_have_no_layer_or_selection_stalls():
    # their testbench streams the rows with no layer dependency and no token-selection cost
    r = simulate(workloads.resolve(str(CSV)), load_design("spatten"), None, seed=0, conventions="authors")
    _adds_up(r)
    for unit, e in r["explain"]["units"].items():
        assert e["stall_layer_cycles"] == e["stall_select_cycles"] == 0, unit
    assert r["explain"]["units"]["select"]["busy_cycles"] == 0
