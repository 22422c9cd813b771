"""The CSV replay under the hardware and the authors' testbench conventions (hwsim/spatten/replay.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim import HwsimError, load_design, load_policy
from hwsim.reproduce.spatten import FEATURES_CSV, workload_csv
from hwsim.spatten import simulate
from hwsim.units.topk.authors import authors_latency_cycles, dummy_occupancy_cycles
from workloads import spatten_csv


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """The authors' GPT-2-Small trace cut to its first 170 rows: iteration 0 (12 layers x 12 heads, a token
    selection after layer 11) and the first two layers of iteration 1 (one more token selection)."""
    lines = workload_csv(FEATURES_CSV).read_text().splitlines()
    path = tmp_path_factory.mktemp("csv") / "gpt2-head.csv"
    path.write_text("\n".join(lines[:171]) + "\n")
    return spatten_csv.load(path)


def _run(wl, conventions, sets=()):
    return simulate(wl, load_design("spatten", list(sets)), conventions=conventions)


def test_authors_conventions_charge_the_testbench_top_k(replay):
    """Each head's local-V engine is busy for TopKLatencyModel's rounds + one cycle per 8-score beat,
    and the second head of every 6-bit pair for the beats only (TestSpAtten.scala's batch_part_id)."""
    r = _run(replay, "authors")
    rows = {(int(it), int(l), int(h)): (int(kf), int(vf))
            for it, l, h, kf, vf in zip(replay.iteration, replay.layer, replay.head, replay.key_fetch_num,
                                        replay.value_fetch_num)}
    busy = {}
    for (it, layer, head), (kf, vf) in rows.items():
        assert vf < kf  # every row of this trace prunes V locally
        rounds = 0 if head % 2 else authors_latency_cycles(kf, vf, 16, np.random.default_rng([0, it, layer, head, 2]))
        busy[(layer, head)] = busy.get((layer, head), 0) + dummy_occupancy_cycles(kf, rounds, beat=8)
    got = {(h["layer"], h["head"]): h["topk_busy_cycles"] for h in r.heads}
    assert got == busy
    assert r["selection_cycles"] == 0  # if_topk / topk are ignored by the testbench
    assert r["conventions"] == "authors"


def test_conventions_share_bytes_and_differ_in_time(replay):
    hw, au = _run(replay, "hardware"), _run(replay, "authors")
    assert hw["conventions"] == "hardware"
    assert hw["dram_bytes_by_kind"] == au["dram_bytes_by_kind"]
    assert hw["selection_cycles"] > 0  # two token selections on the token/head engine
    # no layer barrier, a cheaper top-k, no selections: the testbench's run is shorter
    assert au["latency_cycles"] < hw["latency_cycles"]
    # the hardware top-k is the golden engine's; one lane slows both, the testbench's less (8-wide beats stay)
    hw1, au1 = _run(replay, "hardware", ["topk.lanes=1"]), _run(replay, "authors", ["topk.lanes=1"])
    assert hw1["latency_cycles"] > hw["latency_cycles"] and au1["latency_cycles"] > au["latency_cycles"]


def test_bad_conventions_are_refused(replay):
    with pytest.raises(HwsimError, match="conventions must be one of hardware, authors"):
        _run(replay, "paper")
    import workloads

    tiny = workloads.get("bert-base", tokens=8)
    with pytest.raises(HwsimError, match="trace, which runs under 'hardware' only"):
        simulate(tiny, load_design("spatten"), load_policy("spatten-bert"), conventions="authors")
