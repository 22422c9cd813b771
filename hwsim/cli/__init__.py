"""The ``hwsim`` command line. Each command group lives in its own module and registers on ``app``."""

from __future__ import annotations

import sys

import typer

from ..errors import HwsimError
from . import config_cmds  # noqa: F401  (registers commands)
from .app import app

__all__ = ["app", "main"]


def _fail(message: str, code: int = 2) -> None:
    sys.stdout.flush()
    print(f"hwsim: error: {message}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; bad input ends with one ``hwsim: error: ...`` line on stderr and exit status 2."""
    command = typer.main.get_command(app)
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
