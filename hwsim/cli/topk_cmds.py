"""``hwsim topk``: cycle distribution of the quick-select top-k engine beside its baselines."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import HwsimError
from .app import JsonOption, app, console, emit_json, json_to_stdout, progress_enabled, rich_table

SCORE_KINDS = ("uniform", "ties")


def _stats(a) -> dict:
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    return {"mean_cycles": float(a.mean()), "std_cycles": float(a.std()), "p50_cycles": float(np.percentile(a, 50)),
            "p95_cycles": float(np.percentile(a, 95)), "max_cycles": float(a.max())}


@app.command("topk")
def topk_cmd(
    n: Annotated[int, typer.Option("--n", help="Scores per selection (elements).")] = 1024,
    k: Annotated[Optional[int], typer.Option("--k", help="Scores kept (elements); default n / 2, the worst case.")] = None,
    lanes: Annotated[int, typer.Option(help="Comparators per comparator array (power of two, 1..64).")] = 16,
    in_lanes: Annotated[int, typer.Option(help="Scores per input beat (power of two, 1..64).")] = 8,
    width: Annotated[int, typer.Option(help="Score width (bits, 2..32).")] = 12,
    max_n: Annotated[int, typer.Option(help="Capacity of the engine's buffers (elements).")] = 1024,
    trials: Annotated[int, typer.Option(help="Random rows to select from (count).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the random rows and of the pivot LFSR.")] = 0,
    scores: Annotated[str, typer.Option(help="Score distribution: uniform (all width-bit values) or ties (0..15).")] = "uniform",
    json_out: JsonOption = None,
) -> None:
    """Cycles of the top-k engine on random rows: distribution, elements/cycle, and baselines.

    Runs the golden model (the exact cycle count of the RTL's microarchitecture) on TRIALS random
    rows, and beside it the authors' latency model of the quick-select phase
    (TopKLatencyModel.scala: ceil(m/P) + 3 cycles per round) and a Batcher odd-even merge sorter
    at the same lanes (the paper's baseline: 1.4x less throughput at n = 1024, median k).
    """
    import numpy as np

    from ..outputs import provenance
    from ..units.topk import TopKParams, select_batch_detail
    from ..units.topk.authors import authors_quickselect_cycles
    from ..units.topk.sorter import MergeSorterModel

    params = TopKParams(lanes=lanes, width=width, max_n=max_n, in_lanes=in_lanes, seed=seed)
    if n < 1:
        raise HwsimError(f"--n {n}: expected a positive integer")
    if n > max_n:
        raise HwsimError(f"--n {n}: n = {n} scores exceed the engine's max_n = {max_n} (--max-n)")
    k = n // 2 if k is None else k
    if not 1 <= k <= n:
        raise HwsimError(f"--k {k}: expected an integer from 1 to n = {n}")
    if trials < 1:
        raise HwsimError(f"--trials {trials}: expected a positive integer")
    if scores not in SCORE_KINDS:
        raise HwsimError(f"--scores {scores}: expected one of {', '.join(SCORE_KINDS)}")

    rng = np.random.default_rng(seed)
    hi = params.max_score if scores == "uniform" else min(15, params.max_score)
    fields = ("cycles", "quickselect_cycles", "rounds")
    det = {f: np.zeros(trials, dtype=np.int64) for f in fields}
    chunk = 10000
    from rich.progress import Progress

    with Progress(console=console, transient=True, disable=trials <= chunk or not progress_enabled()) as progress:
        task = progress.add_task("selecting", total=trials)
        for lo in range(0, trials, chunk):
            rows = min(chunk, trials - lo)
            x = rng.integers(0, hi + 1, size=(rows, n))
            _, d = select_batch_detail(x, np.full(rows, k), lanes=lanes, seed=seed, in_lanes=in_lanes,
                                       width=width, max_n=max_n)
            for f in fields:
                det[f][lo:lo + rows] = d[f]
            progress.advance(task, rows)
    authors = authors_quickselect_cycles(n, k, lanes, min(trials, 2000), seed=seed)
    sorter = MergeSorterModel(lanes=lanes, in_lanes=in_lanes)
    sorter_cycles = sorter.cycles(n, k)

    models = {
        "engine: total": {**_stats(det["cycles"]), "comparators": 3 * lanes,
                          "what": "first input beat to last output beat: fill + quick-select + filter"},
        "engine: quick-select": {**_stats(det["quickselect_cycles"]), "comparators": 2 * lanes,
                                 "what": "the rounds only, ceil(m/P) + 4 cycles each"},
        "authors' model: quick-select": {**_stats(authors), "comparators": 2 * lanes,
                                         "what": "TopKLatencyModel.scala, ceil(m/P) + 3 cycles per round"},
        "Batcher merge sorter": {**_stats([sorter_cycles]), "comparators": sorter.comparators,
                                 "what": "odd-even merge sorter at the same lanes; sorted output, input order lost"},
    }
    rows = [[name, f"{v['mean_cycles']:.1f}", f"{v['std_cycles']:.1f}", f"{v['p50_cycles']:.0f}",
             f"{v['p95_cycles']:.0f}", f"{v['max_cycles']:.0f}", f"{n / v['mean_cycles']:.2f}", v["comparators"]]
            for name, v in models.items()]
    title = (f"Top-k engine {params.describe()}: n={n}, k={k}, {trials} random rows ({scores} scores), "
             f"{det['rounds'].mean():.1f} rounds on average")
    ratio = sorter_cycles / models["engine: total"]["mean_cycles"]
    ratio_qs = sorter_cycles / models["engine: quick-select"]["mean_cycles"]
    am = models["authors' model: quick-select"]
    if not json_to_stdout(json_out):
        console.print(rich_table(title, ["model", "mean (cycles)", "std (cycles)", "median (cycles)", "p95 (cycles)",
                                         "max (cycles)", "elements per cycle", "comparators"], rows))
        for name, v in models.items():
            console.print(f"  {name}: {v['what']}")
        console.print(f"throughput vs the Batcher sorter: {ratio:.2f}x (whole request), {ratio_qs:.2f}x "
                      "(quick-select phase only); paper: 1.4x at n = 1024, median k (Wang, Zhang and Han, SpAtten, "
                      "HPCA 2021, §3.1)")
        console.print(f"authors' model at this n, k: {am['mean_cycles']:.0f} +- {am['std_cycles']:.0f} cycles; "
                      "docs/topk.md lists 262 +- 70 for n = 1024, k = 512, P = 16 (the authors' "
                      "TopKLatencyModel.scala)")
    if json_out is not None:
        written = emit_json(json_out, {"params": {"n": n, "k": k, "lanes": lanes, "in_lanes": in_lanes, "width": width,
                                         "max_n": max_n, "trials": trials, "scores": scores},
                              "models": models, "sorter_over_engine_ratio": ratio,
                              "sorter_over_quickselect_ratio": ratio_qs,
                              "rounds_mean": float(det["rounds"].mean()),
                              "provenance": provenance(seed=seed)})
        if written is not None:
            console.print(f"wrote {json_out}")
