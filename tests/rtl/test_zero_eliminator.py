"""The zero eliminator RTL against its golden view, in Amaranth's simulator and as Verilog."""

from __future__ import annotations

import gc
import subprocess
import warnings

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwsim.units.topk import zero_eliminate
from rtl.export import verilog_text
from rtl.zero_eliminator import ZeroEliminator


@pytest.mark.parametrize("lanes, width", [(1, 3), (2, 4), (4, 1), (8, 5), (16, 12), (64, 7)])
def test_matches_golden(lanes, width):
    dut = ZeroEliminator(lanes=lanes, width=width)
    rng = np.random.default_rng(lanes * 100 + width)
    mask = (1 << width) - 1

    async def bench(ctx):
        random_cases = 150 if lanes <= 16 else 30  # a 64-lane row is slow in Amaranth's simulator
        cases = [np.zeros(lanes, bool), np.ones(lanes, bool)]
        cases += [rng.random(lanes) < rng.random() for _ in range(random_cases)]
        for keep in cases:
            v = rng.integers(0, mask + 1, lanes)
            ctx.set(dut.data_in, sum(int(x) << (width * i) for i, x in enumerate(v)))
            ctx.set(dut.keep, sum(int(b) << i for i, b in enumerate(keep)))
            out, count = ctx.get(dut.data_out), ctx.get(dut.count)
            golden, golden_count = zero_eliminate(v, keep)
            assert count == golden_count
            assert [(out >> (width * i)) & mask for i in range(lanes)] == golden.tolist()

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_verilog_compiles(tmp_path):
    src = tmp_path / "ze.v"
    src.write_text(verilog_text(ZeroEliminator(lanes=16, width=22), "zero_eliminator"))
    r = subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "a.out"), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("kw, message", [
    ({"lanes": 3, "width": 4}, "Zero eliminator lanes must be a power of two, not 3"),
    ({"lanes": 4, "width": 0}, "Zero eliminator width must be a positive integer, not 0"),
])
def test_bad_parameters(kw, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the half-built component is never elaborated
        with pytest.raises(TypeError) as e:
            ZeroEliminator(**kw)
        text = str(e.value)
        del e
        gc.collect()
    assert text == message
