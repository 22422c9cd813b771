"""Fixtures for the workload tests: computed-once references.

The session's trace cache and ``hwsim_test_env`` come from ``tests/conftest.py``. Under pytest-xdist
the workers share one session folder, and :func:`computed_once` makes an expensive reference (a real
model's own attention probabilities) exactly once per session, whichever worker asks first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workloads.bundled import _lock


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
