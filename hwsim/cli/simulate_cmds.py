"""``hwsim simulate``: a SpAtten simulation of a workload on a design under a policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import SetOption, app, console, rich_table


@app.command("simulate")
def simulate_cmd(
    ctx: typer.Context,
    workload: Annotated[str, typer.Option(
        "--workload", "-w", metavar="NAME|FILE|CSV",
        help="A bundled workload (minilm, smollm2, bert-base, ...; see `hwsim workloads`), a trace file "
        "(.safetensors), or a SpAtten workload CSV (replayed as in the authors' simulation).")] = "minilm",
    design: Annotated[str, typer.Option("--design", "-d", metavar="NAME|FILE", help="Design preset or TOML.")] = "spatten",
    policy: Annotated[Optional[str], typer.Option(
        "--policy", "-p", metavar="NAME|FILE",
        help="Policy preset or TOML [default: spatten-bert for encoders, spatten-gpt2 for decoders; "
        "ignored for a CSV, which carries its own decisions].")] = None,
    set_: SetOption = [],
    tokens: Annotated[Optional[int], typer.Option(help="Tokens of a bundled workload (prompt tokens for decoders).")] = None,
    generate: Annotated[Optional[int], typer.Option(help="Generated tokens of a bundled decoder workload.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the top-k pivots (and of replayed scores).")] = 0,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", metavar="DIR", help="Write summary.json, layers.csv, heads.csv (and plots) here.")] = None,
    json_file: Annotated[Optional[Path], typer.Option("--json", metavar="FILE", help="Write the summary as JSON.")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write PNG plots (into --out, default the current folder).")] = False,
    heads_table: Annotated[bool, typer.Option("--heads", help="Print the per-layer x head table too.")] = False,
    from_: Annotated[Optional[Path], typer.Option(
        "--from", metavar="SUMMARY.json", help="Rerun the run a summary.json records (design, policy, workload, "
        "seed); options given beside it, and --set, apply on top.")] = None,
) -> None:
    """Simulate a workload on a SpAtten-style design; print cycles, DRAM bytes, energy, area, fidelity.

    Overrides apply to the design: `--set topk.lanes=1`; prefix `policy.` to override the
    policy: `--set policy.local_v.keep=0.1`.
    """
    from .. import load_design, load_policy
    from ..spatten import simulate
    from ..spatten.report import plot as plot_result
    from ..spatten.report import summary_rows, write_outputs
    from ..outputs import write_json
    from ..spatten.workload import default_policy, is_replay, load_workload, workload_name

    design_sets = [s for s in set_ if not s.startswith("policy.")]
    policy_sets = [s[len("policy."):] for s in set_ if s.startswith("policy.")]
    if from_ is not None:  # the recorded run, with the options given on this command line on top
        from click.core import ParameterSource

        from ..sweep.provenance import read_run

        run = read_run(from_)
        given = {p for p in ("workload", "design", "policy", "tokens", "generate", "seed")
                 if ctx.get_parameter_source(p) == ParameterSource.COMMANDLINE}
        workload = workload if "workload" in given else run.workload
        tokens = tokens if {"workload", "tokens"} & given else run.tokens
        generate = generate if {"workload", "generate"} & given else run.generate
        seed = seed if "seed" in given else run.seed
        design = design if "design" in given else run.design
        policy = policy if "policy" in given else run.policy
    des = load_design(design, design_sets)
    wl = load_workload(workload, tokens=tokens, generate=generate)
    replay = is_replay(wl)
    pol = None if replay else load_policy(policy or default_policy(wl), policy_sets)
    result = simulate(wl, des, pol, seed=seed, progress=True)
    from ..sweep.provenance import run_record

    result.summary["provenance"]["run"] = run_record(des, pol, workload, tokens=tokens, generate=generate, seed=seed,
                                                     digest=wl.digest)
    console.print(rich_table(f"SpAtten simulation ({'replay of ' if replay else ''}{workload_name(wl)})",
                             ["quantity", "value", "unit"], [list(r) for r in summary_rows(result)]))
    if result.layers and result.layers[0]["attention_rel_error_ratio"] is not None:
        cols = ["layer", "tokens_kept_fraction", "heads_kept_fraction", "attention_rel_error_ratio",
                "prob_mass_kept_fraction"]
        console.print(rich_table("Per layer: what was kept and what it cost in fidelity", cols,
                                 [[f"{row[c]:.4g}" if isinstance(row[c], float) else row[c] for c in cols]
                                  for row in result.layers]))
    if heads_table:
        cols = ["layer", "head", "query_rows", "keys_attended_tokens", "values_used_vectors", "requant_rows",
                "dram_k_msb_bytes", "dram_v_bytes", "bound_by"]
        console.print(rich_table("Per layer x head", cols, [[h[c] for c in cols] for h in result.heads]))
    written = []
    if out is not None:
        written += write_outputs(result, out, plots=plot)
    elif plot:
        written += plot_result(result, Path("."))
    if json_file is not None:
        written.append(write_json(json_file, result.to_json()))
    for p in written:
        console.print(f"wrote {p}")
