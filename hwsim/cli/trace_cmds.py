"""``hwsim trace`` (make a trace file), ``hwsim trace info`` (inspect one), ``hwsim workloads`` (list names)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import HwsimError
from .app import JsonOption, app, console, emit_json, hidden, json_to_stdout, rich_table, status_enabled, use_alias

trace_app = typer.Typer(
    help="Trace a bundled workload into a .safetensors trace file (format v1), or inspect one with "
         "'hwsim trace info'.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(trace_app, name="trace")

TokensOption = Annotated[
    Optional[int],
    typer.Option("--tokens", "-t", help="Prompt tokens (all tokens for an encoder). Default: the model's "
                                        "(see 'hwsim workloads')."),
]
GenerateOption = Annotated[
    Optional[int],
    typer.Option("--generate", "-g", help="Tokens generated greedily after the prompt (decoders). Default: "
                                          "the model's."),
]
TextOption = Annotated[
    Optional[str],
    typer.Option("--text", metavar="pydoc|shakespeare|FILE",
                 help="Text the real models read: pydoc (CPython docs), shakespeare (Hamlet) or a UTF-8 file. "
                      "Default: pydoc for minilm, shakespeare for smollm2."),
]


@trace_app.callback()
def trace_cmd(
    ctx: typer.Context,
    workload: Annotated[Optional[str], typer.Option(
        "--workload", "-w", metavar="NAME|FOLDER",
        help="Bundled workload (see 'hwsim workloads') or a local transformers checkpoint folder "
             "(config.json + weights).")] = None,
    model: Annotated[Optional[str], hidden("--model", "-m", metavar="NAME|FOLDER")] = None,
    tokens: TokensOption = None,
    generate: GenerateOption = None,
    text: TextOption = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE",
                                                   help="Trace file to write (.safetensors).")] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache",
                                        help="Reuse and fill the trace cache ($HWSIM_CACHE_DIR or the user "
                                             "cache dir); --no-cache traces afresh and leaves it alone.")] = True,
) -> None:
    """Trace a bundled workload: Q/K/V of every layer and head, the op graph, a manifest.

    Real models (minilm, smollm2) run on real text; decoders generate --generate tokens greedily
    after a --tokens prompt, then one causal pass over the whole sequence is traced. Shape-only
    models use random weights and inputs from a fixed seed. Progress goes to stderr.
    """
    if ctx.invoked_subcommand is not None:
        return
    model = use_alias(model, "--model", "--workload", workload)
    if model is None or output is None:
        missing = "--workload" if model is None else "-o/--output"
        raise HwsimError(f"hwsim trace: {missing} is required (e.g. hwsim trace --workload minilm -o "
                         f"minilm.safetensors; see 'hwsim trace --help')")
    from ..outputs import check_destination, is_stdout

    if output.suffix != ".safetensors" and not is_stdout(output):
        raise HwsimError(f"-o {output}: expected a file name ending in .safetensors, or - for standard output")
    check_destination(output, option="-o")
    import workloads

    t0 = time.perf_counter()
    if Path(model).is_dir() or "/" in model:  # your own checkpoint folder: workloads/checkpoint.py
        from workloads.checkpoint import get_checkpoint, trace_checkpoint

        trace = (get_checkpoint if cache else trace_checkpoint)(model, tokens=tokens, generate=generate, text=text,
                                                                progress=status_enabled())
    elif model not in workloads.WORKLOADS:
        raise HwsimError(f"--workload {model!r}: unknown; expected one of {', '.join(workloads.WORKLOADS)} or a "
                         f"checkpoint folder")
    elif cache:
        trace = workloads.get(model, tokens=tokens, generate=generate, text=text, progress=status_enabled())
    else:
        from workloads.bundled import trace_bundled

        trace = trace_bundled(model, tokens=tokens, generate=generate, text=text, progress=status_enabled())
    trace.save(output)
    seconds = time.perf_counter() - t0
    size = len(trace.to_bytes()) if is_stdout(output) else output.stat().st_size
    rows = [["file", str(output)], ["size", f"{size / 1e6:.1f} MB"],
            ["sha256", trace.digest], ["time", f"{seconds:.1f} s"]] + _summary_rows(trace)
    console.print(rich_table(f"Trace of {model}", ["field", "value"], rows))


def _summary_rows(trace) -> list[list[str]]:
    t = trace
    text = t.manifest["text"]
    tokens = f"{t.prompt_tokens}" + (f" prompt + {t.generated_tokens} generated ({text.get('continuation')})"
                                     if t.generated_tokens else "")
    n_weights = sum(n["weight"]["numel"] for n in t.op_graph if n["weight"] is not None)
    return [
        ["workload", t.name],
        ["model", f"{t.spec.name}: {t.spec.source}"],
        ["kind", "real (trained weights, real text)" if t.real else "synthetic (random weights; attention not "
                                                                     "realistic)"],
        ["mode", t.mode],
        ["layers x heads", f"{t.layers} x {t.heads} (kv heads {t.kv_heads}), head_dim {t.head_dim}"],
        ["tokens", tokens],
        ["text", text.get("source", "?") + (f" ({text['file']})" if "file" in text else "")],
        ["attention", f"{t.attention}, scale {t.scale:.6g}, mask {t.manifest['mask']}"],
        ["op graph", f"{len(t.op_graph)} ops, {n_weights / 1e6:.2f} M weight elements referenced"],
    ]


@trace_app.command("info")
def info_cmd(
    workload_arg: Annotated[Optional[str], typer.Argument(
        metavar="[FILE|NAME|CSV]", help="The workload, as a positional argument (same as --workload).")] = None,
    workload: Annotated[Optional[str], typer.Option(
        "--workload", "-w", metavar="FILE|NAME|CSV",
        help="A .safetensors trace, a bundled name, or a SpAtten workload CSV.")] = None,
    tokens: TokensOption = None,
    generate: GenerateOption = None,
    text: TextOption = None,
    top_fraction: Annotated[float, typer.Option("--top-fraction", min=0.0, max=1.0,
                                                help="Share of keys whose probability mass is reported.")] = 0.1,
    json_out: JsonOption = None,
) -> None:
    """Describe a workload: model, mode, sizes, and per layer how concentrated attention is.

    For a trace: per layer, the probability mass on the top --top-fraction of keys each query can
    see, and the entropy of the attention rows (nats; ln(keys) would be uniform), averaged over
    heads and queries. High mass and low entropy mean token pruning can drop most keys cheaply.
    For a SpAtten CSV: kept key/value fractions, LSB re-fetch fraction and top-k events per layer.
    """
    import workloads

    if workload is not None and workload_arg is not None:
        raise HwsimError(f"hwsim trace info: give the workload once (positional {workload_arg!r} or --workload "
                         f"{workload!r})")
    workload = workload or workload_arg
    if workload is None:
        raise HwsimError("hwsim trace info: --workload is required (e.g. hwsim trace info --workload minilm)")
    from ..outputs import check_destination, write_json

    check_destination(json_out, option="--json")
    shape = workloads.peek(workload, tokens=tokens, generate=generate)  # sizes first: nothing traced yet
    if not shape.replay:
        from ..limits import MAX_INFO_SCORE_BYTES, check_attention_size

        check_attention_size(f"trace info {shape.name}", shape.heads, shape.tokens, limit=MAX_INFO_SCORE_BYTES,
                             name="MAX_INFO_SCORE_BYTES")  # it holds a layer's whole score matrix
    w = workloads.resolve(workload, tokens=tokens, generate=generate, text=text)
    show = not json_to_stdout(json_out)
    if isinstance(w, workloads.ReplayWorkload):
        report = _replay_report(w, show)
    else:
        report = _trace_report(w, top_fraction, show)
    emit_json(json_out, report)


def _trace_report(t, top_fraction: float, show: bool = True) -> dict:
    if not 0 < top_fraction <= 1:
        raise HwsimError(f"--top-fraction {top_fraction}: expected a value in (0, 1]")
    if show:
        console.print(rich_table(f"Workload {t.name}", ["field", "value"], _summary_rows(t)))
    rows, layers = [], []
    pct = f"{top_fraction * 100:g}%"
    for layer in range(t.layers):
        c = t.concentration(layer, top_fraction)
        mass = c["top_mass_fraction"]
        layers.append({"layer": layer, **{k: v.tolist() for k, v in c.items()}})
        rows.append([layer, t.layer_heads(layer)[0], f"{mass.mean():.3f}", f"{mass.min():.3f} - {mass.max():.3f}",
                     f"{c['entropy_nats'].mean():.2f}", f"{c['entropy_fraction'].mean():.2f}"])
    if show:
        console.print(rich_table(
            "Attention concentration per layer (means over heads and queries)",
            ["layer", "heads", f"mass in top {pct} of keys (fraction)", "range over heads", "entropy (nats)",
             "entropy / ln(keys seen) (ratio)"], rows))
    return {"workload": t.name, "digest": t.digest, "manifest": {k: v for k, v in t.manifest.items()
                                                                 if k != "op_graph"},
            "op_count": len(t.op_graph), "top_fraction": top_fraction, "layers": layers}


def _replay_report(w, show: bool = True) -> dict:
    L = w.sentence_length
    summary = [
        ["file", str(w.path)],
        ["config", w.config or "-"],
        ["rows", f"{w.rows} (iterations {w.iterations} x layers {w.layers} x heads up to {w.heads})"],
        ["sentence length L", f"{int(L.min())} - {int(L.max())} tokens, head dim {int(w.embedding_dim.max())}"],
        ["quantisation", "none (dense, bits -1)" if w.dense else
         f"keys {sorted(set(w.key_bits.tolist()))} bits, values {sorted(set(w.value_bits.tolist()))} bits, "
         f"queries {sorted(set(w.query_bits.tolist()))} bits"],
        ["keys fetched", f"{w.kept_key_fraction():.3f} of dense"],
        ["values fetched", f"{w.kept_value_fraction():.3f} of dense"],
        ["LSB re-fetch", f"{w.requant_fraction():.3f} of rows"],
        ["top-k events", str(len(w.topk_events()))],
    ]
    per_layer = w.per_layer()
    if show:
        console.print(rich_table("SpAtten replay workload", ["field", "value"], summary))
        console.print(rich_table("Per layer", ["layer", "rows", "keys kept (fraction)", "values kept (fraction)",
                                               "LSB re-fetch (fraction of rows)", "top-k events"],
                                 [[r["layer"], r["rows"], f"{r['kept_key_fraction']:.3f}",
                                   f"{r['kept_value_fraction']:.3f}", f"{r['requant_fraction']:.3f}", r["topk_events"]]
                                  for r in per_layer]))
    return {"file": str(w.path), "digest": w.digest, "config": w.config, "rows": w.rows,
            "iterations": w.iterations, "layers": w.layers, "heads": w.heads, "dense": w.dense,
            "kept_key_fraction": w.kept_key_fraction(), "kept_value_fraction": w.kept_value_fraction(),
            "requant_fraction": w.requant_fraction(), "topk_events": w.topk_events(), "per_layer": per_layer,
            "sentence_length_tokens": [int(L.min()), int(L.max())], "head_dim": int(w.embedding_dim.max()),
            **{f"{kind}_bits": sorted(set(getattr(w, f"{kind}_bits").tolist())) for kind in ("key", "value", "query")},
            "lsb_bits": sorted(set(w.lsb_bits[w.requant != 0].tolist())),
            "requant_threshold_ratio": sorted(set(w.requant_threshold.tolist()))}


@app.command("workloads")
def workloads_cmd(json_out: JsonOption = None) -> None:
    """List the bundled workloads every command accepts by name, with their default sizes."""
    import workloads

    rows, docs = [], []
    for name, s in workloads.WORKLOADS.items():
        docs.append({"name": name, "model": s.source, "mode": s.mode, "layers": s.layers, "heads": s.heads,
                     "kv_heads": s.kv_heads, "hidden": s.hidden, "ffn": s.ffn, "tokens": s.tokens,
                     "generate_tokens": s.generate_tokens, "real": s.real,
                     "text": workloads.default_text(name) if s.real else None})
        tokens = f"{s.tokens}" + (f" + {s.generate_tokens}" if s.generate_tokens else "")
        kind = f"real, text {workloads.default_text(name)}" if s.real else "synthetic (random weights)"
        rows.append([name, s.source, s.mode, f"{s.layers} x {s.heads}" + (f" (kv {s.kv_heads})" if s.kv_heads
                                                                          != s.heads else ""),
                     s.hidden, tokens, kind])
    if not json_to_stdout(json_out):
        console.print(rich_table("Bundled workloads (hwsim trace --workload NAME; any command's --workload)",
                                 ["name", "model", "mode", "layers x heads", "hidden size", "tokens (prompt + "
                                  "generated)", "kind"], rows))
    emit_json(json_out, docs)
