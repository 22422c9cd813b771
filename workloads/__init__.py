"""Workloads: PyTorch models traced into hwsim traces, bundled real and shape-only models, SpAtten replay.

The public API (``import workloads`` does not import torch; tracing does, when it runs)::

    import workloads
    trace = workloads.get("minilm")                 # bundled name: traced once, then read from the cache
    trace = workloads.get("minilm", tokens=128)
    trace = workloads.load("my.safetensors")        # any v1 trace file, validated, memory-mapped
    q = trace.q(0); p = trace.probs(0)              # [heads, tokens, head_dim] float16; [heads, T, T] float32
    replay = workloads.spatten_csv.load("summary-gpt2-small-wikitext2-per8.csv")
    w = workloads.resolve("summary.csv")            # a Trace or a ReplayWorkload, whichever the input is
    trace = workloads.trace_model(model, input_ids) # any eager-attention transformers model (imports torch)

See ``docs/workloads.md`` and ``docs/trace-format.md``.
"""

from __future__ import annotations

import os

from . import spatten_csv
from .bundled import CACHE_ENV, TEXT_SOURCES, WORKLOADS, cache_dir, cache_path, default_text, get
from .models import MODEL_SPECS, ModelSpec, model_spec
from .spatten_csv import ReplayWorkload
from .trace import ATTENTION_KINDS, FORMAT, OP_VOCABULARY, VERSION, Trace, load, save
from hwsim.errors import HwsimError

__all__ = [
    "Trace",
    "ReplayWorkload",
    "ModelSpec",
    "MODEL_SPECS",
    "WORKLOADS",
    "TEXT_SOURCES",
    "OP_VOCABULARY",
    "ATTENTION_KINDS",
    "FORMAT",
    "VERSION",
    "CACHE_ENV",
    "load",
    "save",
    "get",
    "resolve",
    "model_spec",
    "default_text",
    "cache_dir",
    "cache_path",
    "spatten_csv",
    "trace_model",
    "names",
]


def names() -> list[str]:
    """The bundled workload names every command accepts."""
    return list(WORKLOADS)


def resolve(spec: str | os.PathLike, *, tokens: int | None = None, generate: int | None = None,
            text: str | None = None, progress: bool = True) -> Trace | ReplayWorkload:
    """Open any workload: a ``.csv`` SpAtten replay, a ``.safetensors`` trace, or a bundled name.

    ``progress``: report tracing progress on stderr (a bundled name traced the first time).
    """
    s = os.fspath(spec)
    if s.lower().endswith(".csv"):
        if tokens is not None or generate is not None or text is not None:
            raise HwsimError(f"{s}: tokens/generate/text do not apply to a SpAtten replay CSV")
        return spatten_csv.load(s)
    return get(s, tokens=tokens, generate=generate, text=text, progress=progress)


def __getattr__(name: str):
    if name == "trace_model":  # imports torch: only on use
        from .tracer import trace_model  # lazy: tracing loads torch and transformers

        return trace_model
    raise AttributeError(f"module 'workloads' has no attribute {name!r}")
