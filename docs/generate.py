"""Regenerate the tables the docs show from the commands they name (``make docs``).

A generated block in a markdown file sits between two markers::

    <!-- generated: NAME (make docs; from `hwsim ...`) -->
    ...
    <!-- end generated: NAME -->

``python docs/generate.py`` reruns every block's command (the installed ``hwsim`` in a subprocess,
JSON on stdout) and rewrites what lies between its markers; ``--check`` rewrites nothing and exits 1
naming each block that differs; ``--fast`` limits either to the blocks that take seconds (the
drift test, ``tests/docs/test_drift.py``, runs those; the slow ones regenerate in ``make docs``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DOCS = Path(__file__).resolve().parent

__all__ = ["BLOCKS", "render", "update", "main"]


def hwsim_json(*args: str) -> object:
    """Run ``hwsim ARGS --json -`` and return the parsed JSON it prints."""
    env = dict(os.environ, COLUMNS="200")
    r = subprocess.run([sys.executable, "-m", "hwsim", "--quiet", *args, "--json", "-"], capture_output=True,
                       text=True, env=env, cwd=DOCS.parent)
    if r.returncode != 0:
        raise SystemExit(f"docs/generate.py: hwsim {' '.join(args)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def _num(x, digits: int = 5) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}" if abs(x) >= 10000 else str(int(x))
    return f"{x:.{digits}g}"


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def reproduction(doc: dict) -> str:
    """A reproduction table: quantity, paper, ours, ratio, unit (and kind, conventions where rows have them)."""
    extra = [c for c in ("kind", "conventions") if any(c in r for r in doc["rows"])]
    rows = [[r["quantity"], "-" if r["paper"] is None else _num(r["paper"]), _num(r["ours"]),
             "-" if r["ratio"] is None else f"{r['ratio']:.3f}", r["unit"]] + [r.get(c, "") for c in extra]
            for r in doc["rows"]]
    return _table(["quantity", "paper", "ours", "ratio", "unit"] + extra, rows)


def presets(designs: list[dict], policies: list[dict]) -> str:
    """The design and policy presets with their descriptions."""
    return (_table(["design", "what"], [[f"`{d['name']}`", d["description"]] for d in designs]) + "\n\n"
            + _table(["policy", "what"], [[f"`{p['name']}`", p["description"]] for p in policies]))


def sorter(doc: dict) -> str:
    """The top-k engine beside the authors' model and the Batcher sorter, plus the throughput ratios."""
    p = doc["params"]
    rows = [[name, f"{m['mean_cycles']:.1f}", f"{m['std_cycles']:.1f}", f"{m['p50_cycles']:.0f}",
             f"{m['p95_cycles']:.0f}", f"{m['max_cycles']:.0f}", f"{p['n'] / m['mean_cycles']:.2f}", m["comparators"]]
            for name, m in doc["models"].items()]
    table = _table(["model", "mean (cycles)", "std (cycles)", "median (cycles)", "p95 (cycles)", "max (cycles)",
                    "elements per cycle", "comparators"], rows)
    return (f"{table}\n\nAt n = {p['n']}, k = {p['k']} ({p['trials']} random rows): "
            f"**{doc['sorter_over_engine_ratio']:.2f}x** the sorter's throughput for the whole request, "
            f"**{doc['sorter_over_quickselect_ratio']:.2f}x** for the quick-select phase alone.")


#: (n, k) of the engine-vs-authors table in docs/topk.md, with the authors' mean quick-select cycles as
#: docs/sources.md SpAtten §3.4 lists them (their re-implementation, 200 trials); the row in bold is the paper's.
TOPK_POINTS = {(64, 32): "37", (128, 64): "58", (256, 32): "75", (512, 128): "136", (1024, 512): "262 (± 70)",
               (1024, 128): "213", (993, 204): "234", (2048, 64): "342", (4096, 32): "586"}
TOPK_BOLD = (1024, 512)


def _topk_command(n: int, k: int) -> tuple[str, ...]:
    return ("topk", "--n", str(n), "--k", str(k), "--lanes", "16", "--max-n", "4096", "--trials", "1000")


def topk_points(*docs: dict) -> str:
    """Per (n, k): ours and the authors' model (quick-select mean ± std), their listed mean, the whole request,
    rounds and the Batcher sorter (``hwsim topk``)."""
    rows = []
    for (n, k), paper, d in zip(TOPK_POINTS, TOPK_POINTS.values(), docs):
        m = d["models"]
        ours, authors = m["engine: quick-select"], m["authors' model: quick-select"]
        cells = [n, k, f"{ours['mean_cycles']:.0f} ± {ours['std_cycles']:.0f}",
                 f"{authors['mean_cycles']:.0f} ± {authors['std_cycles']:.0f}", paper]
        if (n, k) == TOPK_BOLD:
            cells = [f"**{c}**" for c in cells]
        rows.append(cells + [f"{m['engine: total']['mean_cycles']:.0f}", f"{d['rounds_mean']:.1f}",
                             f"{m['Batcher merge sorter']['mean_cycles']:.0f}"])
    return _table(["n", "k", "ours, quick-select", "authors' model (ours re-run)", "sources.md SpAtten §3.4",
                   "ours, whole request", "rounds", "Batcher sorter"], rows)


def synthesis(filt: dict, none: dict) -> str:
    """Yosys cells, flip-flops, memories and the gate-equivalent area of the top-k engine, per overlap mode."""
    cells = ("$_MUX_", "$_AND_", "$_OR_", "$_XOR_", "$_NOT_")
    rows = [[f"`{c}`", *(d["cells"].get(c, 0) for d in (filt, none))] for c in cells]
    rows.append(["flip-flops (`$_SDFFE_*`, `$_SDFF_*`)", filt["flip_flops"], none["flip_flops"]])
    rows.append(["memories (`$mem_v2`)", *(f"{d['cells'].get('$mem_v2', 0)} = {d['memory_bits']:,} bits"
                                           for d in (filt, none))])
    f, n = filt, none
    return (_table(["cell", '`"filter"`', '`"none"`'], rows) + "\n\n"
            f'Area estimate, `"filter"`: {f["logic_ge"]:,.0f} GE logic + {f["memory_ge"]:,.0f} GE memory = '
            f'{f["total_ge"]:,.0f} GE ≈ **{f["area_mm2_40nm"]:.3g} mm² per engine** in 40 nm; `"none"`: '
            f'{n["logic_ge"]:,.0f} + {n["memory_ge"]:,.0f} = {n["total_ge"]:,.0f} GE ≈ {n["area_mm2_40nm"]:.2g} mm² '
            f'(the overlap costs {100 * (f["total_ge"] / n["total_ge"] - 1):.0f} %).')


def concentration(docs: dict[str, dict]) -> str:
    """Mass in the top 10 % of keys per shape-only workload: the range of the per-layer means."""
    rows = []
    for name, d in docs.items():
        means = [sum(layer["top_mass_fraction"]) / len(layer["top_mass_fraction"]) for layer in d["layers"]]
        rows.append([f"`{name}`", f"{min(means):.3f} - {max(means):.3f}"])
    return _table(["shape-only workload", "mass in the top 10 % of keys, per-layer means (fraction)"], rows)


def explain(doc: dict) -> str:
    """``hwsim simulate --explain``'s table: per unit, busy and stalled cycles by cause, no work left, heads bound."""
    from hwsim.spatten.report import explain_header, explain_rows
    from hwsim.spatten.result import SimResult

    r = SimResult(doc, doc.get("layers", []), [])
    return (f"{doc['workload']} on design `{doc['design']}`, policy `{doc['policy']}`: "
            f"{doc['latency_cycles']:,} cycles; every unit's row sums to them (cycles).\n\n"
            + _table(explain_header(), explain_rows(r)))


def bundled(docs: list[dict]) -> str:
    """The bundled workloads (``hwsim workloads``): model, mode, sizes, default tokens, kind."""
    rows = []
    for w in docs:
        heads = f"{w['layers']} x {w['heads']}" + (f", {w['kv_heads']} KV heads" if w["kv_heads"] != w["heads"] else "")
        tokens = f"{w['tokens']} prompt + {w['generate_tokens']} generated" if w["generate_tokens"] else str(w["tokens"])
        kind = f"real, text `{w['text']}`" if w["real"] else "synthetic (random weights)"
        rows.append([f"`{w['name']}`", w["model"], w["mode"], heads, f"{w['hidden']} / {w['ffn']}", tokens, kind])
    return _table(["name", "model", "mode", "layers x heads", "hidden / FFN", "default tokens", "kind"], rows)


def _runs(values: list[float]) -> str:
    """'0.92, 0.72, 0.23 x 4, 0.13 x 6': consecutive equal values (2 digits) folded."""
    out: list[list] = []
    for v in (f"{x:.2f}" for x in values):
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return ", ".join(v if n == 1 else f"{v} x {n}" for v, n in out)


def _replay_column(d: dict) -> list[str]:
    bits = "-1 (unquantised)" if d["dense"] else (
        f"{'/'.join(map(str, d['key_bits']))} / {'/'.join(map(str, d['value_bits']))} / "
        f"{'/'.join(map(str, d['query_bits']))}, LSB {'/'.join(map(str, d['lsb_bits']))}, threshold "
        f"{'/'.join(_num(t, 3) for t in d['requant_threshold_ratio'])}")
    refetch = round(d["requant_fraction"] * d["rows"])
    events = d["topk_events"]
    heads = sorted({e[2] for e in events})
    ks = list(dict.fromkeys(e[3] for e in events))
    lo, hi = d["sentence_length_tokens"]
    return [
        f"{d['rows']} = {d['iterations']} iterations x {d['layers']} layers x {d['heads']} heads, L = {lo} to {hi}",
        f"{d['kept_key_fraction']:.3f}", f"{d['kept_value_fraction']:.3f}",
        _runs([r["kept_key_fraction"] for r in d["per_layer"]]) if not d["dense"] else "1",
        bits,
        f"{refetch} rows = {d['requant_fraction']:.3f}" if refetch else "none",
        (f"{len(events)}, at head {', '.join(map(str, heads))}, k = {', '.join(map(str, ks))}" if events else "none"),
    ]


def replay_files(full: dict, dense: dict) -> str:
    """What the authors' two GPT-2-Small CSVs hold (``hwsim trace info``), side by side."""
    names = ["rows", "keys fetched / dense", "values fetched / dense", "kept keys by layer", "K / V / Q bits",
             "LSB re-fetch", "token top-k events"]
    a, b = _replay_column(full), _replay_column(dense)
    return _table(["", "all features (`...-per8.csv`)", "dense baseline (`...-per8-step1+dedic.csv`)"],
                  [[n, x, y] for n, x, y in zip(names, a, b)])


@dataclass(frozen=True)
class Block:
    """One generated block: the file it lives in, the commands it names, how to render, whether fast."""

    doc: str
    commands: tuple[tuple[str, ...], ...]
    render: Callable[..., str]
    fast: bool

    def text(self) -> str:
        return self.render(*(hwsim_json(*c) for c in self.commands))


#: (label, extra options) of the quality runs docs/quality.md shows, per workload: the paper policy, then
#: each of its mechanisms alone (the others switched off), then the datapath alone.
QUALITY_RUNS = {
    "minilm": [
        ("spatten-bert (all mechanisms)", ("-p", "spatten-bert")),
        ("token pruning alone", ("-p", "spatten-bert", "--set", "policy.head_pruning.enabled=false",
                                 "--set", "policy.quantization.mode=none")),
        ("head pruning alone", ("-p", "spatten-bert", "--set", "policy.token_pruning.enabled=false",
                                "--set", "policy.quantization.mode=none")),
        ("static 12/8-bit K/V alone", ("-p", "spatten-bert", "--set", "policy.token_pruning.enabled=false",
                                       "--set", "policy.head_pruning.enabled=false")),
        ("12-bit datapath alone (policy none)", ("-p", "none")),
    ],
    "smollm2": [
        ("spatten-gpt2 (all mechanisms)", ("-p", "spatten-gpt2")),
        ("token pruning alone", ("-p", "spatten-gpt2", "--set", "policy.local_v.enabled=false",
                                 "--set", "policy.quantization.mode=none")),
        ("local V pruning alone", ("-p", "spatten-gpt2", "--set", "policy.token_pruning.enabled=false",
                                   "--set", "policy.quantization.mode=none")),
        ("progressive 6+4-bit K/V alone", ("-p", "spatten-gpt2", "--set", "policy.token_pruning.enabled=false",
                                           "--set", "policy.local_v.enabled=false")),
        ("12-bit datapath alone (policy none)", ("-p", "none")),
    ],
}


def quality(labels: list[str], *docs: dict) -> str:
    """One row per quality run: dense and approximate metrics, tokens kept, and the simulated run's cycles and bytes."""
    decoder = docs[0]["mode"] == "decoder"
    metrics = ["perplexity", "top1_agreement_fraction", "greedy_match_fraction"] if decoder else \
        ["embedding_cosine_ratio", "embedding_cosine_min_ratio", "retrieval_top1_fraction"]
    header = (["configuration", "perplexity (dense)", "perplexity", "next-token top-1 agreement (fraction)",
               "greedy tokens equal (fraction)"] if decoder else
              ["configuration", "embedding cosine (mean)", "embedding cosine (worst)",
               "retrieval top-1 (dense)", "retrieval top-1"])
    header += ["tokens kept (mean over layers)", "simulated latency (cycles)", "simulated DRAM (bytes)"]
    rows = []
    for label, d in zip(labels, docs):
        a = d["approximate"]
        vals = ([d["dense"]["perplexity"], a["perplexity"], a["top1_agreement_fraction"], a["greedy_match_fraction"]]
                if decoder else [a["embedding_cosine_ratio"], a["embedding_cosine_min_ratio"],
                                 d["dense"]["retrieval_top1_fraction"], a["retrieval_top1_fraction"]])
        kept = sum(r["tokens_kept_fraction"] for r in d["layers"]) / len(d["layers"])
        rows.append([label, *(_num(v, 4) for v in vals), _num(kept, 3), _num(d["simulated"]["latency_cycles"]),
                     _num(d["simulated"]["dram_bytes"])])
    return _table(header, rows)


def _quality_block(workload: str) -> Block:
    runs = QUALITY_RUNS[workload]
    return Block("quality.md", tuple(("quality", "-w", workload, *extra) for _, extra in runs),
                 lambda *docs: quality([label for label, _ in runs], *docs), fast=False)


#: (workload, label, extra options) of the --full-model runs docs/sparse.md shows.
FULL_MODEL_RUNS = [
    ("gpt2-medium", "arrays (SpAtten-e2e), 8-bit FC", ()),
    ("gpt2-medium", "arrays (SpAtten-e2e), 12-bit FC", ("--set", "linear.weight_bits=12")),
    ("minilm", "arrays (SpAtten-e2e), 8-bit FC", ()),
    ("minilm", "dense 32 x 32, os", ("--set", "linear.engine=dense")),
    ("minilm", "weight-sparse 32 x 32, os, density 0.5", ("--set", "linear.engine=weight-sparse",
                                                          "--set", "linear.density=0.5")),
    ("minilm", "nm 2:4 32 x 32, os", ("--set", "linear.engine=nm")),
]


def full_model(*docs: dict) -> str:
    """One row per --full-model run: attention and linear cycles per stage, end-to-end latency, FC share."""
    rows = []
    for (workload, label, _), d in zip(FULL_MODEL_RUNS, docs):
        fm = d["full_model"]
        st = fm["stage_cycles"]
        gen = fm.get("generation")
        rows.append([workload, label, _num(st["summarization"]["attention"]), _num(st["summarization"]["linear"]),
                     _num(st["generation"]["attention"]), _num(st["generation"]["linear"]),
                     _num(fm["end_to_end_latency_s"] * 1e3, 4),
                     _num(gen["end_to_end_cycles_per_token"] / 1e6, 4) if gen else "-",
                     _num(fm["linear_flops_fraction"], 4), _num(fm["linear_dram_bytes"] / 1e6, 4)])
    return _table(["workload", "linear engine", "summarization attention (cycles)", "summarization linear (cycles)",
                   "generation attention (cycles)", "generation linear (cycles)", "end to end (ms)",
                   "per generated token (ms)", "linear share of FLOPs (fraction)", "linear DRAM (MB, 10^6 bytes)"],
                  rows)


def _concentration_block() -> Block:
    names = ("vit-cifar", "vit-tiny", "bert-base")
    return Block("workloads.md", tuple(("trace", "info", "-w", n) for n in names),
                 lambda *docs: concentration(dict(zip(names, docs))), fast=False)


def _replay_block(doc: str, command: tuple[str, ...], files: tuple[str, ...], render) -> Block:
    """A fast block from commands run on the authors' CSVs (``command`` + the file's path)."""
    from hwsim.paths import shared_dir

    folder = shared_dir() / "data" / "spatten_workloads"
    return Block(doc, tuple((*command, str(folder / f)) for f in files), render, fast=True)


BLOCKS: dict[str, Block] = {
    "presets": Block("configuration.md", (("designs",), ("policies",)), presets, fast=True),
    "mpcvit": Block("mpc.md", (("reproduce", "mpcvit"),), reproduction, fast=True),
    "sorter": Block("topk.md", (("topk", "--n", "1024", "--k", "512", "--lanes", "16", "--trials", "1000"),), sorter,
                    fast=True),
    "topk-points": Block("topk.md", tuple(_topk_command(n, k) for n, k in TOPK_POINTS), topk_points, fast=True),
    "synthesis": Block("topk.md", tuple(("rtl", "synth", "topk", "--lanes", "16", "--width", "12", "--max-n", "1024",
                                         "--overlap", mode) for mode in ("filter", "none")), synthesis, fast=False),
    "spatten": Block("spatten.md", (("reproduce", "spatten"),), reproduction, fast=False),
    "explain-minilm": Block("spatten.md", (("simulate", "-w", "minilm"),), explain, fast=True),
    "explain-gpt2": _replay_block("spatten.md", ("simulate", "-w"), ("summary-gpt2-small-wikitext2-per8.csv",),
                                  explain),
    "concentration": _concentration_block(),
    "bundled": Block("workloads.md", (("workloads",),), bundled, fast=True),
    "replay-files": _replay_block("workloads.md", ("trace", "info", "-w"), (
        "summary-gpt2-small-wikitext2-per8.csv", "summary-gpt2-small-wikitext2-per8-step1+dedic.csv"), replay_files),
    "full-model": Block("sparse.md", tuple(("simulate", "-w", w, "--full-model", *extra) for w, _, extra in FULL_MODEL_RUNS),
                        full_model, fast=False),
    "quality-minilm": _quality_block("minilm"),
    "quality-smollm2": _quality_block("smollm2"),
}

_MARK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) [^>]*-->\n)(?P<body>.*?)(<!-- end generated: (?P=name) -->)",
                   re.S)


def render(name: str) -> str:
    """The body of block ``name`` as the current code produces it (one trailing newline)."""
    return BLOCKS[name].text().rstrip("\n") + "\n"


def committed(name: str) -> str:
    """The body of block ``name`` as the doc holds it."""
    text = (DOCS / BLOCKS[name].doc).read_text()
    for m in _MARK.finditer(text):
        if m.group("name") == name:
            return m.group("body")
    raise SystemExit(f"docs/{BLOCKS[name].doc}: no generated block '{name}'")


def update(name: str, body: str) -> bool:
    """Put ``body`` between block ``name``'s markers; return whether the file changed."""
    path = DOCS / BLOCKS[name].doc
    text = path.read_text()
    new = _MARK.sub(lambda m: m.group(1) + body + m.group(4) if m.group("name") == name else m.group(0), text)
    if new != text:
        path.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when a block differs")
    ap.add_argument("--fast", action="store_true", help="only the blocks that take seconds")
    ap.add_argument("names", nargs="*", help="blocks to regenerate (default: all)")
    args = ap.parse_args(argv)
    names = args.names or [n for n, b in BLOCKS.items() if b.fast or not args.fast]
    stale = []
    for name in names:
        if name not in BLOCKS:
            raise SystemExit(f"docs/generate.py: unknown block {name!r}; expected one of {', '.join(BLOCKS)}")
        body = render(name)
        if args.check:
            if body != committed(name):
                stale.append(name)
        elif update(name, body):
            print(f"docs/{BLOCKS[name].doc}: regenerated {name}")
    for name in stale:
        print(f"docs/{BLOCKS[name].doc}: block '{name}' differs from what the code produces (run make docs)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
