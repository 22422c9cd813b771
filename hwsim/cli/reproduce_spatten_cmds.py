"""``hwsim reproduce spatten``: SpAtten's published numbers beside ours."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import progress_enabled
from .reproduce_cmds import JsonOption, print_reproduction, reproduce_app


@reproduce_app.command("spatten")
def spatten_cmd(
    json_path: JsonOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the top-k pivots and of replayed scores.")] = 0,
    bert_tokens: Annotated[int, typer.Option(help="Tokens of the bert-base workload for the BERT rows.")] = 128,
) -> None:
    """SpAtten (HPCA 2021): DRAM reduction, LSB re-fetch, top-k and PQ gains, throughput, area, power.

    Replays the authors' GPT-2-Small traces (kept counts, bits and re-fetch flags from the files),
    simulates the bert-base shape under spatten-bert, and compares the top-k engine with a
    Batcher merge sorter. See docs/spatten.md for how each row is measured and why rows differ.
    """
    from ..reproduce.spatten import spatten_rows

    rows, notes = spatten_rows(seed=seed, bert_tokens=bert_tokens, progress=progress_enabled())
    print_reproduction("SpAtten (HPCA 2021)", rows, json_path=json_path, notes=notes,
                       setting={"design": "spatten", "bert_tokens": bert_tokens}, seed=seed)
