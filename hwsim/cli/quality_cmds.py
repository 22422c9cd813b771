"""``hwsim quality``: what a design and policy cost a real model in quality, beside cycles and DRAM bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import (JsonOption, PlotFormatOption, SetOption, app, check_plot_format, console, emit_json,
                  json_to_stdout, note, progress_enabled, rich_table, warn)


@app.command("quality")
def quality_cmd(
    workload: Annotated[str, typer.Option(
        "--workload", "-w", metavar="minilm|smollm2",
        help="A bundled real model (trained weights): minilm (encoder) or smollm2 (decoder).")] = "minilm",
    design: Annotated[str, typer.Option("--design", "-d", metavar="NAME|FILE", help="Design preset or TOML.")] = "spatten",
    policy: Annotated[Optional[str], typer.Option(
        "--policy", "-p", metavar="NAME|FILE",
        help="Policy preset or TOML \\[default: spatten-bert for minilm, spatten-gpt2 for smollm2].")] = None,
    set_: SetOption = [],
    text: Annotated[Optional[str], typer.Option(
        "--text", metavar="pydoc|shakespeare|FILE",
        help="Text to measure on \\[default: pydoc for minilm, shakespeare for smollm2].")] = None,
    tokens: Annotated[Optional[int], typer.Option(
        "--tokens", "-t", help="smollm2: text tokens in all \\[1024]; minilm: tokens per passage half \\[128].")] = None,
    window: Annotated[Optional[int], typer.Option(
        help="smollm2: tokens per window (non-overlapping) \\[256].")] = None,
    prompt: Annotated[Optional[int], typer.Option(
        help="smollm2: prompt tokens of each window; the rest are fed one step at a time and scored \\[128].")] = None,
    generate: Annotated[Optional[int], typer.Option(
        "--generate", "-g", help="smollm2: greedy tokens compared with the dense model's \\[32].")] = None,
    passages: Annotated[Optional[int], typer.Option(
        help="minilm: embed only the first N passages of the text \\[all: every pydoc topic].")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the top-k pivots.")] = 0,
    linear: Annotated[bool, typer.Option(
        "--linear", help="Also run the model's linear layers as the design's linear engine stores them: weights at "
        "linear.weight_bits after its mask (weight-sparse: magnitude at linear.density; nm: N:M); docs/quality.md.")]
    = False,
    json_file: JsonOption = None,
    plot: Annotated[bool, typer.Option(
        "--plot", help="Also scan the token keep ratio (1.0 to 0.3, the rest of the policy as given) and draw "
        "quality against it (quality-scan-WORKLOAD.png in --out-dir, default the current folder).")] = False,
    plot_format: PlotFormatOption = "png",
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", metavar="DIR", help="Folder for the plot.")] = None,
) -> None:
    """Run a real model with the accelerator's approximations inside its forward pass; compare with dense.

    Decoders (smollm2): perplexity, next-token agreement and greedy-token agreement on the text.
    Encoders (minilm): pooled-embedding cosine to dense and top-1 retrieval of each passage's
    other half. Cycles and DRAM bytes of the run's first window come from `hwsim simulate` on
    the Q/K/V the approximate run produced (closed loop).
    """
    from .. import load_design
    from ..config import check_pair
    from ..limits import MAX_SEED, check_count
    from ..outputs import check_destination
    from ..quality import check_request
    from ..quality.run import _spec_of
    from .policy_checks import fit_warnings, override_warnings, resolve_policy

    check_plot_format(plot_format)
    spec = _spec_of(workload)  # refuses shape-only models before anything loads
    sizes = check_request(workload, tokens=tokens, window=window, prompt=prompt, generate=generate, passages=passages)
    design_sets = [s for s in set_ if not s.startswith("policy.")]
    policy_sets = [s for s in set_ if s.startswith("policy.")]
    des = load_design(design, design_sets)
    pol = resolve_policy(des, policy, "spatten-gpt2" if spec.mode == "decoder" else "spatten-bert", policy_sets, note)
    check_pair(des, pol)
    check_count("--seed", seed, 0, MAX_SEED)
    if text is not None:
        from workloads.bundled import read_text

        read_text(text)  # a missing or unreadable file fails here, in one line
    check_destination(json_file, option="--json")
    check_destination(out_dir, option="--out-dir", folder=True)
    for line in override_warnings(pol, [s[len("policy."):] for s in policy_sets]) + \
            fit_warnings(pol, spec.layers, workload):
        warn(line)
    from ..quality import evaluate

    result = evaluate(workload, des, pol, text=text, seed=seed, progress=progress_enabled(), linear=linear, **sizes)
    doc = result.to_json()
    if plot:
        from ..quality.run import SCAN_KEEPS, scan_policy

        points = []
        for keep in SCAN_KEEPS:
            r = evaluate(workload, des, scan_policy(pol, keep, spec.layers), text=text, seed=seed,
                         simulate_first=False, progress=progress_enabled(), linear=linear, **sizes)
            points.append({"keep": keep, "dense": r.summary["dense"], "approximate": r.summary["approximate"]})
        doc["scan"] = {"what": "token keep ratio in every layer after the first (explicit schedule), the rest of the "
                               "policy as given", "points": points}
    tables = not json_to_stdout(json_file)
    if tables:
        from ..quality.report import metric_rows

        s = result.summary
        lin = s.get("linear")
        extra = (f"; linear layers: {lin['engine']}, {lin['weight_bits']}-bit, {lin['weights_kept_fraction']:.3g} of "
                 f"the weights kept" if lin else "")
        console.print(rich_table(f"Quality of {workload} on {s['text']['source']} ({des.name}, {pol.name}{extra})",
                                 ["metric", "dense", "approximate", "unit"], metric_rows(s)))
        console.print(rich_table("Per layer: what the approximate run kept", ["layer", "tokens kept", "heads kept"],
                                 [[r["layer"], f"{r['tokens_kept_fraction']:.3f}", f"{r['heads_kept_fraction']:.3f}"]
                                  for r in result.layers]))
        sim = s.get("simulated")
        if sim:
            console.print(rich_table(f"Simulated: {sim['what']}", ["quantity", "value", "unit"],
                                     [["latency", f"{sim['latency_cycles']:,}", "cycles"],
                                      ["DRAM traffic", f"{sim['dram_bytes']:,}", "bytes"],
                                      ["energy", f"{sim['energy_pj'] / 1e6:.4g}", "uJ"]]))
    written = []
    if plot:
        from ..quality.report import plot_scan

        folder = out_dir or Path(".")
        folder.mkdir(parents=True, exist_ok=True)
        written.append(plot_scan(doc["scan"]["points"], spec.mode, f"{workload}: quality against tokens kept "
                                 f"({des.name}, {pol.name} otherwise)", folder / f"quality-scan-{workload}.{plot_format}",
                                 fmt=plot_format))
    written.append(emit_json(json_file, doc))
    for p in written:
        if p is not None and tables:
            console.print(f"wrote {p}")
