"""The Typer application object, the global options and the option vocabulary every command shares.

Vocabulary (``tests/cli/test_vocabulary.py`` walks every command and enforces it):

* ``--workload/-w NAME|FILE|CSV`` names a workload wherever one is named (a bundled name, a trace
  file, a SpAtten CSV); ``--design/-d``, ``--policy/-p`` (``-p`` is the policy and nothing else),
  ``--set KEY=VALUE``, ``--seed``, ``--tokens/-t``, ``--generate/-g``.
* ``-o/--output FILE`` is the one file a command writes (a trace, a Verilog file);
  ``--out-dir DIR`` is the folder a command writing several files fills.
* ``--json FILE`` writes what a command shows as JSON; ``--json -`` (or a bare ``--json`` as the
  last option) prints the JSON on stdout instead of the tables. Every list command has it.
* ``--plot`` draws figures; ``--plot-format png|svg|pdf`` picks their format.
* Global: ``hwsim --version``, ``--quiet/-q`` anywhere on the line (no progress bars, spinners or
  status lines; bars and spinners are also off
  whenever stderr is not a terminal), shell completion (``hwsim --install-completion``).

Old spellings stay accepted, silently, as hidden aliases (:data:`ALIASES`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

__all__ = ["app", "console", "err_console", "SetOption", "JsonOption", "OutDirOption", "OutputOption",
           "PlotFormatOption", "rich_table", "progress_enabled", "status_enabled", "warn", "note", "use_alias", "emit_json",
           "ALIASES", "PLOT_FORMATS"]

app = typer.Typer(
    name="hwsim",
    help="Cycle-level simulator and co-design tool for sparse-attention accelerators (SpAtten-style).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Tables stay readable when piped: without a terminal, rich would wrap at 80 columns.
_width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "120"))
console = Console(width=_width, highlight=False)
err_console = Console(stderr=True, width=_width, highlight=False)

_STATE = {"quiet": False}

#: Hidden spellings kept working: command path -> {old spelling: the vocabulary's spelling}.
ALIASES: dict[str, dict[str, str]] = {
    "trace": {"--model": "--workload", "-m": "--workload"},
    "simulate": {"--out": "--out-dir", "-o": "--out-dir"},
    "sweep run": {"--out": "--out-dir", "-o": "--out-dir"},
    "rtl synth": {"--output": "--out-dir", "-o": "--out-dir"},
    "rtl test": {"--output": "--out-dir", "-o": "--out-dir"},
    "mpc": {"-p": "--protocol"},
    "mpc op": {"-p": "--protocol"},
}

PLOT_FORMATS = ("png", "svg", "pdf")  # what hwsim.outputs.write_figure writes


def print_version(value: bool) -> None:
    """Print ``hwsim VERSION (git REV)`` and exit (the eager ``--version`` option's callback)."""
    if value:
        from .. import __version__
        from ..outputs import git_revision

        rev = git_revision()
        print(f"hwsim {__version__}" + (f" (git {rev})" if rev else ""))
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=print_version,
                                          help="Print the hwsim version and git revision, then exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars, spinners or notes on stderr "
                                                              "(warnings stay).")] = False,
) -> None:
    """Cycle-level simulator and co-design tool for sparse-attention accelerators (SpAtten-style)."""
    _STATE["quiet"] = quiet


def progress_enabled() -> bool:
    """Whether progress bars and spinners show: not under ``--quiet`` and only on a terminal's stderr."""
    return not _STATE["quiet"] and sys.stderr.isatty()


def status_enabled() -> bool:
    """Whether one-line status reports (``hwsim: minilm: tracing ...``) go to stderr: not under ``--quiet``."""
    return not _STATE["quiet"]


def warn(message: str) -> None:
    """Print a one-line warning on stderr (kept under ``--quiet``)."""
    sys.stdout.flush()
    print(f"hwsim: warning: {message}", file=sys.stderr)


def note(message: str) -> None:
    """Print a one-line note on stderr (silenced by ``--quiet``)."""
    if not _STATE["quiet"]:
        sys.stdout.flush()
        print(f"hwsim: note: {message}", file=sys.stderr)


def use_alias(value: Any, old: str, new: str, current: Any = None) -> Any:
    """Return ``value`` given under a hidden old spelling ``old`` of ``new``, else ``current``."""
    if value is None:
        return current
    if current is not None:
        from ..errors import HwsimError

        raise HwsimError(f"{old} and {new} name the same thing; give {new} only")
    return value


def emit_json(path: Optional[Path], doc: Any) -> Optional[Path]:
    """Write ``doc`` as JSON to ``path`` (``-``: stdout); return the file written, if any."""
    if path is None:
        return None
    from ..outputs import to_json, write_json

    if str(path) == "-":
        sys.stdout.write(to_json(doc))
        return None
    return write_json(path, doc)


def json_to_stdout(path: Optional[Path]) -> bool:
    """Whether ``--json -`` asked for JSON on stdout (then the human tables are left out)."""
    return path is not None and str(path) == "-"


SetOption = Annotated[
    list[str],
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override one config key, dotted, e.g. --set topk.lanes=32 (repeatable). Values are TOML.",
    ),
]

JsonOption = Annotated[
    Optional[Path],
    typer.Option("--json", metavar="FILE", help="Write what is shown as JSON to FILE ('-' or a bare --json: "
                                                "stdout, no tables)."),
]

OutDirOption = Annotated[
    Optional[Path], typer.Option("--out-dir", metavar="DIR", help="Folder to write the output files into.")
]

OutputOption = Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="File to write.")]

PlotFormatOption = Annotated[
    str, typer.Option("--plot-format", metavar="png|svg|pdf", help="Format of the plots (PNG at 200 dpi).")
]


def hidden(*names: str, metavar: str | None = None):
    """A hidden option for an old spelling listed in :data:`ALIASES`."""
    return typer.Option(*names, hidden=True, metavar=metavar, help="Old spelling (hidden).")


def check_plot_format(fmt: str) -> str:
    """Return ``fmt`` when it is a known plot format, else raise a one-line error."""
    if fmt not in PLOT_FORMATS:
        from ..errors import HwsimError

        raise HwsimError(f"--plot-format {fmt!r}: expected one of {', '.join(PLOT_FORMATS)}")
    return fmt


def rich_table(title: str | None, columns: list[str], rows: list[list[object]]):
    """Build a rich table with the given header and rows (cells rendered with str).

    Headers are words with units for people (JSON and CSV keep the unit-suffixed names). Columns
    are made wide enough that headers (and cell words up to 14 characters) do not break inside a
    word, as far as the console's width allows; past that rich folds them.
    """
    from rich.table import Table

    cells = [[str(x) for x in r] for r in rows]

    def longest(texts, cap=None):
        n = max((len(w) for t in texts for w in t.split()), default=1)
        return n if cap is None else min(n, cap)

    head = [longest([str(c)]) for c in columns]
    both = [max(h, longest([r[i] for r in cells if i < len(r)], 14)) for i, h in enumerate(head)]
    room = console.width - 3 * len(columns) - 1
    widths = both if sum(both) <= room else head if sum(head) <= room else [None] * len(columns)
    t = Table(title=title, title_justify="left", header_style="bold")
    for c, w in zip(columns, widths):
        t.add_column(c, overflow="fold", min_width=w)
    for r in cells:
        t.add_row(*r)
    return t
