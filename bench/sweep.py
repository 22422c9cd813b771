"""How fast sweeps run: 1,000 top-k points and 100 SpAtten points, locally and on a 2-worker Dask cluster.

Targets (the sweep issue): 1,000 top-k points in at most 10 s and 100 SpAtten points on ``minilm``
in at most 2 minutes, on two cores. Reference in the same process: the same evaluations called one
after another without the sweep engine (no store, no workers), so the ratio is the engine's cost or
gain. Prints points per second for each way of running (a Dask run on a cluster started beforehand); run with ``make bench`` or
``.venv/bin/python bench/sweep.py`` (``--quick`` runs a tenth of each sweep, ``--only=topk`` or
``--only=spatten`` one of them).
"""

from __future__ import annotations

import sys
import tempfile
import time

from hwsim.sweep import load_spec, run_sweep
from hwsim.sweep.execute import plan
from hwsim.sweep.evaluate import get_evaluation

QUICK = "--quick" in sys.argv
ONLY = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)  # topk or spatten
JOBS = 2


def topk_spec(points: int):
    return load_spec({
        "evaluation": "topk", "seed": 0, "params": {"trials": 16},
        "sample": {"points": points, "seed": 0},
        "axes": [{"name": "topk.lanes", "log_range": [1, 64, 2]}, {"name": "topk.in_lanes", "values": [4, 8, 16]},
                 {"name": "n", "range": [64, 1024, 64]}, {"name": "k_fraction", "values": [0.1, 0.25, 0.5, 0.75]},
                 {"name": "topk.overlap", "values": ["none", "filter", "full"]}],
    }, label="bench topk")


def spatten_spec(points: int):
    return load_spec({
        "evaluation": "simulate", "seed": 0, "design": "spatten", "policy": "spatten-bert",
        "workloads": ["minilm"], "sample": {"points": points, "seed": 0},
        "set": ["policy.quantization.mode=progressive", "policy.local_v.enabled=true"],
        "axes": [{"name": "policy.token_pruning.keep_end", "values": [0.2, 0.35, 0.5, 0.7, 0.9]},
                 {"name": "policy.quantization.key_bits", "values": [4, 6, 8]},
                 {"name": "policy.quantization.threshold", "values": [0.05, 0.1, 0.2]},
                 {"name": "topk.lanes", "values": [4, 16]}, {"name": "policy.local_v.keep", "values": [0.1, 0.2]}],
    }, label="bench spatten")


def direct(spec, *, warm_up: bool = False) -> float:
    """Evaluate every point in this process, one after another, without the engine; return seconds.

    ``warm_up``: evaluate only the first point (compiles the numba kernels, opens the workload).
    """
    tasks, refs = plan(spec)
    tasks = tasks[:1] if warm_up else tasks
    ev = get_evaluation(spec.evaluation)
    wl = refs[0].obj if refs else None
    t = time.perf_counter()
    for task in tasks:
        ev.run(task.design, task.policy, task.params, wl, task.seed)
    return time.perf_counter() - t


def timed_sweep(spec, **how) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="hwsim-bench-sweep-") as out:
        t = time.perf_counter()
        r = run_sweep(spec, out, progress=False, **how)
        dt = time.perf_counter() - t
    assert r.failed == 0, r.errors[:3]
    return dt, r.evaluated


def report(name: str, spec, target: str) -> None:
    n = len(plan(spec)[0])
    direct(spec, warm_up=True)
    ref = direct(spec)
    print(f"{name}: {n} points; reference (the evaluations alone, serial, this process): {ref:.2f} s, "
          f"{n / ref:.2f} points/s")
    for label, how in ((f"local, {JOBS} processes", {"jobs": JOBS}), ("local, this process", {"jobs": 1})):
        dt, done = timed_sweep(spec, **how)
        print(f"  {label:40s} {dt:7.2f} s  {done / dt:8.2f} points/s  ({dt / ref:.2f}x the reference)")
    from distributed import LocalCluster

    t = time.perf_counter()
    with LocalCluster(n_workers=JOBS, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        start = time.perf_counter() - t
        dt, done = timed_sweep(spec, scheduler=cluster.scheduler_address)
    label = f"Dask LocalCluster, {JOBS} workers over TCP"
    print(f"  {label:40s} {dt:7.2f} s  {done / dt:8.2f} points/s  ({dt / ref:.2f}x the reference; "
          f"the cluster took {start:.1f} s to start, not counted)")
    print(f"  target: {target}")


def main() -> None:
    if ONLY in (None, "topk"):
        report("top-k sweep", topk_spec(100 if QUICK else 1000), "1,000 points in at most 10 s on 2 cores")
    if ONLY in (None, "spatten"):
        report("SpAtten sweep on minilm (512 tokens)", spatten_spec(10 if QUICK else 100),
               "100 points in at most 2 minutes on 2 cores")


if __name__ == "__main__":
    main()
