"""Wall-clock helpers shared by the benchmarks (imported as ``_clock``: scripts run from ``bench/``)."""

from __future__ import annotations

import statistics
import time

__all__ = ["wall_times", "best_of", "best_and_median", "interleaved"]


def wall_times(fn, repeats: int) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``fn`` (s)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def best_of(fn, repeats: int = 3) -> float:
    """The shortest wall time of ``repeats`` calls of ``fn`` (s)."""
    return min(wall_times(fn, repeats))


def best_and_median(fn, repeats: int) -> tuple[float, float]:
    """(best, median) wall time of ``repeats`` calls of ``fn`` (s)."""
    times = wall_times(fn, repeats)
    return min(times), statistics.median(times)


def interleaved(fns, repeats: int = 5, *, warmup: int = 1) -> list[float]:
    """Best wall time of each of ``fns`` (s): ``warmup`` untimed rounds, then ``repeats`` rounds that
    call every function once in turn, so that both sides of a ratio see the same machine load."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best
