"""The SpAtten accelerator model: functional attention, pipeline timing, simulation results."""

from __future__ import annotations

from ..config import Design, Policy
from ..errors import HwsimError
from .fullmodel import attach_full_model, linear_shapes
from .replay import CONVENTIONS, simulate_replay
from .result import SimResult
from .simulate import check_fits
from .simulate import simulate as simulate_trace
from .workload import is_replay, load_workload

__all__ = ["simulate", "SimResult", "check_fits", "load_workload", "CONVENTIONS"]


def simulate(workload, design: Design, policy: Policy | None = None, *, seed: int = 0, progress: bool = False,
             log_events: bool = False, fidelity_rows: int = 16, conventions: str = "hardware",
             full_model: bool = False) -> SimResult:
    """Simulate a workload (a ``workloads.Trace`` or a ``ReplayWorkload``) on ``design``.

    A trace needs a ``policy``; a replay carries its own decisions and refuses one. The simulation
    runs on one core: BLAS is limited to one thread while it runs (many mid-sized products, where
    threads cost more than they give, above all on a shared machine); run design points in
    parallel processes instead (``hwsim sweep``). ``conventions`` (:data:`CONVENTIONS`): ``"authors"``
    replays a CSV the way the authors' testbench charges it (:mod:`hwsim.spatten.replay`); a trace
    runs the hardware as built only. ``full_model`` adds the linear layers on ``design.linear``
    beside the attention (:mod:`hwsim.spatten.fullmodel`; traces only).
    """
    if conventions not in CONVENTIONS:
        raise HwsimError(f"conventions must be one of {', '.join(CONVENTIONS)}, not {conventions!r}")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if is_replay(workload):
            if full_model:
                raise HwsimError(f"--full-model: {workload.path.name} is a SpAtten CSV replay, which lists attention "
                                 f"rows only; expected a traced transformer")
            if policy is not None:
                raise HwsimError(f"a SpAtten CSV replay ({workload.path.name}) carries its own pruning and "
                                 f"quantization decisions; expected no policy, got {policy.name!r}")
            return simulate_replay(workload, design, seed=seed, progress=progress, log_events=log_events,
                                   conventions=conventions)
        if conventions != "hardware":
            raise HwsimError(f"conventions {conventions!r}: the authors' testbench replays SpAtten workload CSVs; "
                             f"{getattr(workload, 'name', 'this trace')!r} is a trace, which runs under 'hardware' only")
        if policy is None:
            raise TypeError("simulate() of a trace needs a policy")
        if full_model:
            linear_shapes(workload)  # refuse a trace without linear layers before simulating
        result = simulate_trace(workload, design, policy, seed=seed, progress=progress, log_events=log_events,
                                fidelity_rows=fidelity_rows)
        if full_model:
            attach_full_model(result, workload, design, seed=seed)
        return result
