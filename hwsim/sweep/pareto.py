"""Pareto fronts of sweep results: the rows no other row beats on every objective."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import HwsimError

__all__ = ["pareto_mask", "pareto_front", "check_objectives"]


def check_objectives(columns: Sequence[str], minimize: Sequence[str], maximize: Sequence[str],
                     option: str = "--minimize/--maximize") -> None:
    """Raise a one-line HwsimError when an objective is not a column (or none is given)."""
    if not minimize and not maximize:
        raise HwsimError(f"{option}: expected at least one column to minimise or maximise")
    for c in [*minimize, *maximize]:
        if c not in columns:
            raise HwsimError(f"{option}: {c!r} is not a column of the results; expected one of: "
                             f"{', '.join(c for c in columns if c not in ('key', 'provenance', 'error'))}")


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """For rows of ``values`` (all objectives to minimise), True where no other row dominates.

    Row ``a`` dominates ``b`` when it is no worse on every objective and better on one. Rows
    with a missing (NaN) objective are never on the front. Equal rows are all on it.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[0]
    ok = ~np.isnan(v).any(axis=1)
    mask = ok.copy()
    idx = np.flatnonzero(ok)
    for i in idx:
        if not mask[i]:
            continue
        others = v[idx]
        dominated = np.all(others <= v[i], axis=1) & np.any(others < v[i], axis=1)
        if dominated.any():
            mask[i] = False
    return mask if n else np.zeros(0, bool)


def pareto_front(df, minimize: Sequence[str] = (), maximize: Sequence[str] = ()):
    """The rows of DataFrame ``df`` on the Pareto front, sorted by the first objective."""
    check_objectives(list(df.columns), minimize, maximize)
    cols = [*minimize, *maximize]
    v = np.column_stack([df[c].to_numpy(dtype=np.float64) * (1 if c in minimize else -1) for c in cols]) \
        if len(df) else np.zeros((0, len(cols)))
    front = df[pareto_mask(v)]
    return front.sort_values(cols[0], ascending=cols[0] in minimize, kind="stable")
