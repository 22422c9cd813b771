"""Fixtures for the workload tests: a trace cache shared by the test session, computed-once references.

Every test here runs with ``HWSIM_CACHE_DIR`` pointing into pytest's temporary folder (never the
user's cache) and ``HWSIM_TORCH_THREADS=1`` (TOOLCHAIN.md: two shared cores). Under pytest-xdist the
workers share one cache folder, and :func:`computed_once` makes an expensive reference (a real model's
own attention probabilities) exactly once per session, whichever worker asks first.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from workloads.bundled import _lock


def session_root(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this test session."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def hwsim_test_env(tmp_path_factory):
    """Point the trace cache into the session's temp folder and use one torch thread."""
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


def _computed_once(root: Path, name: str, make) -> dict[str, np.ndarray]:
    out = root / f"{name}.npz"
    with _lock(out):  # the trace cache's own cross-process lock
        if not out.exists():
            arrays = make()
            tmp = root / f"{name}.tmp.npz"
            np.savez(tmp, **arrays)
            tmp.replace(out)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def computed_once(hwsim_test_env):
    """``computed_once(name, make)``: ``make()`` (a dict of arrays) computed by the first worker, read by the rest."""
    return lambda name, make: _computed_once(hwsim_test_env, name, make)
