"""``hwsim simulate``: a SpAtten simulation of a workload on a design under a policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import (JsonOption, PlotFormatOption, SetOption, app, check_plot_format, console, emit_json,
                  hidden, json_to_stdout, note, progress_enabled, rich_table, status_enabled, use_alias, warn)


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
        help="Policy preset or TOML \\[default: spatten-bert for encoders, spatten-gpt2 for decoders; one the "
        "design runs (none for -d dense) when it cannot run those; ignored for a CSV, which carries its own "
        "decisions].")] = None,
    set_: SetOption = [],
    tokens: Annotated[Optional[int], typer.Option(help="Tokens of a bundled workload (prompt tokens for decoders).")] = None,
    generate: Annotated[Optional[int], typer.Option(help="Generated tokens of a bundled decoder workload.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the top-k pivots (and of replayed scores).")] = 0,
    out_dir: Annotated[Optional[Path], typer.Option(
        "--out-dir", metavar="DIR", help="Write summary.json, layers.csv, heads.csv (and plots) here.")] = None,
    out_old: Annotated[Optional[Path], hidden("--out", "-o", metavar="DIR")] = None,
    json_file: JsonOption = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write plots (into --out-dir, default the current "
                                                     "folder).")] = False,
    plot_format: PlotFormatOption = "png",
    heads_table: Annotated[bool, typer.Option("--heads", help="Print the per-layer x head table too.")] = False,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Also print, per unit, its busy cycles, its stall cycles by cause (waiting for HBM, the "
        "previous layer, SRAM space, a token/head selection, an earlier unit) and the heads it bounds (the JSON "
        "summary always holds them under explain).")] = False,
    closed_loop: Annotated[bool, typer.Option(
        "--closed-loop", help="minilm, smollm2: time the Q/K/V the model produces with this design's approximations "
        "inside its forward pass (pruned tokens and heads gone, quantized attention; a decoder generates its own "
        "tokens), not the dense traced ones. Default: open loop (docs/quality.md).")] = False,
    conventions: Annotated[str, typer.Option(
        "--conventions", metavar="hardware|authors",
        help="hardware: the accelerator as built. authors (SpAtten CSV replays only): what the authors' testbench "
        "charges (TopKDummy top-k, halved 6-bit head pairs, no layer barriers, no token-selection cost; "
        "docs/spatten.md).")] = "hardware",
    full_model: Annotated[bool, typer.Option(
        "--full-model", help="Also time the linear layers (Q/K/V/output projections, FFN) of every layer on the "
        "design's linear engine (--set linear.engine=arrays|dense|weight-sparse|nm, linear.weight_bits=8), beside "
        "the attention: per-layer and end-to-end latency, FLOPs, bytes, energy (SpAtten-e2e; docs/spatten.md).")] = False,
    from_: Annotated[Optional[Path], typer.Option(
        "--from", metavar="SUMMARY.json", help="Rerun the run a summary.json records (design, policy, workload, "
        "seed); options given beside it, and --set, apply on top.")] = None,
) -> None:
    """Simulate a workload on a SpAtten-style design; print cycles, DRAM bytes, energy, area, fidelity.

    Overrides apply to the design: `--set topk.lanes=1`; prefix `policy.` to override the
    policy: `--set policy.local_v.keep=0.1`.
    """
    import workloads

    from .. import load_design
    from ..spatten import simulate
    from ..spatten.report import plot as plot_result
    from ..spatten.report import explain_header, explain_rows, summary_rows, write_outputs
    from ..errors import HwsimError
    from ..spatten.workload import default_policy, is_replay, workload_name
    from .policy_checks import fit_warnings, override_warnings, resolve_policy

    out_dir = use_alias(out_old, "-o/--out", "--out-dir", out_dir)
    check_plot_format(plot_format)
    design_sets = [s for s in set_ if not s.startswith("policy.")]
    policy_sets = [s for s in set_ if s.startswith("policy.")]
    if from_ is not None:  # the recorded run, with the options given on this command line on top
        from ..sweep.provenance import read_run

        run = read_run(from_)
        given = {p for p in ("workload", "design", "policy", "tokens", "generate", "seed", "conventions")
                 if _from_command_line(ctx, p)}
        workload = workload if "workload" in given else run.workload
        tokens = tokens if {"workload", "tokens"} & given else run.tokens
        generate = generate if {"workload", "generate"} & given else run.generate
        seed = seed if "seed" in given else run.seed
        closed_loop = closed_loop or run.closed_loop
        full_model = full_model or run.full_model
        conventions = conventions if "conventions" in given else run.conventions
        design = design if "design" in given else run.design
        policy = policy if "policy" in given else run.policy
    # check first: design, policy, their pair, sizes and destinations, before tracing or loading anything
    from ..config import check_pair
    from ..limits import MAX_SEED, check_count
    from ..outputs import check_destination
    from ..spatten.simulate import check_fits
    from workloads import peek

    from ..spatten import CONVENTIONS

    if conventions not in CONVENTIONS:
        raise HwsimError(f"--conventions: expected one of {', '.join(CONVENTIONS)}; got {conventions!r}")
    des = load_design(design, design_sets)
    shape = peek(workload, tokens=tokens, generate=generate)
    pol = None
    if shape.replay:
        if full_model:
            raise HwsimError(f"--full-model: {shape.name} is a SpAtten CSV replay, which lists attention rows only; "
                             f"expected a traced transformer")
        if policy is not None or policy_sets:
            raise HwsimError(f"--policy / --set policy.*: {shape.name} is a SpAtten CSV replay, which "
                             f"carries its own pruning and quantization decisions; expected no policy")
    else:
        if conventions != "hardware":
            raise HwsimError(f"--conventions {conventions}: the authors' testbench replays SpAtten workload CSVs; "
                             f"{shape.name} is a trace, which runs under the hardware conventions only")
        pol = resolve_policy(des, policy, default_policy(shape), policy_sets, note)
        check_pair(des, pol)
        check_fits(shape, des, pol)
    check_count("--seed", seed, 0, MAX_SEED)
    if closed_loop and (shape.replay or workload not in ("minilm", "smollm2")):
        raise HwsimError(f"--closed-loop: workload {workload!r} is not a bundled real model; expected minilm or "
                         f"smollm2 (the closed loop runs the model itself)")
    check_destination(out_dir, option="--out-dir", folder=True)
    check_destination(json_file, option="--json")
    wl = workloads.resolve(workload, tokens=tokens, generate=generate, progress=status_enabled())
    replay = is_replay(wl)
    if not replay:
        bare = [s[len("policy."):] for s in policy_sets]
        for line in override_warnings(pol, bare) + fit_warnings(pol, wl.layers, workload_name(wl)):
            warn(line)
    if closed_loop:
        from ..quality.run import closed_loop_trace

        wl = closed_loop_trace(wl, des, pol, seed=seed)
    result = simulate(wl, des, pol, seed=seed, progress=progress_enabled(), conventions=conventions,
                      full_model=full_model)
    from ..sweep.provenance import run_record

    result.summary["provenance"]["run"] = run_record(des, pol, workload, tokens=tokens, generate=generate, seed=seed,
                                                     digest=wl.digest, closed_loop=closed_loop,
                                                     conventions=conventions, full_model=full_model)
    tables = not json_to_stdout(json_file)
    if tables:
        conv = ", the authors' testbench conventions" if conventions == "authors" else ""
        console.print(rich_table(f"SpAtten simulation ({'replay of ' if replay else ''}{workload_name(wl)}{conv})",
                                 ["quantity", "value", "unit"], [list(r) for r in summary_rows(result)]))
    if tables and explain:
        console.print(rich_table(f"Where the {result['latency_cycles']:,} cycles go, per unit (cycles; busy + stalled + "
                                 "no work left = latency)", explain_header(), explain_rows(result)))
    if tables and full_model:
        console.print(rich_table(f"Full model: attention + linear layers (engine {des.linear.engine}, "
                                 f"{des.linear.weight_bits}-bit weights)", ["quantity", "value", "unit"],
                                 _full_model_rows(result.summary["full_model"], des.clock_ghz)))
    if tables and result.layers and result.layers[0]["attention_rel_error_ratio"] is not None:
        cols = {"layer": "layer", "tokens_kept_fraction": "tokens kept", "heads_kept_fraction": "heads kept",
                "values_kept_fraction": "V kept (of keys)", "attention_rel_error_ratio": "attention error (rel. L2)",
                "prob_mass_kept_fraction": "probability mass kept", "latency_cycles": "latency (cycles)",
                "linear_cycles": "linear layers (cycles)"}
        cols = {k: v for k, v in cols.items() if k in result.layers[0]}
        console.print(rich_table("Per layer: what was kept and what it cost in fidelity", list(cols.values()),
                                 [[f"{row[c]:.4g}" if isinstance(row[c], float) else row[c] for c in cols]
                                  for row in result.layers]))
    if tables and heads_table:
        cols = {"layer": "layer", "head": "head", "query_rows": "query rows", "keys_attended_tokens": "keys attended",
                "values_used_vectors": "V vectors used", "requant_rows": "LSB re-fetch rows",
                "dram_k_msb_bytes": "DRAM K MSB (bytes)", "dram_v_bytes": "DRAM V (bytes)", "bound_by": "bound by"}
        console.print(rich_table("Per layer x head", list(cols.values()), [[h[c] for c in cols] for h in result.heads]))
    written = []
    if out_dir is not None:
        from ..outputs import write_folder

        written += write_folder(out_dir, lambda folder: write_outputs(result, folder, plots=plot,
                                                                      plot_format=plot_format))
    elif plot:
        written += plot_result(result, Path("."), plot_format=plot_format)
    written.append(emit_json(json_file, result.to_json()))
    for p in written:
        if p is not None and tables:
            console.print(f"wrote {p}")


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was given on the command line (not a default).

    Compared by name: typer ships its own copy of click, whose ``ParameterSource`` is not
    ``click.core.ParameterSource`` (an identity comparison silently said "never").
    """
    return getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"


def _full_model_rows(fm: dict, clock_ghz: float) -> list[list[str]]:
    """The ``--full-model`` table: cycles per stage (attention, linear, end to end), per token, FLOPs, bytes."""
    rows = []
    for stage, c in fm["stage_cycles"].items():
        if not c["end_to_end"]:
            continue
        for part in ("attention", "linear", "end_to_end"):
            rows.append([f"{stage}: {part.replace('_', ' ')}", f"{c[part]:,}", "cycles"])
    gen = fm.get("generation")
    if gen:
        rows.append(["per generated token, end to end", f"{gen['end_to_end_cycles_per_token'] / clock_ghz / 1e6:.4g}",
                     "ms"])
        rows.append(["linear share of generation FLOPs", f"{gen['linear_flops_fraction']:.4f}", "fraction"])
    rows += [["end-to-end latency", f"{fm['end_to_end_latency_s'] * 1e3:.4g}", "ms"],
             ["linear share of all FLOPs", f"{fm['linear_flops_fraction']:.4f}", "fraction"],
             ["linear DRAM traffic", f"{fm['linear_dram_bytes'] / 1e6:.4g}", "MB (10^6 bytes)"],
             ["linear energy", f"{fm['linear_energy_pj'] * 1e-9:.4g}", "mJ"],
             ["linear engine area (beyond the attention arrays)", f"{fm['linear_area_mm2']:.4g}", "mm^2"]]
    return rows
