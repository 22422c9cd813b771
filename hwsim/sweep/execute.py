"""Run a sweep: resolve its points, evaluate the new ones locally or on Dask, store every row.

Points are resolved in the calling process (design and policy through the ``--set`` override
mechanism of :mod:`hwsim.config.loader`), workloads are opened once there and handed to the
workers as a file (local processes read it from disk, Dask workers receive its bytes once), and
rows come back to the calling process, which alone writes the store. A row depends only on its
resolved point, so where it ran changes nothing in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import HwsimError
from .evaluate import get_evaluation
from .spec import SweepSpec, base_values, classify, expand, load_spec, spec_hash
from .spec import flatten
from .store import FIXED_COLUMNS, Store

__all__ = ["Task", "plan", "run_sweep", "SweepReport", "toml_value", "flatten"]

#: Seconds between commits of finished points (and at most this many points per commit).
COMMIT_S = 0.5
COMMIT_POINTS = 256


def toml_value(v: Any) -> str:
    """A value as TOML text, for a ``--set KEY=VALUE`` override."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]


@dataclass
class WorkloadRef:
    """A workload opened once: its label, file, digest, and the object itself (calling process)."""

    label: str
    spec: dict
    path: Path
    digest: str
    obj: Any = field(default=None, repr=False)


@dataclass
class Task:
    """One resolved point x workload, ready to evaluate (or already failed to resolve)."""

    key: str
    point: int
    workload: str
    evaluation: str
    design: Any
    policy: Any
    params: Any
    seed: int
    inputs: dict[str, Any]
    provenance: dict[str, Any]
    error: str | None = None


def _open_workloads(spec: SweepSpec, scratch: Path) -> list[WorkloadRef]:
    from ..spatten.workload import load_workload

    refs = []
    for w in spec.workload_specs:
        obj = load_workload(w.name, tokens=w.tokens, generate=w.generate)
        path = getattr(obj, "path", None)
        if path is None:  # an in-memory trace: write it once for the workers
            path = scratch / f"{obj.digest}.safetensors"
            if not path.exists():
                obj.save(path)
        path = Path(path)
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        refs.append(WorkloadRef(w.label, w.model_dump(mode="json", exclude_none=True), path, digest, obj))
    return refs


def plan(spec: SweepSpec, *, where: str = "sweep spec", scratch: Path | None = None) -> tuple[list[Task], list[WorkloadRef]]:
    """Resolve every point x workload of ``spec`` into a :class:`Task`, in spec order."""
    from .. import __version__
    from ..config import check_pair, load_design, load_policy
    from ..config.loader import validate_config
    from ..outputs import git_revision
    from ..spatten.workload import default_policy, is_replay

    ev = get_evaluation(spec.evaluation)
    scratch = scratch or Path(tempfile.gettempdir())
    refs = _open_workloads(spec, scratch) if ev.uses_workloads else []
    design_base_sets = [s for s in spec.set if not s.startswith("policy.")]
    policy_base_sets = [s[len("policy."):] for s in spec.set if s.startswith("policy.")]
    base_design = load_design(spec.design, design_base_sets) if ev.uses_design else None
    base_policy = None
    if ev.uses_policy:
        base_policy = load_policy(spec.policy or (default_policy(refs[0].obj) if refs else "none") or "none",
                                  policy_base_sets)
    points = expand(spec, base_values(spec, base_design, base_policy), where)
    kinds = {n: classify(n, ev) for a in spec.axes for n in a.names}
    revision = git_revision()
    base_policies: dict[str, Any] = {}
    tasks: list[Task] = []
    seen: set[str] = set()
    targets = refs or [None]
    for p in points:
        axis_dsets = [f"{n}={toml_value(v)}" for n, v in p.values.items() if kinds[n] == "design"]
        axis_psets = [f"{n[len('policy.'):]}={toml_value(v)}" for n, v in p.values.items() if kinds[n] == "policy"]
        dsets, psets = design_base_sets + axis_dsets, policy_base_sets + axis_psets
        raw_params = {**spec.params, **{n: v for n, v in p.values.items() if kinds[n] == "param"}}
        for ref in targets:
            error = None
            design = policy = params = None
            policy_base = None
            try:
                params = validate_config(ev.params_model, raw_params, f"point {p.index}: params", {})
                if ev.uses_design:
                    design = load_design(base_design, axis_dsets)  # = load_design(spec.design, dsets)
                if ev.uses_policy and not (ref is not None and is_replay(ref.obj)):
                    policy_base = spec.policy or default_policy(ref.obj) or "none"
                    if policy_base not in base_policies:
                        base_policies[policy_base] = load_policy(policy_base, policy_base_sets)
                    policy = load_policy(base_policies[policy_base], axis_psets)
                    check_pair(design, policy)
            except HwsimError as e:
                error = str(e)
            wl = {} if ref is None else {**ref.spec, "digest": ref.digest}
            prov = {"hwsim_version": __version__, "git_revision": revision, "evaluation": spec.evaluation,
                    "seed": spec.seed, "params": raw_params, "workload": wl or None,
                    "design": {"base": spec.design, "set": dsets} if ev.uses_design else None,
                    "policy": {"base": policy_base, "set": psets} if policy_base else None}
            if error is None:
                key = _hash({"evaluation": spec.evaluation, "seed": spec.seed, "workload": wl,
                             "design": design.model_dump(mode="json") if design is not None else None,
                             "policy": policy.model_dump(mode="json") if policy is not None else None,
                             "params": params.model_dump(mode="json")})
                inputs = dict(params.model_dump(mode="json"))
                if design is not None:
                    inputs.update(flatten("design", design.model_dump(mode="json")))
                if policy is not None:
                    inputs.update(flatten("policy", policy.model_dump(mode="json")))
            else:
                key = _hash({"unresolved": prov, "params": raw_params})
                inputs = {k: v for k, v in raw_params.items()}
            if key in seen:
                continue
            seen.add(key)
            tasks.append(Task(key, p.index, ref.label if ref else "", spec.evaluation, design, policy, params,
                              spec.seed, inputs, prov, error))
    return tasks, refs


def columns_of(spec: SweepSpec) -> list[str]:
    """The points table's columns for ``spec``'s evaluation: fixed, inputs, outputs, provenance."""
    from ..config import Design, Policy

    ev = get_evaluation(spec.evaluation)
    cols = list(FIXED_COLUMNS) + list(ev.params_model.model_fields)
    if ev.uses_design:
        cols += list(flatten("design", Design().model_dump(mode="json")))
    if ev.uses_policy:
        cols += list(flatten("policy", Policy().model_dump(mode="json")))
    return cols + list(ev.output_columns(spec)) + ["provenance"]


def bool_columns(spec: SweepSpec) -> list[str]:
    """The input columns that hold true/false (stored as 0/1 by SQLite)."""
    from ..config import Design, Policy

    ev = get_evaluation(spec.evaluation)
    out = [n for n, f in ev.params_model.model_fields.items() if f.annotation is bool]
    for flag, prefix, cls in ((ev.uses_design, "design", Design), (ev.uses_policy, "policy", Policy)):
        if flag:
            out += [k for k, v in flatten(prefix, cls().model_dump(mode="json")).items() if isinstance(v, bool)]
    return out


# --------------------------------------------------------------------------------------------- workers

_OPEN: dict[str, Any] = {}


def _materialise(digest: str, source) -> Any:
    """Open a shared workload in a worker (once per process): from its path, or from its bytes."""
    if digest in _OPEN:
        return _OPEN[digest]
    from workloads import resolve

    kind, suffix, payload = source
    if kind == "path":
        path = Path(payload)
    else:
        folder = Path(tempfile.gettempdir()) / "hwsim-sweep-workloads"
        path = folder / f"{digest}{suffix}"
        if not path.exists():
            from ..outputs import atomic_write

            atomic_write(path, payload)
    _OPEN[digest] = resolve(str(path))
    return _OPEN[digest]


def evaluate_chunk(tasks: list[Task], sources: dict[str, tuple]) -> list[dict[str, Any]]:
    """Evaluate tasks (in a worker); return one ``{key, status, error, outputs...}`` dict per task."""
    from ..outputs import _plain  # numpy scalars -> Python values, NaN -> None (as JSON outputs do)

    out = []
    for t in tasks:
        ev = get_evaluation(t.evaluation)
        digest = t.provenance["workload"]["digest"] if t.provenance.get("workload") else None
        try:
            wl = _materialise(digest, sources[digest]) if digest else None
            values = ev.run(t.design, t.policy, t.params, wl, t.seed)
            row = {"key": t.key, "status": "ok", "error": None, **{k: _plain(v) for k, v in values.items()}}
        except HwsimError as e:
            row = {"key": t.key, "status": "failed", "error": str(e)}
        except Exception as e:  # a point that raises is recorded and the sweep goes on
            text = " ".join(f"{type(e).__name__}: {e}".split())
            row = {"key": t.key, "status": "failed", "error": text if len(text) <= 300 else text[:297] + "..."}
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------- running


@dataclass
class SweepReport:
    """What a run did: points in the spec, skipped as done, evaluated now, failed, and the store's counts."""

    total: int
    skipped: int
    evaluated: int
    failed: int
    counts: dict[str, int]
    folder: Path
    errors: list[str] = field(default_factory=list)


def _check_store(store: Store, spec: SweepSpec, where: str, extend: bool) -> None:
    old_hash = store.meta("spec_hash")
    if old_hash is None:
        return
    if store.meta("evaluation") != spec.evaluation:
        raise HwsimError(f"{store.folder}: holds a {store.meta('evaluation')} sweep; {where} is a {spec.evaluation} "
                         "sweep (expected the same evaluation; use another -o folder)")
    if old_hash != spec_hash(spec) and not extend:
        raise HwsimError(f"{store.folder}: holds the results of a different spec (hash {old_hash}); {where} has hash "
                         f"{spec_hash(spec)}: pass --extend to add its points to this store, or use another -o folder")


def _chunks(tasks: list[Task], jobs: int) -> list[list[Task]]:
    size = max(1, min(64, len(tasks) // max(1, jobs * 8)))
    if tasks and tasks[0].evaluation == "simulate":
        size = 1
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def _progress(total: int, desc: str, enabled: bool | None):
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    return tqdm(total=total, desc=desc, unit="pt", smoothing=0.1, dynamic_ncols=True,
                disable=(not sys.stderr.isatty()) if enabled is None else not enabled)


def run_sweep(spec: SweepSpec | str | Path, out: str | Path, *, jobs: int | None = None,
              scheduler: str | None = None, dask_local: int | None = None, extend: bool = False,
              progress: bool | None = None, where: str | None = None,
              on_batch: Callable[[int], None] | None = None) -> SweepReport:
    """Run the points of ``spec`` not yet in the store at ``out``; return a :class:`SweepReport`.

    ``jobs``: local worker processes (default: the CPU count; 1 evaluates in this process).
    ``scheduler`` (``tcp://HOST:PORT``) or ``dask_local`` (workers of a ``LocalCluster``) run on
    Dask instead. ``extend`` admits a changed spec under an existing store (its new points are
    added). ``progress``: a tqdm bar on stderr (default: when stderr is a terminal).
    """
    if not isinstance(spec, SweepSpec):
        where = where or str(spec)
        spec = load_spec(spec)
    where = where or "sweep spec"
    from .store import STORE_NAME

    if (Path(out) / STORE_NAME).exists():  # refuse a changed spec before any work
        old = Store(out)
        try:
            _check_store(old, spec, where, extend)
        finally:
            old.close()
    tasks, refs = plan(spec, where=where)  # bad input fails here, before the store exists
    store = Store(out, create=True)
    try:
        if not store.columns:
            store.create_points(columns_of(spec))
        history = store.meta("specs") or []
        h = spec_hash(spec)
        if h not in [s["hash"] for s in history]:
            history.append({"hash": h, "spec": spec.model_dump(mode="json")})
        store.set_meta(spec=spec.model_dump(mode="json"), spec_hash=h, evaluation=spec.evaluation, specs=history,
                       bool_columns=bool_columns(spec))
        done = store.done_keys()
        todo = [t for t in tasks if t.key not in done]
        by_key = {t.key: t for t in todo}
        report = SweepReport(len(tasks), len(tasks) - len(todo), 0, 0, {}, store.folder)
        unresolved = [t for t in todo if t.error is not None]
        runnable = [t for t in todo if t.error is None]
        pending: list[dict] = []
        last = time.monotonic()

        def finish(rows: list[dict], bar) -> None:
            nonlocal last
            for r in rows:
                t = by_key[r["key"]]
                full = {"point": t.point, "workload": t.workload, **t.inputs, **r,
                        "provenance": json.dumps(t.provenance, sort_keys=True, separators=(",", ":"))}
                pending.append(full)
                report.evaluated += 1
                if r["status"] != "ok":
                    report.failed += 1
                    report.errors.append(f"point {t.point}{' ' + t.workload if t.workload else ''}: {r['error']}")
            bar.update(len(rows))
            now = time.monotonic()
            if len(pending) >= COMMIT_POINTS or now - last >= COMMIT_S:
                flush()
                last = now

        def flush() -> None:
            if pending:
                n = store.write(pending)
                pending.clear()
                if on_batch is not None:
                    on_batch(n)

        with _progress(len(todo), f"sweep {spec.evaluation}", progress) as bar:
            finish([{"key": t.key, "status": "failed", "error": t.error} for t in unresolved], bar)
            try:
                if runnable and (scheduler or dask_local):
                    _run_dask(runnable, refs, scheduler, dask_local, lambda rows: finish(rows, bar))
                elif runnable:
                    _run_local(runnable, refs, jobs, lambda rows: finish(rows, bar))
            finally:
                flush()  # finished points are kept, also when interrupted
        report.counts = store.counts()
        return report
    finally:
        store.close()


def _run_local(tasks: list[Task], refs: list[WorkloadRef], jobs: int | None, done: Callable) -> None:
    sources = {r.digest: ("path", r.path.suffix, str(r.path)) for r in refs}
    jobs = jobs or os.cpu_count() or 1
    for r in refs:  # this process has them open; forked workers inherit them (memory-mapped)
        _OPEN.setdefault(r.digest, r.obj)
    if jobs == 1:
        for chunk in _chunks(tasks, 1):
            done(evaluate_chunk(chunk, sources))
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    chunks = _chunks(tasks, jobs)
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=mp.get_context("fork")) as pool:
        waiting = {pool.submit(evaluate_chunk, c, sources) for c in chunks}
        while waiting:
            finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for f in finished:
                done(f.result())


def _run_dask(tasks: list[Task], refs: list[WorkloadRef], scheduler: str | None, n_local: int | None,
              done: Callable) -> None:
    import logging

    from distributed import Client, LocalCluster, as_completed

    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as e:
                raise HwsimError(f"--scheduler {scheduler}: cannot connect ({e.__class__.__name__}: {e})") from None
        else:
            cluster = LocalCluster(n_workers=n_local, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        with client:
            sources = {}
            for r in refs:  # each workload's bytes travel to the workers once
                blob = client.scatter(r.path.read_bytes(), broadcast=True)
                sources[r.digest] = ("bytes", r.path.suffix, blob)
            n_workers = max(1, len(client.scheduler_info().get("workers", {})))
            futures = [client.submit(evaluate_chunk, c, {d: sources[d] for d in _digests(c)}, pure=False)
                       for c in _chunks(tasks, n_workers)]
            for fut in as_completed(futures):
                done(fut.result())
    finally:
        if cluster is not None:
            cluster.close()


def _digests(chunk: list[Task]) -> set[str]:
    return {t.provenance["workload"]["digest"] for t in chunk if t.provenance.get("workload")}
