"""``hwsim compare``: two designs on the same workload, side by side, with ratios and the config difference."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import app, console, rich_table


@app.command("compare")
def compare_cmd(
    a: Annotated[str, typer.Argument(metavar="A", help="Design preset or TOML (the baseline).")],
    b: Annotated[str, typer.Argument(metavar="B", help="Design preset or TOML (compared with A).")],
    workload: Annotated[str, typer.Option("--workload", "-w", metavar="NAME|FILE|CSV",
                                          help="Workload both designs run (as for `hwsim simulate`).")] = "minilm",
    policy: Annotated[Optional[str], typer.Option("--policy", "-p", metavar="NAME|FILE",
                                                  help="Policy of both (default: the workload's).")] = None,
    set_a: Annotated[list[str], typer.Option("--set-a", metavar="KEY=VALUE", help="Override of A (repeatable; "
                                             "policy.KEY overrides A's policy).")] = [],
    set_b: Annotated[list[str], typer.Option("--set-b", metavar="KEY=VALUE", help="Override of B (repeatable).")] = [],
    tokens: Annotated[Optional[int], typer.Option(help="Tokens of a bundled workload.")] = None,
    generate: Annotated[Optional[int], typer.Option(help="Generated tokens of a bundled decoder workload.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the top-k pivots.")] = 0,
) -> None:
    """Simulate designs A and B on one workload; print both, B / A, and where their configs differ.

    A variant of one preset: `hwsim compare spatten spatten --set-b topk.lanes=1`.
    """
    from .. import load_design, load_policy
    from ..spatten.workload import default_policy, is_replay, load_workload, workload_name
    from ..sweep.evaluate import SimulateParams, get_evaluation
    from ..sweep.spec import flatten

    def split(sets):
        return [s for s in sets if not s.startswith("policy.")], [s[7:] for s in sets if s.startswith("policy.")]

    (da, pa), (db, pb) = split(set_a), split(set_b)
    des_a, des_b = load_design(a, da), load_design(b, db)
    wl = load_workload(workload, tokens=tokens, generate=generate)
    base_policy = None if is_replay(wl) else (policy or default_policy(wl))
    pol_a = None if base_policy is None else load_policy(base_policy, pa)
    pol_b = None if base_policy is None else load_policy(base_policy, pb)
    ev = get_evaluation("simulate")
    ra = ev.run(des_a, pol_a, SimulateParams(), wl, seed)
    rb = ev.run(des_b, pol_b, SimulateParams(), wl, seed)
    label_a = a + (f" ({', '.join(set_a)})" if set_a else "")
    label_b = b + (f" ({', '.join(set_b)})" if set_b else "")
    rows = []
    for col in ev.outputs:
        va, vb = ra[col], rb[col]
        if va is None and vb is None:
            continue
        ratio = f"{vb / va:.4g}" if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va else "-"
        rows.append([col, _fmt(va), _fmt(vb), ratio])
    console.print(rich_table(f"{workload_name(wl)}: A = {label_a}, B = {label_b}", ["quantity", "A", "B", "B / A"],
                             rows))
    fa = {**flatten("design", des_a.model_dump(mode="json")),
          **(flatten("policy", pol_a.model_dump(mode="json")) if pol_a else {})}
    fb = {**flatten("design", des_b.model_dump(mode="json")),
          **(flatten("policy", pol_b.model_dump(mode="json")) if pol_b else {})}
    diff = [[k, _fmt(fa.get(k)), _fmt(fb.get(k))] for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k) and not k.endswith(".description")]
    if diff:
        console.print(rich_table("Config difference", ["key", "A", "B"], diff))
    else:
        console.print("Config difference: none (A and B are the same design and policy)")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)
