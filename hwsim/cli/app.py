"""The Typer application object and the options shared by every ``hwsim`` command."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["app", "console", "err_console", "SetOption", "rich_table"]

app = typer.Typer(
    name="hwsim",
    help="Cycle-level simulator and co-design tool for sparse-attention accelerators (SpAtten-style).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Tables stay readable when piped: without a terminal, rich would wrap at 80 columns.
_width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "120"))
console = Console(width=_width, highlight=False)
err_console = Console(stderr=True, width=_width, highlight=False)

SetOption = Annotated[
    list[str],
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override one config key, dotted, e.g. --set topk.lanes=32 (repeatable). Values are TOML.",
    ),
]


def rich_table(title: str | None, columns: list[str], rows: list[list[object]]):
    """Build a rich table with the given header and rows (cells rendered with str)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[str(x) for x in r])
    return t
