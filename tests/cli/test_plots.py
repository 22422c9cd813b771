"""Every plot the CLI draws: written, of a sane size, not blank; and the per-layer columns behind them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hwsim import load_design, load_policy
from hwsim.spatten import simulate
from hwsim.spatten.report import plot, stalls_by_layer, title_of
from tiny_workload import TinyTrace


def _check_png(path, min_px=(800, 500)):
    assert path.suffix == ".png" and path.stat().st_size > 20_000
    with Image.open(path) as im:
        assert im.info.get("dpi", (0, 0))[0] == pytest.approx(200, abs=1)
        w, h = im.size
        assert w >= min_px[0] and h >= min_px[1] and w < 6000 and h < 6000
        px = np.asarray(im.convert("L"), dtype=np.float64)
    ink = (px < 200).mean()  # share of pixels that are not (near) white
    assert 0.02 < ink < 0.6, f"{path.name}: {ink:.3f} of the pixels are drawn"


@pytest.fixture(scope="module")
def decoder_run():
    t = TinyTrace(mode="decoder", generate=4, layers=3)
    return simulate(t, load_design("spatten"), load_policy("spatten-gpt2"))


@pytest.fixture(scope="module")
def plots(decoder_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    return {p.stem: p for p in plot(decoder_run, out)}


def test_cycles_by_layer(plots):
    _check_png(plots["cycles_by_layer"], min_px=(1600, 1200))  # two stages x (by unit, by stall cause)


def test_stall_breakdown_by_layer_sums_to_the_latency(decoder_run):
    # the lower row: every cycle of the prob x V array, busy or stalled, charged to a layer; but the final drain
    s = decoder_run.summary
    total = 0
    for stage, cycles in s["stage_cycles"].items():
        parts = stalls_by_layer(decoder_run, stage)
        assert set(parts) == {"busy", "hbm", "layer", "sram", "select", "pipeline"}
        assert all(len(v) == len(decoder_run.layers) for v in parts.values())
        assert 0 < sum(map(sum, parts.values())) <= cycles
        total += sum(map(sum, parts.values()))
    assert total + s["explain"]["units"]["pv"]["idle_cycles"] == s["latency_cycles"]
    assert sum(stalls_by_layer(decoder_run, "generation")["hbm"]) > 0


def test_dram_by_kind(plots):
    _check_png(plots["dram_by_kind"])


def test_kept_by_layer(plots):
    _check_png(plots["kept_by_layer"])


def test_other_formats(decoder_run, tmp_path):
    svg = {p.suffix for p in plot(decoder_run, tmp_path, plot_format="svg")}
    assert svg == {".svg"} and (tmp_path / "dram_by_kind.svg").read_text().lstrip().startswith("<?xml")
    first = (tmp_path / "dram_by_kind.svg").read_bytes()
    plot(decoder_run, tmp_path, plot_format="svg")
    assert (tmp_path / "dram_by_kind.svg").read_bytes() == first  # no dates or random ids
    assert (tmp_path / "kept_by_layer.pdf").exists() is False
    plot(decoder_run, tmp_path, plot_format="pdf")
    assert (tmp_path / "kept_by_layer.pdf").read_bytes().startswith(b"%PDF")


def test_title_names_workload_design_policy(decoder_run):
    assert title_of(decoder_run) == "tiny-decoder, design spatten, policy spatten-gpt2"


def test_per_layer_latency_sums_to_the_end_to_end_latency(decoder_run):
    s = decoder_run.summary
    layers = decoder_run.layers
    assert sum(r["latency_cycles"] for r in layers) == s["latency_cycles"]
    for stage, cycles in s["stage_cycles"].items():
        assert sum(r[f"{stage}_latency_cycles"] for r in layers) == cycles
    for kind, b in s["dram_bytes_by_kind"].items():
        assert sum(r[f"dram_{kind}_bytes"] for r in layers) == b
    assert all(0 < r["values_kept_fraction"] <= 1 for r in layers)


def test_dense_baseline_is_what_the_dense_design_fetches():
    # the dense design at the 12-bit datapath under no pruning fetches exactly the 12-bit baseline
    r = simulate(TinyTrace(mode="encoder", layers=3), load_design("dense"), load_policy("none"))
    for row in r.layers:
        assert row["dense_12bit_dram_bytes"] == sum(row[f"dram_{k}_bytes"] for k in ("q", "k_msb", "k_lsb", "v"))
        assert row["dense_fp32_dram_bytes"] * 12 == row["dense_12bit_dram_bytes"] * 32


def test_mpc_plot(tmp_path):
    from cost_models.mpc import estimate

    from hwsim.cli.mpc_cmds import _plot

    result = estimate("vit-cifar", attention="mixed:0.3")
    path = _plot(result, tmp_path / "mpc.png")
    _check_png(path)


@pytest.mark.parametrize("sets, word", [([], "less"), (["sram.key_bytes=1024", "sram.query_block=4"], "more")])
def test_dram_title_says_less_or_more_than_dense(sets, word):
    """A tiled run re-reads K per pass and block, and may move more than dense attention: the title says which."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hwsim.spatten.report import _dram_figure

    r = simulate(TinyTrace(mode="encoder", layers=2, tokens=48), load_design("spatten", sets), load_policy("none"))
    fig = _dram_figure(plt, np, r, np.arange(len(r.layers)), title_of(r))
    assert f"x {word} than dense 12-bit" in fig.axes[0].get_title()
    plt.close(fig)
