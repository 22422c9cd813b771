"""``hwsim designs``, ``hwsim policies``, ``hwsim show design|policy``, ``hwsim version``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..config import check_pair, design_presets, dump_toml, load_design, load_policy, policy_presets
from .app import SetOption, app, console, rich_table

show_app = typer.Typer(
    help="Print a resolved design or policy as TOML (units and sources as comments); it loads back equal.",
    no_args_is_help=True,
)
app.add_typer(show_app, name="show")


@app.command("designs")
def designs_cmd() -> None:
    """List the design presets (hardware) with one-line descriptions."""
    rows = [[name, desc] for name, desc in design_presets().items()]
    console.print(rich_table("Design presets (hwsim show design NAME)", ["name", "description"], rows))


@app.command("policies")
def policies_cmd() -> None:
    """List the policy presets (pruning / quantization algorithm) with one-line descriptions."""
    rows = [[name, desc] for name, desc in policy_presets().items()]
    console.print(rich_table("Policy presets (hwsim show policy NAME)", ["name", "description"], rows))


@show_app.command("design")
def show_design(
    spec: Annotated[str, typer.Argument(metavar="NAME|FILE", help="A design preset or a TOML file.")],
    set_: SetOption = [],
) -> None:
    """Print a design (preset or TOML file, plus --set overrides) as TOML."""
    print(dump_toml(load_design(spec, set_)), end="")


@show_app.command("policy")
def show_policy(
    spec: Annotated[str, typer.Argument(metavar="NAME|FILE", help="A policy preset or a TOML file.")],
    set_: SetOption = [],
    design: Annotated[
        Optional[str],
        typer.Option(help="Also check that this design (NAME|FILE) supports everything the policy uses."),
    ] = None,
) -> None:
    """Print a policy (preset or TOML file, plus --set overrides) as TOML."""
    policy = load_policy(spec, set_)
    if design is not None:
        check_pair(load_design(design), policy)
    print(dump_toml(policy), end="")


@app.command("version")
def version_cmd() -> None:
    """Print the hwsim version and the git revision of its source tree."""
    from ..version import __version__
    from ..outputs import git_revision

    rev = git_revision()
    print(f"hwsim {__version__}" + (f" (git {rev})" if rev else ""))
