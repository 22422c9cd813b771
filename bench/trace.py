"""What tracing and loading a trace cost, as ratios to plain runs in the same process.

1. Tracing overhead: ``workloads.trace_model`` on minilm at 512 tokens (eager attention capture, op
   graph recording, float16 conversion, validation) vs the model's plain eager forward pass.
2. Loading: ``workloads.load`` (header parse, manifest and shape checks, a finiteness scan of every
   tensor, memory map) plus reading every Q/K/V once, vs ``safetensors.numpy.load_file`` of the same
   file (a plain copying reader, no checks), for minilm 512 and gpt2-small 992 + 32.

Model loading and text tokenization are outside both timings. One warm-up round, then the best of
REPEATS rounds that alternate the two sides (``_clock.interleaved``), so both see the same machine
load. Run with ``make bench`` or ``.venv/bin/python bench/trace.py``; set ``HWSIM_TORCH_THREADS`` to
pin torch threads.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from _clock import interleaved

REPEATS = 5


def tracing_overhead() -> None:
    import torch

    import workloads
    from workloads.bundled import _tokenize, load_model, read_text
    from workloads.tracer import configure_threads

    configure_threads()
    model, tok = load_model("minilm")
    text, info = read_text("pydoc")
    ids = torch.tensor([_tokenize(tok, text, 512, encoder=True, where="bench")])
    spec = workloads.MODEL_SPECS["minilm"]

    def plain():
        with torch.no_grad():
            model(ids)

    t_plain, t_trace = interleaved([plain, lambda: workloads.trace_model(model, ids, spec=spec, text=info)], REPEATS)
    print(f"minilm 512 tokens: plain forward {t_plain:.3f} s, trace_model {t_trace:.3f} s, "
          f"ratio {t_trace / t_plain:.2f}x (torch threads {torch.get_num_threads()})")


def loading(name: str, **kwargs) -> None:
    from safetensors.numpy import load_file

    import workloads
    from workloads.bundled import trace_bundled

    with tempfile.TemporaryDirectory() as d:
        path = trace_bundled(name, progress=False, **kwargs).save(Path(d) / f"{name}.safetensors")

        def ours():
            t = workloads.load(path)
            return sum(float(np.asarray(getattr(t, g)(i))[0, 0, 0]) for i in range(t.layers) for g in "qkv")

        def reference():
            return load_file(str(path))

        t_ours, t_ref = interleaved([ours, reference], REPEATS)
        mb = path.stat().st_size / 1e6
        print(f"{name} ({mb:.0f} MB): workloads.load + touch {t_ours * 1e3:.1f} ms, safetensors load_file "
              f"{t_ref * 1e3:.1f} ms, ratio {t_ours / t_ref:.2f}x")


if __name__ == "__main__":
    tracing_overhead()
    loading("minilm")
    loading("gpt2-small")
