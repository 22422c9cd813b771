"""Generate scalesim_fixture.json: SCALE-Sim v3's cycle counts for small GEMMs and convolutions.

Not run by the test suite (SCALE-Sim is not a dependency). Regenerate from the repository root with
a scratch venv outside the checkout::

    python3 -m venv /work/scratch-scalesim
    /work/scratch-scalesim/bin/pip install scalesim==3.0.0 'numpy<2.4'
    /work/scratch-scalesim/bin/python tests/hwsim/units/sparse/scalesim_fixture.py

SCALE-Sim runs in-process (its CLI ignores ``-s`` and writes per-cycle traces) in its
bandwidth-estimating ``CALC`` mode, so no layer stalls. GEMM topology rows are ``name, M, N, K,``;
a conv layer whose name contains ``DP`` is depthwise and SCALE-Sim runs it as one single-channel
layer per channel. Each case records SCALE-Sim's per-(sub)layer "Total Cycles" (the index of the
last cycle) and stall cycles.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from importlib.metadata import version
from pathlib import Path

from scalesim.scale_sim import scalesim

OUT = Path(__file__).with_name("scalesim_fixture.json")

ARRAYS = [(4, 4), (8, 8), (16, 8), (8, 32)]
DATAFLOWS = ["os", "ws", "is"]
#: name, m, k, n (our GEMM: an m x k input times a k x n weight)
GEMMS = [("g_small", 10, 7, 6), ("g_odd", 33, 20, 17), ("g_square", 48, 48, 48), ("g_thin", 5, 100, 3),
         ("g_row", 1, 50, 40)]
#: name, h, w, c, k (filters), r, s, stride, depthwise
CONVS = [("c_3x3", 8, 8, 3, 8, 3, 3, 1, False), ("c_stride2", 9, 9, 4, 6, 3, 3, 2, False),
         ("c_1x1", 6, 6, 16, 16, 1, 1, 1, False), ("c_5x3", 10, 7, 2, 5, 5, 3, 1, False),
         ("c_DP3x3", 8, 8, 4, 4, 3, 3, 1, True)]

CONFIG = """[general]
run_name = fixture

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 64
FilterSramSzkB: 64
OfmapSramSzkB: 64
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 10
Dataflow : {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def _run(rows: int, cols: int, dataflow: str, topology: str, gemm: bool) -> list[tuple[str, int, int]]:
    """Run SCALE-Sim on a topology; return (layer name, total cycles, stall cycles) per (sub)layer."""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "c.cfg").write_text(CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
        (Path(d) / "t.csv").write_text(topology)
        (Path(d) / "l.csv").write_text("Layer name,\n")
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(save_disk_space=True, verbose=False, config=f"{d}/c.cfg", topology=f"{d}/t.csv",
                           layout=f"{d}/l.csv", input_type_gemm=gemm)
            sim.run_scale(top_path=d)
        names = [t[0] for t in sim.topo.topo_arrays]
        out = []
        for name, layer in zip(names, sim.runner.single_layer_sim_object_list):
            _, total, stalls, *_ = layer.get_compute_report_items()
            out.append((name, int(total), int(stalls)))
        return out


def main() -> None:
    cases = []
    gemm_topo = "Layer, M, N, K,\n" + "".join(f"{n}, {m}, {nn}, {k},\n" for n, m, k, nn in GEMMS)
    conv_topo = "Layer name, IFMAP height, IFMAP width, Filter height, Filter width, Channels, Num filter, Strides,\n"
    conv_topo += "".join(f"{n}, {h}, {w}, {r}, {s}, {c}, {1 if dw else k}, {st},\n"
                         for n, h, w, c, k, r, s, st, dw in CONVS)
    for rows, cols in ARRAYS:
        for df in DATAFLOWS:
            runs = _run(rows, cols, df, gemm_topo, True)
            for (name, m, k, n), (got, total, stalls) in zip(GEMMS, runs):
                assert got == name
                cases.append({"kind": "gemm", "name": name, "rows": rows, "cols": cols, "dataflow": df,
                              "m": m, "k": k, "n": n, "total_cycles": [total], "stall_cycles": [stalls]})
            runs = _run(rows, cols, df, conv_topo, False)
            for name, h, w, c, k, r, s, st, dw in CONVS:
                mine = [x for x in runs if x[0] == name or (dw and x[0].startswith(name + "Channel_"))]
                cases.append({"kind": "conv", "name": name, "rows": rows, "cols": cols, "dataflow": df,
                              "h": h, "w": w, "c": c, "k": k, "r": r, "s": s, "stride": st, "depthwise": dw,
                              "total_cycles": [x[1] for x in mine], "stall_cycles": [x[2] for x in mine]})
            print(rows, cols, df, "done", flush=True)
    OUT.write_text(json.dumps({"tool": f"scalesim {version('scalesim')}", "mode": "CALC (no stalls)",
                               "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
