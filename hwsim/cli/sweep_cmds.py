"""``hwsim sweep``: run a design-space sweep, print its Pareto front, plot it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import HwsimError
from .app import app, console, err_console, hidden, rich_table, use_alias

sweep_app = typer.Typer(help="Design-space sweeps: run a spec, print the Pareto front, plot.", no_args_is_help=True)
app.add_typer(sweep_app, name="sweep")


def _names(text: str | None, option: str) -> list[str]:
    if text is None:
        return []
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise HwsimError(f"{option} {text}: expected comma-separated column names, e.g. area_mm2,latency_cycles")
    return names


@sweep_app.command("run")
def run_cmd(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="Sweep spec (TOML).")],
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", metavar="DIR",
                                                    help="Output folder (holds sweep.sqlite); required.")] = None,
    out_old: Annotated[Optional[Path], hidden("--out", "-o", metavar="DIR")] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", help="Local worker processes (default: the CPU count; "
                                                "1 runs in this process).")] = None,
    scheduler: Annotated[Optional[str], typer.Option(metavar="tcp://HOST:PORT",
                                                     help="Run on this Dask distributed scheduler.")] = None,
    dask_local: Annotated[Optional[int], typer.Option(metavar="N",
                                                      help="Run on a Dask LocalCluster of N worker processes.")] = None,
    extend: Annotated[bool, typer.Option("--extend", help="Add a changed spec's new points to an existing store.")] = False,
) -> None:
    """Evaluate every point of SPEC not yet stored in DIR (failed points are retried)."""
    from ..sweep import load_spec, run_sweep

    out = use_alias(out_old, "-o/--out", "--out-dir", out_dir)
    if out is None:
        raise HwsimError("--out-dir: expected the output folder of the sweep (DIR)")
    if jobs is not None and jobs < 1:
        raise HwsimError(f"--jobs {jobs}: expected a positive integer")
    if dask_local is not None and dask_local < 1:
        raise HwsimError(f"--dask-local {dask_local}: expected a positive integer")
    if scheduler and dask_local:
        raise HwsimError("--scheduler and --dask-local: expected at most one of them")
    if scheduler and not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise HwsimError(f"--scheduler {scheduler}: expected an address such as tcp://HOST:8786")
    s = load_spec(spec)
    r = run_sweep(s, out, jobs=jobs, scheduler=scheduler, dask_local=dask_local, extend=extend, where=str(spec))
    for line in r.errors[:10]:
        err_console.print(f"failed: {line}", markup=False)
    if len(r.errors) > 10:
        err_console.print(f"... and {len(r.errors) - 10} more failed points (load_results(DIR, status=None))")
    counts = ", ".join(f"{v} {k}" for k, v in r.counts.items())
    console.print(f"{r.total} points: {r.skipped} already done, {r.evaluated} evaluated now ({r.failed} failed); "
                  f"store: {counts}")
    console.print(f"wrote {r.folder / 'sweep.sqlite'}")
    if r.failed:
        raise typer.Exit(1)


def _load(folder: Path):
    from ..sweep import load_results

    df = load_results(folder)
    if not len(df):
        raise HwsimError(f"{folder}: no successful points yet")
    return df


def _spec_objectives(folder: Path) -> tuple[list[str], list[str]]:
    from ..sweep import Store

    store = Store(folder)
    try:
        obj = (store.meta("spec") or {}).get("objectives") or {}
    finally:
        store.close()
    return list(obj.get("minimize", [])), list(obj.get("maximize", []))


@sweep_app.command("pareto")
def pareto_cmd(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder of `hwsim sweep run`.")],
    minimize: Annotated[Optional[str], typer.Option(metavar="COLS", help="Columns to minimise (comma-separated; "
                                                    "default: the spec's objectives).")] = None,
    maximize: Annotated[Optional[str], typer.Option(metavar="COLS", help="Columns to maximise.")] = None,
    show: Annotated[Optional[str], typer.Option(metavar="COLS", help="Extra columns to print.")] = None,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE", help="Also write the front as CSV.")] = None,
) -> None:
    """Print the Pareto-optimal points of a sweep."""
    from ..sweep import pareto_front

    df = _load(folder)
    mins, maxs = _names(minimize, "--minimize"), _names(maximize, "--maximize")
    if not mins and not maxs:
        mins, maxs = _spec_objectives(folder)
    front = pareto_front(df, mins, maxs)
    varied = [c for c in df.columns if c.startswith(("design.", "policy.")) or c in _param_columns(folder)]
    varied = [c for c in varied if df[c].astype(str).nunique() > 1]
    extra = _names(show, "--show")
    for c in extra:
        if c not in df.columns:
            raise HwsimError(f"--show: {c!r} is not a column of the results")
    cols = ["point", *(["workload"] if df["workload"].nunique() > 1 else []), *varied, *mins, *maxs, *extra]
    cols = list(dict.fromkeys(cols))
    rows = [[_fmt(v) for v in r] for r in front[cols].itertuples(index=False)]
    goals = ", ".join([f"min {c}" for c in mins] + [f"max {c}" for c in maxs])
    header = [c.removeprefix("design.") for c in cols]  # design fields as --set names them
    console.print(rich_table(f"Pareto front ({goals}): {len(front)} of {len(df)} points", header, rows))
    if csv_out is not None:
        from ..outputs import atomic_write

        console.print(f"wrote {atomic_write(csv_out, front[cols].to_csv(index=False, lineterminator=chr(10)))}")


def _param_columns(folder: Path) -> list[str]:
    from ..sweep import Store
    from ..sweep.evaluate import get_evaluation

    store = Store(folder)
    try:
        name = store.meta("evaluation")
    finally:
        store.close()
    return list(get_evaluation(name).params_model.model_fields) if name else []


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@sweep_app.command("plot")
def plot_cmd(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder of `hwsim sweep run`.")],
    x: Annotated[str, typer.Option("--x", metavar="COL", help="Column on the x axis.")],
    y: Annotated[str, typer.Option("--y", metavar="COL", help="Column on the y axis.")],
    color: Annotated[Optional[str], typer.Option("--color", metavar="COL", help="Column that colours the points.")] = None,
    maximize: Annotated[Optional[str], typer.Option(metavar="COLS", help="Which of x, y the front maximises "
                                                    "(default: those the spec maximises; the rest are minimised).")] = None,
    out: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE",
                                                help="Output file stem, .png and .svg added (default: "
                                                "DIR/pareto_Y_vs_X).")] = None,
) -> None:
    """Write PNG and SVG plots of Y against X with the Pareto front marked."""
    import matplotlib

    matplotlib.use("Agg")
    from ..sweep.plot import plot_sweep, save_figure

    df = _load(folder)
    maxs = _names(maximize, "--maximize") if maximize is not None else _spec_objectives(folder)[1]
    fig = plot_sweep(df, x, y, color=color, maximize=maxs)
    stem = out if out is not None else folder / f"pareto_{y}_vs_{x}".replace(".", "_")
    for p in save_figure(fig, stem):
        console.print(f"wrote {p}")
