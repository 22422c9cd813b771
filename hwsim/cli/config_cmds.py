"""``hwsim designs``, ``hwsim policies``, ``hwsim show design|policy``, ``hwsim version``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..config import check_pair, design_presets, dump_toml, load_design, load_policy, policy_presets
from .app import JsonOption, print_version, SetOption, app, console, emit_json, json_to_stdout, rich_table

show_app = typer.Typer(
    help="Print a resolved design or policy as TOML (units and sources as comments); it loads back equal.",
    no_args_is_help=True,
)
app.add_typer(show_app, name="show")


def _list(title: str, presets: dict[str, str], json_out) -> None:
    emit_json(json_out, [{"name": name, "description": desc} for name, desc in presets.items()])
    if not json_to_stdout(json_out):
        console.print(rich_table(title, ["name", "description"], [[n, d] for n, d in presets.items()]))


@app.command("designs")
def designs_cmd(json_out: JsonOption = None) -> None:
    """List the design presets (hardware) with one-line descriptions."""
    _list("Design presets (hwsim show design NAME)", design_presets(), json_out)


@app.command("policies")
def policies_cmd(json_out: JsonOption = None) -> None:
    """List the policy presets (pruning / quantization algorithm) with one-line descriptions."""
    _list("Policy presets (hwsim show policy NAME)", policy_presets(), json_out)


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
        typer.Option("--design", "-d", metavar="NAME|FILE",
                     help="Also check that this design supports everything the policy uses."),
    ] = None,
) -> None:
    """Print a policy (preset or TOML file, plus --set overrides) as TOML."""
    policy = load_policy(spec, set_)
    if design is not None:
        check_pair(load_design(design), policy)
    print(dump_toml(policy), end="")


@app.command("version")
def version_cmd() -> None:
    """Print the hwsim version and the git revision of its source tree (also: hwsim --version)."""
    print_version(True)
