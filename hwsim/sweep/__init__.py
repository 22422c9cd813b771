"""Design-space sweeps: specs, local and Dask execution, a resumable SQLite store, Pareto fronts.

The public API::

    from hwsim.sweep import load_spec, run_sweep, load_results, pareto_front
    report = run_sweep("examples/sweeps/topk.toml", "out/", jobs=2)
    df = load_results("out/")                                    # a pandas DataFrame
    front = pareto_front(df, minimize=["topk_area_mm2"], maximize=["elements_per_cycle"])

The command line: ``hwsim sweep run|pareto|plot``. See ``docs/sweep.md``.
"""

from .execute import SweepReport, run_sweep
from .pareto import pareto_front, pareto_mask
from .spec import SweepSpec, expand, load_spec
from .store import Store, load_results

__all__ = ["SweepSpec", "SweepReport", "Store", "load_spec", "expand", "run_sweep", "load_results",
           "pareto_front", "pareto_mask", "plot_sweep"]


def plot_sweep(*args, **kwargs):
    """Scatter plot of sweep results with the Pareto front marked (see :func:`hwsim.sweep.plot.plot_sweep`)."""
    from .plot import plot_sweep as _plot

    return _plot(*args, **kwargs)
