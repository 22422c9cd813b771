"""``hwsim reproduce spatten``: SpAtten's published numbers beside ours."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import progress_enabled
from .reproduce_cmds import JsonOption, print_reproduction, reproduce_app


@reproduce_app.command("spatten")
def spatten_cmd(
    json_path: JsonOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the top-k pivots and of replayed scores.")] = 0,
    bert_tokens: Annotated[Optional[list[int]], typer.Option(
        "--bert-tokens", metavar="N", help="Tokens of a bert-base workload for the BERT rows (repeat for several; "
        "default 32, 64 and 128); SpAtten1/8 runs the largest.")] = None,
    conventions: Annotated[str, typer.Option(
        "--conventions", metavar="hardware|authors|both",
        help="Timing conventions of the GPT-2 replays: the accelerator as built (hardware), what the authors' "
        "testbench charges (authors), or both, one row each.")] = "both",
) -> None:
    """SpAtten (HPCA 2021): DRAM reduction, LSB re-fetch, top-k and PQ gains, throughput, area, power.

    Replays the authors' GPT-2-Small traces (kept counts, bits and re-fetch flags from the files),
    simulates the bert-base shape under spatten-bert, and compares the top-k engine with a
    Batcher merge sorter. See docs/spatten.md for how each row is measured and why rows differ.
    """
    from workloads import peek

    from ..errors import HwsimError
    from ..limits import MAX_SEED, check_count
    from ..outputs import check_destination
    from ..reproduce.spatten import BERT_TOKENS, spatten_rows
    from ..spatten import CONVENTIONS

    check_count("--seed", seed, 0, MAX_SEED)
    tokens = sorted(set(bert_tokens or BERT_TOKENS))
    if len(tokens) > 8:
        raise HwsimError(f"--bert-tokens: {len(tokens)} values; expected at most 8")
    for n in tokens:
        check_count("--bert-tokens", n, 1, 512, why="bert-base's 512 positions")
        peek("bert-base", tokens=n)
    if conventions not in (*CONVENTIONS, "both"):
        raise HwsimError(f"--conventions: expected one of {', '.join(CONVENTIONS)}, both; got {conventions!r}")
    convs = CONVENTIONS if conventions == "both" else (conventions,)
    check_destination(json_path, option="--json")

    rows, notes = spatten_rows(seed=seed, bert_tokens=tokens, conventions=convs, progress=progress_enabled())
    print_reproduction("SpAtten (HPCA 2021)", rows, json_path=json_path, notes=notes,
                       setting={"design": "spatten", "bert_tokens": tokens, "conventions": list(convs)}, seed=seed)
