"""Measure CrypTen 0.4.1's own communication counters for every MPC operation hwsim models.

This script writes ``data/crypten_0.4.1_counts.json``, the fixture the exactness tests of
``cost_models.mpc`` compare against. It needs CrypTen, which hwsim does not depend on, so it is
**not run in CI**; run it by hand after changing an operation's definition:

    python3 -m venv /tmp/crypten-venv
    /tmp/crypten-venv/bin/pip install torch==2.13.0 numpy omegaconf pyyaml onnx
    /tmp/crypten-venv/bin/pip install --no-deps crypten==0.4.1
    # crypten 0.4.1 imports torch.onnx internals that torch 2.13 moved: make that import optional
    # (crypten/nn/onnx_converter.py, the `from torch.onnx._internal.registration import registry`
    # line inside `except ImportError:`), then, from the repository root (about 2 minutes of
    # CrypTen for the small cases, plus a few minutes for the BERT-base layer):
    /tmp/crypten-venv/bin/python tests/cost_models/mpc/crypten_fixture.py

Two parties run as local processes (``crypten.mpc.run_multiprocess``), CrypTen's default
configuration (64-bit ring, 16 fractional bits, trusted-first-party triples), with
``communicator.verbose = True``; each case resets the counters, runs the operation once and
records ``get_communication_stats()`` of both parties (they must agree). Every operation is
written here with exactly the algorithm ``cost_models/mpc/crypten2pc.py`` documents (e.g.
``relu_softmax`` = relu(x) / (sum(relu(x)) + 1e-5) with CrypTen's own division).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "data" / "crypten_0.4.1_counts.json"

ELEMENTWISE = ["mul", "square", "div_public", "gt", "relu", "exp", "reciprocal", "inv_sqrt", "sigmoid", "tanh",
               "silu", "scaling", "gelu_erf", "gelu_tanh", "gelu_quad"]
ELEMENTWISE_SHAPES = [(1,), (7,), (16, 64), (3, 5, 7)]
ROWWISE = ["max", "argmax", "softmax", "relu_softmax", "quad2", "layernorm", "rmsnorm"]
ROWWISE_SHAPES = [(1, 1), (3, 1), (1, 2), (2, 3), (4, 7), (1, 8), (16, 16), (2, 20), (2, 21), (5, 64), (3, 65),
                  (2, 100), (1, 128), (2, 257), (1, 512)]
MATMUL_SHAPES = [(1, 1, 1), (16, 64, 32), (65, 256, 768), (4, 65, 64, 65), (3, 7, 5, 2)]
LINATT_SHAPES = [(65, 64), (4, 65, 64), (3, 10, 7)]
# Whole transformer blocks: (label, family, block, norm, layers, hidden, heads, kv_heads, ffn, tokens).
# Q/K/V are one fused linear for the vit and gpt2 families; llama's MLP is down(act(gate(x)) * up(x)).
MODELS = [
    ("mpcvit-cifar", "vit", "cct", "layernorm", 7, 256, 4, 4, 512, 65),
    ("tiny-bert", "bert", "post_ln", "layernorm", 2, 48, 3, 3, 96, 12),
    ("tiny-gpt2", "gpt2", "pre_ln", "layernorm", 2, 32, 2, 2, 64, 10),
    ("tiny-llama-gqa", "llama", "pre_ln", "rmsnorm", 2, 48, 4, 2, 80, 9),
]
# One BERT-base layer at 512 tokens, softmax + erf GeLU only (a few minutes of CrypTen on 2 cores).
BIG_MODELS = [("bert-base-1layer", "bert", "post_ln", "layernorm", 1, 768, 12, 12, 3072, 512)]
MODEL_VARIANTS = [("softmax", "gelu_erf"), ("relu_softmax", "gelu_erf"), ("scaling", "gelu_erf"),
                  ("quad2", "gelu_erf"), ("softmax", "gelu_quad"), ("softmax", "relu"), ("linear", "gelu_tanh")]
QUAD2_SHIFT = 5.0  # MPCFormer 2Quad: (x + c)^2 / sum((x + c)^2), c = 5 (docs/sources.md MPC §2)
EPS = 1e-5


def _ops():
    import crypten

    def enc(*shape):
        return crypten.cryptensor(torch.rand(*shape) + 0.5)

    def gelu_erf(x):
        return x * (1 + (x / math.sqrt(2)).erf()) / 2

    def gelu_tanh(x):
        inner = (x + x.pow(3) * 0.044715) * math.sqrt(2 / math.pi)
        return x * (1 + inner.tanh()) * 0.5

    def gelu_quad(x):
        return x.square() * 0.125 + x * 0.25 + 0.5

    def layernorm(x, gamma, beta, center=True):
        d = x.size(-1)
        xc = x - x.sum(-1, keepdim=True).div(d) if center else x
        var = xc.square().sum(-1, keepdim=True).div(d)
        return xc * (var + EPS).inv_sqrt() * gamma + beta

    def relu_softmax(x):
        r = x.relu()
        return r / (r.sum(-1, keepdim=True) + EPS)

    def quad2(x):
        q = (x + QUAD2_SHIFT).square()
        return q / q.sum(-1, keepdim=True)

    elementwise = {
        "mul": lambda s: (enc(*s), enc(*s), lambda a, b: a * b),
        "square": lambda s: (enc(*s), lambda a: a.square()),
        "div_public": lambda s: (enc(*s), lambda a: a / 7),
        "gt": lambda s: (enc(*s), enc(*s), lambda a, b: a > b),
        "relu": lambda s: (enc(*s), lambda a: a.relu()),
        "exp": lambda s: (enc(*s), lambda a: a.exp()),
        "reciprocal": lambda s: (enc(*s), lambda a: a.reciprocal()),
        "inv_sqrt": lambda s: (enc(*s), lambda a: a.inv_sqrt()),
        "sigmoid": lambda s: (enc(*s), lambda a: a.sigmoid()),
        "tanh": lambda s: (enc(*s), lambda a: a.tanh()),
        "silu": lambda s: (enc(*s), lambda a: a * a.sigmoid()),
        "scaling": lambda s: (enc(*s), lambda a: a / s[-1]),
        "gelu_erf": lambda s: (enc(*s), gelu_erf),
        "gelu_tanh": lambda s: (enc(*s), gelu_tanh),
        "gelu_quad": lambda s: (enc(*s), gelu_quad),
    }
    rowwise = {
        "max": lambda s: (enc(*s), lambda a: a.max(-1)),
        "argmax": lambda s: (enc(*s), lambda a: a.argmax(-1)),
        "softmax": lambda s: (enc(*s), lambda a: a.softmax(-1)),
        "relu_softmax": lambda s: (enc(*s), relu_softmax),
        "quad2": lambda s: (enc(*s), quad2),
        "layernorm": lambda s: (enc(*s), enc(s[-1]), enc(s[-1]), layernorm),
        "rmsnorm": lambda s: (enc(*s), enc(s[-1]), lambda a, g: layernorm(a, g, 0.0, center=False)),
    }
    return enc, elementwise, rowwise, dict(gelu_erf=gelu_erf, gelu_tanh=gelu_tanh, gelu_quad=gelu_quad,
                                            layernorm=layernorm, relu_softmax=relu_softmax, quad2=quad2)


def _model(fns, enc, family, block, norm, layers, hidden, heads, kv_heads, ffn, tokens, attention, activation):
    """One inference of ``layers`` transformer blocks on a secret (tokens, hidden) input, all weights secret."""
    fused = family in ("vit", "gpt2")
    hd = hidden // heads
    kvw = kv_heads * hd
    w = {}
    for name, shape in [("qkv", (hidden, hidden + 2 * kvw)), ("q", (hidden, hidden)), ("k", (hidden, kvw)),
                        ("v", (hidden, kvw)), ("proj", (hidden, hidden)), ("fc1", (hidden, ffn)), ("fc2", (ffn, hidden)),
                        ("gate", (hidden, ffn)), ("up", (hidden, ffn)), ("down", (ffn, hidden)),
                        ("g1", (hidden,)), ("b1", (hidden,)), ("g2", (hidden,)), ("b2", (hidden,))]:
        w[name] = enc(*shape)
    act = {"gelu_erf": fns["gelu_erf"], "gelu_tanh": fns["gelu_tanh"], "gelu_quad": fns["gelu_quad"],
           "relu": lambda t: t.relu(), "silu": lambda t: t * t.sigmoid()}[activation]

    def attn(x):
        if fused:
            qkv = x.matmul(w["qkv"])
            q, k, v = qkv[:, :hidden], qkv[:, hidden:hidden + kvw], qkv[:, hidden + kvw:]
        else:
            q, k, v = x.matmul(w["q"]), x.matmul(w["k"]), x.matmul(w["v"])
        q = q.reshape(tokens, heads, hd).transpose(0, 1)
        k = k.reshape(tokens, kv_heads, hd).transpose(0, 1)
        v = v.reshape(tokens, kv_heads, hd).transpose(0, 1)
        if kv_heads != heads:  # grouped-query attention: each K/V head serves heads // kv_heads query heads
            rep = heads // kv_heads
            k = k.unsqueeze(1).expand(kv_heads, rep, tokens, hd).reshape(heads, tokens, hd)
            v = v.unsqueeze(1).expand(kv_heads, rep, tokens, hd).reshape(heads, tokens, hd)
        if attention == "linear":
            out = q.matmul(k.transpose(1, 2).matmul(v)) / tokens
        else:
            a = q.matmul(k.transpose(1, 2)) * (hd ** -0.5)
            if attention == "softmax":
                a = a.softmax(-1)
            elif attention == "relu_softmax":
                a = fns["relu_softmax"](a)
            elif attention == "quad2":
                a = fns["quad2"](a)
            elif attention == "scaling":
                a = a / tokens
            out = a.matmul(v)
        return out.transpose(0, 1).reshape(tokens, hidden).matmul(w["proj"])

    def mlp(x):
        if family == "llama":
            return (act(x.matmul(w["gate"])) * x.matmul(w["up"])).matmul(w["down"])
        return act(x.matmul(w["fc1"])).matmul(w["fc2"])

    if norm == "rmsnorm":
        ln1 = lambda t: fns["layernorm"](t, w["g1"], 0.0, center=False)  # noqa: E731
        ln2 = lambda t: fns["layernorm"](t, w["g2"], 0.0, center=False)  # noqa: E731
    else:
        ln1 = lambda t: fns["layernorm"](t, w["g1"], w["b1"])  # noqa: E731
        ln2 = lambda t: fns["layernorm"](t, w["g2"], w["b2"])  # noqa: E731
    x = enc(tokens, hidden)
    import crypten.communicator as comm

    comm.get().reset_communication_stats()
    for _ in range(layers):
        if block == "cct":  # MPCViT: x = x + attn(LN(x)); x = LN(x); x = x + MLP(x)
            x = x + attn(ln1(x))
            x = ln2(x)
            x = x + mlp(x)
        elif block == "post_ln":  # BERT
            x = ln1(x + attn(x))
            x = ln2(x + mlp(x))
        else:  # pre_ln: GPT-2 / Llama
            x = x + attn(ln1(x))
            x = x + mlp(ln2(x))
    return comm.get().get_communication_stats()


def measure():
    import crypten
    import crypten.communicator as comm
    from crypten.config import cfg

    cfg.communicator.verbose = True
    torch.manual_seed(0)
    enc, elementwise, rowwise, fns = _ops()

    def run(make, shape):
        args = make(shape)
        *inputs, fn = args
        comm.get().reset_communication_stats()
        fn(*inputs)
        s = comm.get().get_communication_stats()
        return {"rounds": int(s["rounds"]), "bytes": int(s["bytes"])}

    cases = []
    for op in ELEMENTWISE:
        for shape in ELEMENTWISE_SHAPES:
            cases.append({"op": op, "shape": list(shape), **run(elementwise[op], shape)})
    for op in ROWWISE:
        for shape in ROWWISE_SHAPES:
            cases.append({"op": op, "shape": list(shape), **run(rowwise[op], shape)})
    for shape in MATMUL_SHAPES:
        *batch, m, k, n = shape
        a_shape, b_shape = (*batch, m, k), (*batch, k, n)
        cases.append({"op": "matmul", "shape": list(shape),
                      **run(lambda s: (enc(*a_shape), enc(*b_shape), lambda a, b: a.matmul(b)), shape)})
        cases.append({"op": "matmul_public", "shape": list(shape),
                      **run(lambda s: (enc(*a_shape), lambda a: a.matmul(torch.rand(*b_shape))), shape)})
    for shape in LINATT_SHAPES:
        def make(s):
            q, k, v = enc(*s), enc(*s), enc(*s)
            return q, k, v, lambda q, k, v: q.matmul(k.transpose(-2, -1).matmul(v)) / s[-2]
        cases.append({"op": "linear_attention", "shape": list(shape), **run(make, shape)})

    models = []
    import time

    for label, family, block, norm, layers, hidden, heads, kv_heads, ffn, tokens in MODELS + BIG_MODELS:
        variants = MODEL_VARIANTS + ([("softmax", "silu")] if family == "llama" else [])
        if (label, family, block, norm, layers, hidden, heads, kv_heads, ffn, tokens) in BIG_MODELS:
            variants = [("softmax", "gelu_erf")]
        for attention, activation in variants:
            t0 = time.perf_counter()
            s = _model(fns, enc, family, block, norm, layers, hidden, heads, kv_heads, ffn, tokens, attention,
                       activation)
            models.append({"model": label, "family": family, "block": block, "norm": norm, "layers": layers,
                           "hidden": hidden, "heads": heads, "kv_heads": kv_heads, "ffn": ffn, "tokens": tokens,
                           "attention": attention, "activation": activation,
                           "rounds": int(s["rounds"]), "bytes": int(s["bytes"]),
                           "crypten_wall_s": round(time.perf_counter() - t0, 1)})
    return {"cases": cases, "models": models}


def main() -> int:
    import crypten
    from crypten.mpc import run_multiprocess

    results = run_multiprocess(world_size=2)(measure)()
    (rank0, rank1) = results if isinstance(results, (list, tuple)) else (results, results)
    for m in rank0["models"] + rank1["models"]:  # wall times differ between the parties; keep the larger
        m["crypten_wall_s"] = max(a["crypten_wall_s"] for a in rank0["models"] + rank1["models"]
                                  if a["model"] == m["model"] and a["attention"] == m["attention"]
                                  and a["activation"] == m["activation"])
    if rank0 != rank1:
        print("the two parties counted differently", file=sys.stderr)
        return 1
    blob = {
        "format": "hwsim-crypten-counts",
        "crypten_version": crypten.__version__ if hasattr(crypten, "__version__") else "0.4.1",
        "torch_version": torch.__version__,
        "setting": "2 parties as local processes, default config (64-bit ring, 16 fractional bits, TFP "
                   "triples), communicator.verbose=True; rounds and bytes of one party "
                   "(get_communication_stats)",
        "generator": "tests/cost_models/mpc/crypten_fixture.py",
        **rank0,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(blob, indent=1) + "\n")
    print(f"wrote {OUT}: {len(rank0['cases'])} cases, {len(rank0['models'])} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
