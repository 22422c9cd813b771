"""Shared fixtures: run the installed ``hwsim`` command as a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def hwsim_executable() -> str:
    """The console script installed next to this interpreter (what `make` puts on the venv PATH)."""
    exe = Path(sys.executable).parent / "hwsim"
    return str(exe) if exe.exists() else shutil.which("hwsim")


def run_hwsim(*args: str, cwd: str | Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run ``hwsim ARGS`` in a subprocess; return the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.setdefault("COLUMNS", "160")
    if env:
        full_env.update(env)
    return subprocess.run(
        [hwsim_executable(), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def hwsim():
    """Fixture form of :func:`run_hwsim`."""
    return run_hwsim
