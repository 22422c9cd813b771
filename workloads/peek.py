"""What a workload is, before it is traced or loaded: mode, sizes, replay or not.

Commands check designs, policies and sizes against this first, so that bad input is refused
before seconds of tracing or gigabytes of tensors (``docs/outputs.md``, order of checks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hwsim.errors import HwsimError

__all__ = ["WorkloadShape", "peek"]


@dataclass(frozen=True)
class WorkloadShape:
    """The sizes of a workload known without its tensors (``replay``: a SpAtten CSV; sizes unknown then)."""

    name: str
    replay: bool
    mode: str | None = None
    layers: int = 0
    heads: int = 0
    kv_heads: int = 0
    head_dim: int = 0
    tokens: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0


def peek(spec: str | os.PathLike, *, tokens: int | None = None, generate: int | None = None) -> WorkloadShape:
    """Return the shape of what :func:`workloads.resolve` would open, reading at most a trace's header.

    Raises the same one-line :class:`HwsimError` as ``resolve`` for an unknown name, a bad size, a
    bad manifest, or token options that do not apply.
    """
    s = os.fspath(spec)
    if s.lower().endswith(".csv"):
        if tokens is not None or generate is not None:
            raise HwsimError(f"{s}: tokens/generate do not apply to a SpAtten replay CSV")
        return WorkloadShape(name=Path(s).name, replay=True)
    if os.path.isdir(s):  # a checkpoint folder: its sizes come from tracing it (cached, so the run reuses it)
        from .checkpoint import get_checkpoint  # lazy: tracing loads torch and transformers

        t = get_checkpoint(s, tokens=tokens, generate=generate, progress=False)
        return WorkloadShape(name=t.name, replay=False, mode=t.mode, layers=t.layers, heads=t.heads,
                             kv_heads=t.kv_heads, head_dim=t.head_dim, tokens=t.tokens, prompt_tokens=t.prompt_tokens,
                             generated_tokens=t.generated_tokens)
    if s.endswith(".safetensors") or os.sep in s:
        from .trace import read_manifest  # lazy: only a trace file needs the reader

        m = read_manifest(s)
        for flag, want, have in (("tokens", tokens, m["prompt_tokens"]), ("generate", generate,
                                                                          m["generated_tokens"])):
            if want is not None and want != have:
                raise HwsimError(f"{s}: {flag}={want} requested but the trace has {have}")
        first = m["layers"][0]
        return WorkloadShape(name=m["workload"], replay=False, mode=m["mode"], layers=len(m["layers"]),
                             heads=first["heads"], kv_heads=first["kv_heads"], head_dim=first["head_dim"],
                             tokens=m["tokens"], prompt_tokens=m["prompt_tokens"],
                             generated_tokens=m["generated_tokens"])
    from .bundled import _resolve  # lazy: only a bundled name needs the registry

    model, p, g, _ = _resolve(s, tokens, generate, None)
    return WorkloadShape(name=s, replay=False, mode=model.mode, layers=model.layers, heads=model.heads,
                         kv_heads=model.kv_heads, head_dim=model.head_dim, tokens=p + g, prompt_tokens=p,
                         generated_tokens=g)
