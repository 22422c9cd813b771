"""``hwsim reproduce <paper>``: published numbers beside ours, with the ratio.

The group and its table/JSON helper are shared by every paper's reproduction. To add one, write a
module ``hwsim/cli/<something>_cmds.py`` (imported automatically) that does::

    from hwsim.cli.reproduce_cmds import JsonOption, print_reproduction, reproduce_app

    @reproduce_app.command("spatten")
    def spatten_cmd(json_path: JsonOption = None) -> None:
        \"\"\"SpAtten's headline numbers beside ours.\"\"\"
        rows = [{"quantity": "DRAM reduction", "paper": 10.0, "ours": 9.7, "unit": "x"}]
        print_reproduction("SpAtten (HPCA 2021)", rows, json_path=json_path, setting={"design": "spatten"})

Rows are dicts with ``quantity``, ``paper``, ``ours`` and ``unit`` (``ratio`` = ours / paper is added
when absent; an optional ``source`` says where the paper number comes from, ``kind`` whether ours is a
fit, an identity or a prediction, ``conventions`` under which timing conventions it ran; ``paper``
may be None where the paper gives no number). The JSON file holds
``{"title", "setting", "rows": [{quantity, paper, ours, ratio, unit, ...}], "provenance"}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Mapping, Sequence

import typer

from .app import JsonOption, app, console, emit_json, json_to_stdout, rich_table

__all__ = ["reproduce_app", "print_reproduction", "reproduction_document", "JsonOption", "format_number"]

reproduce_app = typer.Typer(
    help="Reproduce a paper's published numbers: ours beside the paper's, with the ratio ours/paper.",
    no_args_is_help=True,
)
app.add_typer(reproduce_app, name="reproduce")


def format_number(x: Any) -> str:
    """Render a table cell: ints as they are, floats with 5 significant digits."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}" if abs(x) >= 10000 else str(int(x))
    if isinstance(x, float):
        return f"{x:.5g}"
    return str(x)


def reproduction_document(title: str, rows: Sequence[Mapping[str, Any]], *,
                          setting: Mapping[str, Any] | None = None,
                          inputs: Mapping[str, str] | None = None,
                          configs: Mapping[str, Any] | None = None, seed: int | None = None) -> dict:
    """Return the JSON document of a reproduction: title, setting, rows (ratio filled in), provenance."""
    from ..outputs import provenance

    out_rows = []
    for row in rows:
        r = dict(row)
        missing = [k for k in ("quantity", "paper", "ours", "unit") if k not in r]
        if missing:
            raise ValueError(f"reproduction row {r!r} lacks {', '.join(missing)}")
        if "ratio" not in r:
            r["ratio"] = r["ours"] / r["paper"] if r["paper"] else None
        out_rows.append(r)
    return {"title": title, "setting": dict(setting or {}), "rows": out_rows,
            "provenance": provenance(configs=configs, seed=seed, inputs=inputs)}


def print_reproduction(title: str, rows: Sequence[Mapping[str, Any]], *, json_path: str | Path | None = None,
                       setting: Mapping[str, Any] | None = None, inputs: Mapping[str, str] | None = None,
                       configs: Mapping[str, Any] | None = None, seed: int | None = None,
                       notes: Sequence[str] = ()) -> dict:
    """Print a reproduction table (quantity, paper, ours, ratio, unit[, source]) and write ``json_path``.

    ``setting`` (e.g. the network or design used) goes into the JSON; ``notes`` are printed under the
    table. Returns the JSON document (see :func:`reproduction_document`).
    """
    doc = reproduction_document(title, rows, setting=setting, inputs=inputs, configs=configs, seed=seed)
    extra = [c for c in ("kind", "conventions", "source") if any(c in r for r in doc["rows"])]
    columns = ["quantity", "paper", "ours", "ratio", "unit"] + extra
    table_rows = [
        [r["quantity"], "-" if r["paper"] is None else format_number(r["paper"]), format_number(r["ours"]),
         "-" if r["ratio"] is None else f"{r['ratio']:.3f}", r["unit"]] + [str(r.get(c, "")) for c in extra]
        for r in doc["rows"]
    ]
    if not json_to_stdout(json_path):
        console.print(rich_table(title, columns, table_rows))
        for note in notes:
            console.print(note)
    if emit_json(json_path, doc) is not None:
        console.print(f"wrote {json_path}")
    return doc


@reproduce_app.command("mpcvit")
def mpcvit_cmd(
    json_path: JsonOption = None,
    network: Annotated[
        str, typer.Option(metavar="NAME|FILE", help="Network (default: the fitted 'mpcvit' setting).")
    ] = "mpcvit",
) -> None:
    """MPCViT's CIFAR-10 latencies (CrypTen 2PC) beside ours, on one fitted network setting.

    Rows: the four homogeneous ViTs (Softmax, ReLU-Softmax, Scaling, MPCFormer 2Quad) and MPCViT
    with mu = 0.1/0.3/0.5/0.7 of the heads on ReLU-softmax; then the CrypTen rounds and bytes of
    the homogeneous models (CrypTen's own counters) beside this model's exact accounting.
    """
    from cost_models.mpc import load_network
    from cost_models.mpc.reproduce import fit_round_ms, mpcvit_rows

    net = load_network(network)
    rows = mpcvit_rows(net)
    fitted = fit_round_ms(net)
    setting = {"model": "vit-cifar", "protocol": "crypten-2pc", "activation": "gelu_erf",
               "network": net.model_dump(), "fitted_round_ms": fitted}
    worst = max(abs(r["ours"] / r["paper"] - 1) for r in rows)
    notes = [
        f"network {net.name}: {net.rtt_ms + net.round_overhead_ms:g} ms per round, {net.bandwidth_gbit_per_s:g} Gbit/s, "
        f"{net.compute_gops_per_s:g} Gops/s; least-squares round time for these rows: {fitted:g} ms",
        f"largest deviation: {worst * 100:.1f} %",
    ]
    print_reproduction("MPCViT (ICCV 2023), CIFAR-10, CrypTen 2PC", rows, json_path=json_path, setting=setting,
                       notes=notes)
