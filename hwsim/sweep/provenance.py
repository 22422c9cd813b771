"""Provenance that rebuilds a run: the resolved design and policy, the workload and the seed.

``hwsim simulate`` stores :func:`run_record` under ``provenance.run`` of its summary.json;
``hwsim simulate --from summary.json`` reads it back with :func:`read_run` and reruns the same
simulation (the same output bytes). Sweep rows carry the same facts as base plus overrides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Design, Policy
from ..config.loader import validate_config
from ..errors import HwsimError

__all__ = ["RunRecord", "run_record", "read_run"]


@dataclass(frozen=True)
class RunRecord:
    """What a simulation ran: resolved design and policy, workload spec and token counts, seed."""

    design: Design
    policy: Policy | None
    workload: str
    tokens: int | None
    generate: int | None
    seed: int
    closed_loop: bool = False
    conventions: str = "hardware"
    full_model: bool = False


def run_record(design: Design, policy: Policy | None, workload: str, *, tokens: int | None, generate: int | None,
               seed: int, digest: str | None = None, closed_loop: bool = False,
               conventions: str = "hardware", full_model: bool = False) -> dict[str, Any]:
    """The ``provenance.run`` block: everything :func:`read_run` needs to rerun the simulation."""
    block = {"design": design.model_dump(mode="json"),
             "policy": None if policy is None else policy.model_dump(mode="json"),
             "workload": {"spec": str(workload), "tokens": tokens, "generate": generate, "digest": digest},
             "seed": seed}
    if closed_loop:
        block["closed_loop"] = True
    if conventions != "hardware":
        block["conventions"] = conventions
    if full_model:
        block["full_model"] = True
    return block


def read_run(path: str | Path) -> RunRecord:
    """Read the ``provenance.run`` block of a summary.json; one HwsimError line on bad input."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HwsimError(f"--from {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HwsimError(f"--from {path}: not a JSON summary ({e.__class__.__name__})") from None
    run = doc.get("provenance", {}).get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict):
        raise HwsimError(f"--from {path}: no provenance.run block; expected a summary.json written by hwsim simulate")
    where = f"--from {path}: provenance.run"
    try:
        wl = run["workload"]
        design = validate_config(Design, run["design"], f"{where}.design", {})
        policy = None if run["policy"] is None else validate_config(Policy, run["policy"], f"{where}.policy", {})
        seed, spec, tokens, generate = run["seed"], wl["spec"], wl["tokens"], wl["generate"]
    except (KeyError, TypeError) as e:
        raise HwsimError(f"{where}: missing or malformed key {e}") from None
    if not (isinstance(seed, int) and isinstance(spec, str)):
        raise HwsimError(f"{where}: expected an integer seed and a workload spec string")
    closed = run.get("closed_loop", False)
    if not isinstance(closed, bool):
        raise HwsimError(f"{where}.closed_loop: expected true or false, got {closed!r}")
    conventions = run.get("conventions", "hardware")
    if conventions not in ("hardware", "authors"):
        raise HwsimError(f"{where}.conventions: expected 'hardware' or 'authors', got {conventions!r}")
    full = run.get("full_model", False)
    if not isinstance(full, bool):
        raise HwsimError(f"{where}.full_model: expected true or false, got {full!r}")
    return RunRecord(design, policy, spec, tokens, generate, seed, closed, conventions, full)
