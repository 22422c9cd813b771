"""hwsim reproduce mpcvit: every row within 5 % with the one fitted network."""

from __future__ import annotations

from cost_models.mpc import NETWORK_PRESETS
import json
from pathlib import Path

from cost_models.mpc.reproduce import MPCVIT_CIFAR10, MPCVIT_SPU_LAYER, fit_round_ms, mpcvit_rows


def test_every_row_within_five_percent():
    rows = mpcvit_rows()
    assert len(rows) == len(MPCVIT_CIFAR10) + 8 + 4
    for row in rows:
        assert abs(row["ratio"] - 1) < 0.05, row
        assert row["ratio"] == row["ours"] / row["paper"]
    counts = [r for r in rows if r["unit"] == "rounds"]
    assert [r["ours"] for r in counts] == [1372, 903, 567, 847, 320]


def test_spu_layer_counts_are_the_fixture():
    """The SPU rows' reference numbers are the measured ones in spu_fixture.json."""
    fixture = json.loads((Path(__file__).resolve().parent / "spu_fixture.json").read_text())
    names = {"aby3-3pc": "aby3", "semi2k-2pc": "semi2k", "cheetah-2pc": "cheetah"}
    for protocol, total, actions in MPCVIT_SPU_LAYER:
        (rec,) = [m for m in fixture["protocols"][names[protocol]]["models"]
                  if m["model"] == "vit-cifar-1layer-relu_softmax"]
        assert (rec["send_bytes"], tuple(rec["send_actions_per_party"])) == (total, actions)


def test_preset_is_the_fit():
    net = NETWORK_PRESETS["mpcvit"]
    assert net.rtt_ms + net.round_overhead_ms == fit_round_ms(net)
    # the fit does not depend on the round time it starts from
    assert fit_round_ms(net.model_copy(update={"rtt_ms": 5.0})) == fit_round_ms(net)
