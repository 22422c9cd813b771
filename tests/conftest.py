"""Shared fixtures: run the installed ``hwsim`` command as a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.paths import shared_dir

REPO = Path(__file__).resolve().parent.parent
SHARED = shared_dir()  # ../shared, or beside the checkout this clone came from


def session_root(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this test session."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def hwsim_test_env(tmp_path_factory):
    """Every test (and every ``hwsim`` it runs) uses a trace cache in pytest's temporary folder.

    The cache is shared by the xdist workers of one session, never the user's cache; torch runs on
    one thread (TOOLCHAIN.md: two shared cores). Yields the session folder.
    """
    root = session_root(tmp_path_factory)
    saved = {k: os.environ.get(k) for k in ("HWSIM_CACHE_DIR", "HWSIM_TORCH_THREADS")}
    os.environ["HWSIM_CACHE_DIR"] = str(root / "hwsim-cache")
    os.environ["HWSIM_TORCH_THREADS"] = "1"
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


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
