"""Print the tables of docs/sparse.md: SCALE-Sim agreement (from the fixture) and one table per engine.

Usage (from the repository root)::

    .venv/bin/python docs/sparse_tables.py scalesim
    .venv/bin/python docs/sparse_tables.py engine RUN.json [RUN.json ...]   # JSONs of `hwsim sparse --workload minilm`

The engine table sums minilm's six blocks per layer role (Q, K, V, attention output, FFN in, FFN out).
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROLES = (("attention.self.query", "Q"), ("attention.self.key", "K"), ("attention.self.value", "V"),
         ("attention.output.dense", "attn out"), ("intermediate.dense", "FFN in"), ("output.dense", "FFN out"))
SUMS = ("compute_cycles", "total_cycles", "dense_total_cycles", "dram_bytes", "energy_pj", "effectual_mac_ops")


def scalesim() -> None:
    sys.path.insert(0, str(ROOT))
    from hwsim.units.sparse.golden import dense_cycles
    from hwsim.units.sparse.params import GemmShape, SystolicParams, conv_gemm_shape

    cases = json.loads((ROOT / "tests/hwsim/units/sparse/scalesim_fixture.json").read_text())["cases"]
    agg: dict = collections.OrderedDict()
    for c in cases:
        arr = SystolicParams(rows=c["rows"], cols=c["cols"], dataflow=c["dataflow"])
        if c["kind"] == "gemm":
            shape = GemmShape(m=c["m"], k=c["k"], n=c["n"])
        else:
            shape = conv_gemm_shape(h=c["h"], w=c["w"], c=c["c"], k=c["k"], r=c["r"], s=c["s"], stride=c["stride"],
                                    depthwise=c["depthwise"])
        ours = dense_cycles(shape, arr).compute_cycles
        theirs = sum(t + 1 for t in c["total_cycles"])
        e = agg.setdefault((f"{c['rows']}x{c['cols']}", c["dataflow"]), [0, 0, 0, 0])
        e[0] += 1
        e[1] += ours == theirs
        e[2] += ours
        e[3] += theirs
    print("| array | dataflow | cases | equal | our compute_cycles (sum) | SCALE-Sim Total Cycles + 1 (sum) |")
    print("|---|---|---|---|---|---|")
    for (a, df), e in agg.items():
        print(f"| {a} | {df} | {e[0]} | {e[1]} | {e[2]:,} | {e[3]:,} |")


def _role(name: str) -> str:
    return next((r for pat, r in ROLES if name.endswith(pat)), name)


def engine(paths: list[str]) -> None:
    for path in paths:
        d = json.loads(Path(path).read_text())
        groups: dict = collections.OrderedDict()
        for lay in d["layers"]:
            e = groups.setdefault(_role(lay["name"]), collections.Counter())
            for k in SUMS:
                e[k] += lay[k]
            e["err"] += lay["output_error_ratio"]
            e["wd"] += lay["weight_density_fraction"]
            e["ad"] += lay["activation_density_fraction"]
            e["n"] += 1
            e["shape"] = f"{lay['input_rows']}x{lay['window_elements']}x{lay['filters_count']}"
        print("| layers (x6) | m x k x n | weight density | activation density | compute_cycles | total_cycles "
              "| utilization_fraction | speedup_vs_dense_x | dram_bytes | energy_uj | output_error_ratio (mean) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        pes = d["layers"][0]["pes_count"]
        for r, e in groups.items():
            n = e["n"]
            print(f"| {r} | {e['shape']} | {e['wd'] / n:.3f} | {e['ad'] / n:.3f} | {e['compute_cycles']:,} | "
                  f"{e['total_cycles']:,} | {e['effectual_mac_ops'] / (pes * e['compute_cycles']):.3f} | "
                  f"{e['dense_total_cycles'] / e['total_cycles']:.2f} | {e['dram_bytes']:,} | "
                  f"{e['energy_pj'] / 1e6:.1f} | {e['err'] / n:.4f} |")
        t = d["totals"]
        print(f"| **total** | | | | {t['compute_cycles']:,} | {t['total_cycles']:,} | {t['utilization_fraction']:.3f} | "
              f"{t['speedup_vs_dense_x']:.2f} | {t['dram_bytes']:,} | {t['energy_pj'] / 1e6:.1f} | "
              f"{t['mean_output_error_ratio']:.4f} |")
        if t.get("bernoulli_compute_cycles"):
            print(f"\nClosed-form Bernoulli estimate (§5) of the compute cycles from the densities alone: "
                  f"{t['bernoulli_compute_cycles']:,.0f} (measured from the masks: {t['compute_cycles']:,}).")
        print()


if __name__ == "__main__":
    if sys.argv[1:2] == ["scalesim"]:
        scalesim()
    elif sys.argv[1:2] == ["engine"]:
        engine(sys.argv[2:])
    else:
        sys.exit(__doc__)
