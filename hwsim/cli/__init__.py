"""The ``hwsim`` command line.

Each command group lives in its own module ``hwsim/cli/<group>_cmds.py`` and registers itself on
``app`` when imported; this package imports every such module. Command modules keep heavy imports
(torch, numba kernels) inside the command functions so that ``hwsim --help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from ..errors import HwsimError
from .app import app

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.endswith("_cmds")):
    importlib.import_module(f"{__name__}.{_mod}")

__all__ = ["app", "main", "bare_json"]


def _fail(message: str, code: int = 2) -> None:
    sys.stdout.flush()
    print(f"hwsim: error: {message}", file=sys.stderr)
    sys.exit(code)


def bare_json(argv: list[str]) -> list[str]:
    """Spell a bare ``--json`` (last, or before another option) as ``--json -`` (JSON on stdout)."""
    out = []
    for i, a in enumerate(argv):
        out.append(a)
        if a == "--json" and (i + 1 == len(argv) or (argv[i + 1].startswith("-") and argv[i + 1] != "-")):
            out.append("-")
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; bad input ends with one ``hwsim: error: ...`` line on stderr and exit status 2."""
    command = typer.main.get_command(app)
    argv = list(sys.argv[1:] if argv is None else argv)
    # --quiet is global: accepted anywhere on the line, as if given before the command
    quiet = [a for a in argv if a in ("--quiet", "-q")]
    argv = bare_json(quiet[:1] + [a for a in argv if a not in ("--quiet", "-q")])
    try:
        rc = command.main(args=argv, prog_name="hwsim", standalone_mode=False)
    except HwsimError as e:
        _fail(str(e), e.exit_code)
    except typer.TyperException as e:  # click's usage errors, re-based on TyperException by typer
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
            print(ctx.get_help())
            sys.exit(0)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _fail(" ".join(e.format_message().split()) + hint, getattr(e, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)
