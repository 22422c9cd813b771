"""Open the workload a simulation runs: a bundled name, a trace file or a SpAtten CSV replay."""

from __future__ import annotations

import numpy as np

import workloads

__all__ = ["load_workload", "is_replay", "workload_name", "default_policy", "replay_columns"]


def load_workload(spec: str, *, tokens: int | None = None, generate: int | None = None):
    """Return a ``workloads.Trace`` or a ``workloads.ReplayWorkload`` for ``spec``."""
    return workloads.resolve(spec, tokens=tokens, generate=generate)


def is_replay(wl) -> bool:
    """Whether ``wl`` is a SpAtten CSV replay (decisions come from the file)."""
    return isinstance(wl, workloads.ReplayWorkload)


def workload_name(wl) -> str:
    """A short name for tables: the model of a trace, the file name of a replay."""
    return wl.path.name if is_replay(wl) else wl.name


def default_policy(wl) -> str | None:
    """The policy preset that fits a workload: spatten-bert for encoders, spatten-gpt2 for decoders."""
    if is_replay(wl):
        return None
    return "spatten-gpt2" if wl.mode == "decoder" else "spatten-bert"


def replay_columns(wl) -> dict[str, np.ndarray]:
    """The replay's per-row arrays under the names :mod:`hwsim.spatten.replay` uses."""
    return {
        "iteration": wl.iteration, "layer": wl.layer, "head": wl.head, "D": wl.embedding_dim,
        "L": wl.sentence_length, "key_fetch": wl.key_fetch_num, "value_fetch": wl.value_fetch_num,
        "key_bits": wl.key_bits, "value_bits": wl.value_bits, "query_bits": wl.query_bits,
        "requant": wl.requant.astype(np.int64), "lsb_bits": wl.lsb_bits, "topk": np.where(wl.topk, wl.topk_k, 0),
        "line": np.arange(wl.iteration.size) + 2,
    }
