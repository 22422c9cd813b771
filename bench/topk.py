"""Speed of the top-k engine's views, as ratios measured in this process (docs/topk.md).

1. Golden batched selection with exact cycle counting (``select_batch``) on 10,000 rows of
   n = 1024 12-bit scores, against ``numpy.argpartition`` on the same rows: one call over the
   2-D array (one k for all rows) and a loop over rows (each row's own k). Target: at most 2x.
2. RTL simulation throughput in cycles per second of the drive loop (build and start-up
   excluded): the generated Verilog under cocotb + Icarus, Amaranth's simulator, and the bulk
   bench (``rtl/topk_bulk.py``: a Verilog testbench reading the vectors from a file) on Icarus and
   on Verilator, on the paper's engine (lanes 16, in_lanes 8, width 12, max_n 1024) with the
   overlap of the hardware as built ("filter").

Run: ``.venv/bin/python bench/topk.py`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from _clock import best_of
from hwsim.units.topk import TopKParams, select_batch


def bench_golden(rows: int = 10000, n: int = 1024) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4096, size=(rows, n))
    k_med = np.full(rows, n // 2)
    k_rand = rng.integers(1, n + 1, size=rows)
    select_batch(x[:4], k_med[:4], lanes=16)  # compile / load the numba cache
    print(f"golden select_batch, {rows} rows of n = {n} (best of 3, single thread)")
    for label, ks in (("k = n/2 (median)", k_med), ("k random per row", k_rand)):
        ours = best_of(lambda: select_batch(x, ks, lanes=16, in_lanes=8))
        loop = best_of(lambda: [np.argpartition(x[r], n - ks[r]) for r in range(rows)])
        line = (f"  {label:18s} select_batch {ours * 1e3:7.1f} ms | argpartition per row {loop * 1e3:7.1f} ms "
                f"-> ratio {ours / loop:.2f}x")
        if label.startswith("k = n/2"):
            vec = best_of(lambda: np.argpartition(x, n // 2, axis=1))
            line += f" | argpartition(axis=1) {vec * 1e3:7.1f} ms -> ratio {ours / vec:.2f}x"
        print(line)


def bench_rtl() -> None:
    from rtl.topk_bench import Phase, run_amaranth
    from rtl.topk_sim import run_cocotb

    p = TopKParams(lanes=16, in_lanes=8, width=12, max_n=1024)
    print(f"RTL simulation throughput, {p.describe()} (drive loop only)")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        rep, _ = run_cocotb(p, [Phase(150, 1)], d)
        total = time.perf_counter() - t
    assert rep.ok, rep.first_mismatch_line()
    icarus = rep.sim_cycles / rep.sim_s
    print(f"  cocotb + Icarus : {rep.sim_cycles} cycles in {rep.sim_s:.1f} s -> {icarus:,.0f} cycles/s "
          f"({len(rep.records)} vectors; {total:.1f} s with Verilog generation, build and start-up)")
    rep2 = run_amaranth(p, [Phase(8, 1)])
    assert rep2.ok, rep2.first_mismatch_line()
    am = rep2.sim_cycles / rep2.sim_s
    print(f"  Amaranth sim    : {rep2.sim_cycles} cycles in {rep2.sim_s:.1f} s -> {am:,.0f} cycles/s "
          f"({len(rep2.records)} vectors) -> Icarus/Amaranth {icarus / am:.1f}x")
    from rtl.topk_bulk import run_bulk

    for simulator, vectors in (("icarus", 300), ("verilator", 3000)):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            rep3, _ = run_bulk(p, [Phase(vectors, 1)], d, simulator=simulator)
            total = time.perf_counter() - t
        assert rep3.ok, rep3.first_mismatch_line()
        rate = rep3.sim_cycles / rep3.sim_s
        print(f"  bulk, {simulator:9s}: {rep3.sim_cycles} cycles in {rep3.sim_s:.2f} s -> {rate:,.0f} cycles/s "
              f"({len(rep3.records)} vectors; {total:.1f} s with generation, build and checking) "
              f"-> {rate / icarus:.1f}x cocotb + Icarus")


if __name__ == "__main__":
    bench_golden()
    bench_rtl()
