"""hwsim: a cycle-level simulator and co-design tool for sparse-attention accelerators.

The public API, imported lazily (PEP 562) so that ``import hwsim`` stays cheap::

    from hwsim import simulate, load_design, load_policy, load_workload, SimResult, HwsimError

    trace = load_workload("minilm", tokens=128)
    result = simulate(trace, load_design("spatten", ["topk.lanes=8"]), load_policy("spatten-bert"))
    result.to_dataframe("layers")

Top-k engine: :func:`topk_select`, :class:`TopKParams`; MPC: :func:`mpc_estimate`, :func:`mpc_op_cost`.
"""

from __future__ import annotations

from importlib import import_module

from .errors import HwsimError
from .version import __version__

#: Public name -> (module, attribute).
_API = {
    "Design": ("hwsim.config", "Design"),
    "Policy": ("hwsim.config", "Policy"),
    "load_design": ("hwsim.config", "load_design"),
    "load_policy": ("hwsim.config", "load_policy"),
    "check_pair": ("hwsim.config", "check_pair"),
    "config_hash": ("hwsim.config", "config_hash"),
    "dump_toml": ("hwsim.config", "dump_toml"),
    "simulate": ("hwsim.spatten", "simulate"),
    "SimResult": ("hwsim.spatten", "SimResult"),
    "load_workload": ("hwsim.spatten", "load_workload"),
    "check_fits": ("hwsim.spatten", "check_fits"),
    "TopKParams": ("hwsim.units.topk", "TopKParams"),
    "topk_select": ("hwsim.units.topk", "select"),
    "topk_select_batch": ("hwsim.units.topk", "select_batch"),
    "mpc_estimate": ("cost_models.mpc", "estimate"),
    "mpc_op_cost": ("cost_models.mpc", "op_cost"),
}

__all__ = ["__version__", "HwsimError", *_API]


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'hwsim' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
