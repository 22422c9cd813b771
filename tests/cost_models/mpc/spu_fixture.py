"""Measure SecretFlow SPU 0.9.5's communication for every MPC operation hwsim models.

This script writes ``spu_fixture.json`` (beside it), the fixture the SPU tests of ``cost_models.mpc``
compare against. It needs SPU, which hwsim does not depend on, so it is **not run in CI**; run it by
hand (Python 3.11; SPU 0.9.5 brings jax 0.4.34 and numpy 1.26), from the repository root:

    python3.11 -m venv /work/scratch-spu
    /work/scratch-spu/bin/pip install spu==0.9.5
    /work/scratch-spu/bin/python tests/cost_models/mpc/spu_fixture.py [--protocols aby3,semi2k,cheetah]
    /work/scratch-spu/bin/python tests/cost_models/mpc/spu_fixture.py --models --protocols aby3,semi2k
    /work/scratch-spu/bin/python tests/cost_models/mpc/spu_fixture.py --sessions    # Cheetah, held out

The first run measures every op and shape (about 100 s for ABY3 or SEMI2K, 10 minutes for Cheetah on
2 shared cores); the second one transformer layer each of ``MODELS`` (BERT-base at 128 tokens,
ViT-Tiny, a CIFAR ViT layer with ReLU-softmax attention; about 6 minutes per protocol). Each run
updates only what it measured in the JSON. Cheetah's layers were run one at a time
(``--models --protocols cheetah --only layer:bert-base-1layer-128``): BERT-base took 503 s and the
CIFAR layer 64 s; ViT-Tiny does not fit on the 23 GB machine (each party grew past 12 GB and the
kernel killed one), so the fixture has no Cheetah ViT-Tiny layer.

How it measures. Every party is its own process (``--party`` mode of this script), linked to the
others over brpc on 127.0.0.1, with ``enable_pphlo_profile`` and ``enable_hal_profile``. One SPU
``Runtime`` per party runs every case of a protocol in turn (so one-off setup, e.g. Cheetah's key
exchange, is paid once, by a warm-up case that is not recorded). For each case every party prints
SPU's own profile: one line per MPC kernel (``- mul_aa, executed 1 times, duration ..., send bytes
.. recv bytes .., send actions .., recv actions ..``) and ``Link details: total send bytes ...,
send actions ...``. Truncation and B2A pick a random pivot party on each call, so what one party
sends varies from run to run; the fixture records every party's numbers and their totals over
parties (what the tests compare). SPU counts send actions (messages), not rounds: rounds per kernel
are derived from SPU's source in ``cost_models/mpc/spu.py``.

The inputs are secret (``VIS_SECRET``) shares made by SPU's ``Io`` in the driver process; each party
reads its own share. Outputs are reconstructed and compared with numpy (``max_abs_error``) as a
sanity check of what SPU computed. Constants captured by a function (public weights, ``1/N``) are
public.

SPU's default configuration (``libspu/core/config.cc`` ``populateRuntimeConfig``, 0.9.5): field
FM64 (``Z_2^64``), ``fxp_fraction_bits`` 18, ``fxp_exp_mode`` EXP_TAYLOR with ``fxp_exp_iters`` 8,
``fxp_div_goldschmidt_iters`` 2, ``sigmoid_mode`` SIGMOID_REAL, ``fxp_log_mode`` LOG_MINMAX;
``enable_lower_accuracy_rsqrt`` off; SEMI2K's ``beaver_type`` TrustedFirstParty; Cheetah's
``cheetah_2pc_config`` defaults (OT kind YACL_Ferret, ``enable_mul_lsb_error`` off). GeLU: jax's
``jax.nn.gelu`` (tanh form with ``approximate=True``; erf form with ``approximate=False``, SPU's
``f_erf`` polynomial). Compiler options are ``CompilerOptions()`` defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "spu_fixture.json"
SEED = 20261201
PARTIES = {"aby3": 3, "semi2k": 2, "cheetah": 2}
PORTS = {"aby3": 61320, "semi2k": 61340, "cheetah": 61360}

ELEMENTWISE = ["add", "mul", "square", "div_public", "gt", "relu", "exp", "reciprocal", "inv_sqrt", "sigmoid",
               "tanh", "silu", "scaling", "gelu_erf", "gelu_tanh", "gelu_quad"]
ELEMENTWISE_SHAPES = [(7,), (16, 64), (10000,)]
ROWWISE = ["max", "softmax", "relu_softmax", "quad2", "layernorm", "rmsnorm"]
ROWWISE_SHAPES = [(2, 3), (4, 7), (16, 16), (3, 65), (2, 100), (1, 128)]
MATMUL_SHAPES = [(1, 1, 1), (16, 64, 32), (65, 64, 128), (4, 65, 64, 65), (3, 7, 5, 2)]
LINATT_SHAPES = [(65, 64), (4, 65, 64), (3, 10, 7)]
# Whole transformer blocks, one layer each: label -> (family, block, hidden, heads, ffn, tokens, attention,
# activation); written as cost_models/mpc/model.py decomposes them (all weights secret, batch 1).
MODELS = {
    "bert-base-1layer-128": ("bert", "post_ln", 768, 12, 3072, 128, "softmax", "gelu_erf"),
    "vit-tiny-1layer": ("vit", "cct", 192, 12, 384, 257, "softmax", "gelu_erf"),
    "vit-cifar-1layer-relu_softmax": ("vit", "cct", 256, 4, 512, 65, "relu_softmax", "gelu_erf"),
}
#: Held-out Cheetah sessions: shapes the per-op cases do not have, repeats (a repeat meets the state its
#: first run left: Ferret buffers, Beaver cache), each list one SPU session after the usual warm-up.
#: ``--sessions`` measures them into ``protocols.cheetah.sessions``; test_cheetah.py replays them.
SESSIONS = {
    "sizes-and-repeats": [("gt", (2000,)), ("gt", (2000,)), ("gt", (4000,)), ("gt", (4000,)), ("gt", (10000,)),
                          ("gt", (10000,)), ("gt", (1999,)), ("gt", (2048,)), ("gt", (2049,)), ("exp", (7,)),
                          ("exp", (300,)), ("inv_sqrt", (1,)), ("inv_sqrt", (2,)), ("inv_sqrt", (300,)),
                          ("inv_sqrt", (300,)), ("reciprocal", (300,)), ("reciprocal", (5000,))],
    "ot-pieces": [("gt", (10000,)), ("gt", (6000,)), ("gt", (6000,)), ("gt", (8000,)), ("gt", (8000,)),
                  ("gt", (10000,)), ("gt", (10000,)), ("div_public", (4225,)), ("div_public", (4225,)),
                  ("div_public", (4225,)), ("div_public", (8320,)), ("div_public", (8320,)),
                  ("div_public", (8320,)), ("div_public", (10000,)), ("div_public", (10000,)),
                  ("div_public", (20000,)), ("div_public", (20000,))],
}
QUAD2_SHIFT = 5.0  # MPCFormer 2Quad (references/mpc_and_sparse.md §2)
EPS = 1e-5


def cases() -> list[tuple[str, tuple[int, ...]]]:
    """Every (op, shape) measured, in order."""
    out = [(op, s) for op in ELEMENTWISE for s in ELEMENTWISE_SHAPES]
    out += [(op, s) for op in ROWWISE for s in ROWWISE_SHAPES]
    out += [(op, s) for op in ("matmul", "matmul_public") for s in MATMUL_SHAPES]
    out += [("linear_attention", s) for s in LINATT_SHAPES]
    return out


# ---------------------------------------------------------------------------------------------- the ops


def build(op: str, shape: tuple[int, ...], rng):
    """Return ``(fn, secret_args, reference)`` for ``op`` on ``shape`` (jax fn, numpy inputs, numpy fn)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    def rand(*s, lo=0.5, hi=1.5):
        return rng.uniform(lo, hi, size=s).astype(np.float32)

    def sym(*s):
        return rng.uniform(-2.0, 2.0, size=s).astype(np.float32)

    def layernorm(x, g, b, center=True):
        d = x.shape[-1]
        xc = x - x.sum(-1, keepdims=True) / d if center else x
        var = (xc * xc).sum(-1, keepdims=True) / d
        return xc * jax.lax.rsqrt(var + EPS) * g + b

    def layernorm_np(x, g, b, center=True):
        d = x.shape[-1]
        xc = x - x.sum(-1, keepdims=True) / d if center else x
        var = (xc * xc).sum(-1, keepdims=True) / d
        return xc / np.sqrt(var + EPS) * g + b

    def gelu_np(x):
        from math import erf

        return np.vectorize(lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2))))(x)

    def softmax_np(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    s = shape
    if op.startswith("layer:"):
        return _layer(MODELS[op[len("layer:"):]], rand, sym)
    if op == "add":
        return (lambda x, y: x + y), [sym(*s), sym(*s)], (lambda x, y: x + y)
    if op == "mul":
        return (lambda x, y: x * y), [sym(*s), sym(*s)], (lambda x, y: x * y)
    if op == "square":
        return (lambda x: x * x), [sym(*s)], (lambda x: x * x)
    if op == "div_public":
        return (lambda x: x / 3.0), [sym(*s)], (lambda x: x / 3.0)
    if op == "scaling":
        return (lambda x: x * (1.0 / 65)), [sym(*s)], (lambda x: x / 65)
    if op == "gt":
        return (lambda x, y: x > y), [sym(*s), sym(*s)], (lambda x, y: x > y)
    if op == "relu":
        return (lambda x: jnp.maximum(x, 0.0)), [sym(*s)], (lambda x: np.maximum(x, 0))
    if op == "exp":
        return jnp.exp, [sym(*s)], np.exp
    if op == "reciprocal":
        sign = np.where(rng.uniform(size=s) < 0.5, -1.0, 1.0).astype(np.float32)
        return (lambda x: 1.0 / x), [sign * rand(*s)], (lambda x: 1 / x)
    if op == "inv_sqrt":
        return jax.lax.rsqrt, [rand(*s)], (lambda x: 1 / np.sqrt(x))
    if op == "sigmoid":
        return jax.nn.sigmoid, [sym(*s)], (lambda x: 1 / (1 + np.exp(-x)))
    if op == "tanh":
        return jnp.tanh, [sym(*s)], np.tanh
    if op == "silu":
        return jax.nn.silu, [sym(*s)], (lambda x: x / (1 + np.exp(-x)))
    if op == "gelu_erf":
        return (lambda x: jax.nn.gelu(x, approximate=False)), [sym(*s)], gelu_np
    if op == "gelu_tanh":
        return ((lambda x: jax.nn.gelu(x, approximate=True)), [sym(*s)],
                lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))))
    if op == "gelu_quad":
        return (lambda x: 0.125 * x * x + 0.25 * x + 0.5), [sym(*s)], (lambda x: 0.125 * x * x + 0.25 * x + 0.5)
    if op == "max":
        return (lambda x: jnp.max(x, axis=-1)), [sym(*s)], (lambda x: x.max(-1))
    if op == "softmax":
        return (lambda x: jax.nn.softmax(x, axis=-1)), [sym(*s)], softmax_np
    if op == "relu_softmax":
        def rs(x):
            r = jnp.maximum(x, 0.0)
            return r / (r.sum(-1, keepdims=True) + EPS)

        def rs_np(x):
            r = np.maximum(x, 0)
            return r / (r.sum(-1, keepdims=True) + EPS)
        return rs, [sym(*s)], rs_np
    if op == "quad2":
        def q2(x):
            q = (x + QUAD2_SHIFT) * (x + QUAD2_SHIFT)
            return q / q.sum(-1, keepdims=True)

        def q2_np(x):
            q = (x + QUAD2_SHIFT) ** 2
            return q / q.sum(-1, keepdims=True)
        return q2, [sym(*s)], q2_np
    if op in ("layernorm", "rmsnorm"):
        c = op == "layernorm"
        return ((lambda x, g, b: layernorm(x, g, b, c)), [sym(*s), rand(s[-1]), sym(s[-1])],
                lambda x, g, b: layernorm_np(x, g, b, c))
    if op in ("matmul", "matmul_public"):
        b, m, k, n = (1, *s) if len(s) == 3 else s
        xs, ys = ((m, k), (k, n)) if len(s) == 3 else ((b, m, k), (b, k, n))
        x, y = sym(*xs) / math.sqrt(k), sym(*ys)
        if op == "matmul":
            return (lambda a, w: jnp.matmul(a, w)), [x, y], (lambda a, w: a @ w)
        return (lambda a: jnp.matmul(a, y)), [x], (lambda a: a @ y)
    if op == "linear_attention":
        b, t, d = (1, *s) if len(s) == 2 else s
        q, k_, v = (sym(b, t, d) / math.sqrt(d) for _ in range(3))

        def la(q, k, v):
            return jnp.matmul(q, jnp.matmul(jnp.swapaxes(k, -1, -2), v)) * (1.0 / t)
        return la, [q, k_, v], (lambda q, k, v: q @ (np.swapaxes(k, -1, -2) @ v) / t)
    raise KeyError(op)


def _layer(spec, rand, sym):
    """One transformer block as ``cost_models/mpc/model.py`` decomposes it (``crypten_fixture.py``'s layout)."""
    import jax
    import jax.numpy as jnp

    family, block, d, h, f, n, attention, activation = spec
    hd = d // h
    names = ["x"] + (["qkv"] if family == "vit" else ["q", "k", "v"]) + ["proj", "fc1", "fc2", "g1", "b1", "g2", "b2"]
    shapes = {"x": (n, d), "qkv": (d, 3 * d), "q": (d, d), "k": (d, d), "v": (d, d), "proj": (d, d), "fc1": (d, f),
              "fc2": (f, d), "g1": (d,), "b1": (d,), "g2": (d,), "b2": (d,)}
    args = [(rand if name.startswith("g") else sym)(*shapes[name]) / (1 if len(shapes[name]) < 2 or name == "x"
                                                                      else math.sqrt(shapes[name][0]))
            for name in names]

    def ln(x, g, b):
        xc = x - x.sum(-1, keepdims=True) / d
        var = (xc * xc).sum(-1, keepdims=True) / d
        return xc * jax.lax.rsqrt(var + EPS) * g + b

    def fn(*a):
        w = dict(zip(names, a))
        act = {"gelu_erf": lambda t: jax.nn.gelu(t, approximate=False),
               "gelu_tanh": lambda t: jax.nn.gelu(t, approximate=True)}[activation]

        def attn(x):
            if "qkv" in w:
                qkv = jnp.matmul(x, w["qkv"])
                q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]
            else:
                q, k, v = jnp.matmul(x, w["q"]), jnp.matmul(x, w["k"]), jnp.matmul(x, w["v"])
            q, k, v = (t.reshape(n, h, hd).transpose(1, 0, 2) for t in (q, k, v))
            a = jnp.matmul(q, k.transpose(0, 2, 1)) * (hd ** -0.5)
            if attention == "softmax":
                a = jax.nn.softmax(a, axis=-1)
            else:
                r = jnp.maximum(a, 0.0)
                a = r / (r.sum(-1, keepdims=True) + EPS)
            out = jnp.matmul(a, v)
            return jnp.matmul(out.transpose(1, 0, 2).reshape(n, d), w["proj"])

        def mlp(x):
            return jnp.matmul(act(jnp.matmul(x, w["fc1"])), w["fc2"])

        x = w["x"]
        if block == "cct":
            x = x + attn(ln(x, w["g1"], w["b1"]))
            x = ln(x, w["g2"], w["b2"])
            return x + mlp(x)
        x = ln(x + attn(x), w["g1"], w["b1"])
        return ln(x + mlp(x), w["g2"], w["b2"])

    return fn, args, None


# ---------------------------------------------------------------------------------------------- config


def runtime_config(protocol: str, profile: bool = True):
    """SPU's default runtime config for ``protocol`` (FM64; everything else left at SPU's default)."""
    import spu.libspu as libspu

    kind = {"aby3": libspu.ProtocolKind.ABY3, "semi2k": libspu.ProtocolKind.SEMI2K,
            "cheetah": libspu.ProtocolKind.CHEETAH}[protocol]
    cfg = libspu.RuntimeConfig(protocol=kind, field=libspu.FieldType.FM64)
    cfg.enable_pphlo_profile = profile
    cfg.enable_hal_profile = profile
    return cfg


# ---------------------------------------------------------------------------------------------- parties

BEGIN, END = "@@SPU-CASE-BEGIN", "@@SPU-CASE-END"


def party(rank: int, protocol: str, job: Path) -> None:
    """Run every case of ``job`` as party ``rank``; print markers around SPU's per-case profile."""
    import spu.api as api
    import spu.libspu as libspu

    plan = pickle.loads((job / "plan.pkl").read_bytes())
    desc = libspu.link.Desc()
    desc.recv_timeout_ms = 3600 * 1000
    for r in range(PARTIES[protocol]):
        desc.add_party(f"p{r}", f"127.0.0.1:{PORTS[protocol] + r}")
    lctx = libspu.link.create_brpc(desc, rank)
    rt = api.Runtime(lctx, runtime_config(protocol))
    results = []
    for i, item in enumerate(plan):
        exe = libspu.Executable()
        exe.ParseFromString(item["exe"])
        for name, share in zip(exe.input_names, item["shares"]):
            sh = libspu.Share()
            sh.meta, sh.share_chunks = share[rank]
            rt.set_var(name, sh)
        lctx.barrier()
        print(f"{BEGIN} {i}", flush=True)
        t0 = time.perf_counter()
        rt.run(exe)
        wall = time.perf_counter() - t0
        print(f"{END} {i} wall_s {wall:.6f}", flush=True)
        outs = []
        for name in exe.output_names:
            o = rt.get_var(name)
            outs.append((o.meta, list(o.share_chunks)))
            rt.del_var(name)
        for name in exe.input_names:
            rt.del_var(name)
        results.append(outs)
    (job / f"out{rank}.pkl").write_bytes(pickle.dumps(results))
    lctx.barrier()
    lctx.stop_link()


_KERNEL = re.compile(r"- (\S+), executed (\d+) times, duration ([\d.e+-]+)s, send bytes (\d+) recv bytes (\d+), "
                     r"send actions (\d+), recv actions (\d+)")
_LINK = re.compile(r"Link details: total send bytes (\d+), recv bytes (\d+), send actions (\d+), recv actions (\d+)")


def parse_log(text: str) -> dict[int, dict]:
    """Parse one party's log into ``{case index: {link, kernels, hal, wall_s}}``."""
    out: dict[int, dict] = {}
    cur = None
    section = None
    for line in text.splitlines():
        if line.startswith(BEGIN):
            cur = {"kernels": {}, "hal": {}, "pphlo": {}, "link": None}
            section = None
            idx = int(line.split()[1])
            continue
        if line.startswith(END):
            cur["wall_s"] = float(line.split()[3])
            out[idx] = cur
            cur = None
            continue
        if cur is None:
            continue
        if "HLO profiling" in line:
            section = "pphlo"
        elif "HAL profiling" in line:
            section = "hal"
        elif "MPC profiling" in line:
            section = "kernels"
        m = _KERNEL.search(line)
        if m and section:
            name, times, dur, sb, rb, sa, ra = m.groups()
            cur[section][name] = {"calls": int(times), "duration_s": float(dur), "send_bytes": int(sb),
                                  "send_actions": int(sa)}
        m = _LINK.search(line)
        if m:
            cur["link"] = {"send_bytes": int(m.group(1)), "send_actions": int(m.group(3))}
    return out


def measure(protocol: str, items: list[tuple[str, tuple[int, ...]]], *, warmup: bool = True) -> list[dict]:
    """Measure ``items`` under ``protocol``: one process per party over brpc; return one record per case."""
    import numpy as np
    import spu.api as api
    import spu.libspu as libspu
    import spu.utils.frontend as fe

    n = PARTIES[protocol]
    io = api.Io(n, runtime_config(protocol, profile=False))
    plan, refs = [], []
    todo = ([("mul", (64,)), ("matmul", (8, 8, 8))] if warmup else []) + list(items)
    for j, (op, shape) in enumerate(todo):
        rng = np.random.default_rng([SEED, j])
        fn, args, ref = build(op, shape, rng)
        names = [f"c{j}_in{i}" for i in range(len(args))]
        exe, _ = fe.compile(fe.Kind.JAX, fn, args, {}, names, [libspu.Visibility.VIS_SECRET] * len(args),
                            lambda outs, j=j: [f"c{j}_out{i}" for i in range(len(outs))])
        shares = [[(s.meta, list(s.share_chunks)) for s in io.make_shares(a, libspu.Visibility.VIS_SECRET)]
                  for a in args]
        plan.append({"exe": exe.SerializeToString(), "shares": shares})
        refs.append((args, ref))
    with tempfile.TemporaryDirectory(prefix=f"spu-{protocol}-") as tmp:
        job = Path(tmp)
        (job / "plan.pkl").write_bytes(pickle.dumps(plan))
        logs = [open(job / f"log{r}.txt", "w") for r in range(n)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        procs = [subprocess.Popen([sys.executable, __file__, "--party", str(r), "--protocol", protocol,
                                   "--job", str(job)], stdout=logs[r], stderr=subprocess.STDOUT, env=env)
                 for r in range(n)]
        codes = [p.wait() for p in procs]
        for f in logs:
            f.close()
        texts = [(job / f"log{r}.txt").read_text() for r in range(n)]
        if any(codes):
            for r, t in enumerate(texts):
                sys.stderr.write(f"--- party {r} (exit {codes[r]}) ---\n{t[-4000:]}\n")
            raise RuntimeError(f"{protocol}: a party failed: exit codes {codes}")
        per_party = [parse_log(t) for t in texts]
        outs = [pickle.loads((job / f"out{r}.pkl").read_bytes()) for r in range(n)]
    records = []
    first = 2 if warmup else 0
    for j in range(first, len(todo)):
        op, shape = todo[j]
        got = []
        for o in range(len(outs[0][j])):
            shs = []
            for r in range(n):
                sh = libspu.Share()
                sh.meta, sh.share_chunks = outs[r][j][o]
                shs.append(sh)
            got.append(io.reconstruct(shs))
        args, ref = refs[j]
        err = None
        if ref is not None:
            want = np.asarray(ref(*[a.astype(np.float64) for a in args]), dtype=np.float64)
            err = float(np.max(np.abs(np.asarray(got[0], dtype=np.float64) - want))) if want.size else 0.0
        parties = [per_party[r][j] for r in range(n)]
        kernels: dict[str, dict] = {}
        for p in parties:
            for name, k in p["kernels"].items():
                tot = kernels.setdefault(name, {"calls": k["calls"], "send_bytes": 0, "send_actions": []})
                tot["send_bytes"] += k["send_bytes"]
                tot["send_actions"].append(k["send_actions"])
        records.append({
            "op": op, "shape": list(shape),
            "send_bytes": sum(p["link"]["send_bytes"] for p in parties),
            "send_bytes_per_party": [p["link"]["send_bytes"] for p in parties],
            "send_actions_per_party": [p["link"]["send_actions"] for p in parties],
            "kernels": kernels,
            "hal": {k: v["calls"] for k, v in parties[0]["hal"].items()},
            "duration_s": max(p["wall_s"] for p in parties),
            "max_abs_error": err,
        })
    return records


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--party", type=int)
    ap.add_argument("--protocol", default=None)
    ap.add_argument("--job", type=Path)
    ap.add_argument("--protocols", default="aby3,semi2k,cheetah")
    ap.add_argument("--only", default=None, help="comma-separated ops to measure (default: all)")
    ap.add_argument("--models", action="store_true", help="measure the whole-layer runs (MODELS) instead")
    ap.add_argument("--sessions", action="store_true", help="measure the held-out Cheetah sessions (SESSIONS) instead")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    if a.party is not None:
        party(a.party, a.protocol, a.job)
        return
    import spu

    items = [(f"layer:{m}", ()) for m in MODELS] if a.models else cases()
    if a.only:
        keep = set(a.only.split(","))
        items = [c for c in items if c[0] in keep]
    data = json.loads(a.out.read_text()) if a.out.exists() else {}
    data.update({
        "format": "hwsim-spu-counts", "spu_version": spu.__version__,
        "how": "tests/cost_models/mpc/spu_fixture.py: one process per party over brpc on 127.0.0.1, "
               "SPU's per-kernel profile and Link details per case; send_bytes is the total over parties",
        "config": {"field": "FM64", "ring_bits": 64, "fxp_fraction_bits": 18, "fxp_exp_mode": "EXP_TAYLOR",
                   "fxp_exp_iters": 8, "fxp_div_goldschmidt_iters": 2, "sigmoid_mode": "SIGMOID_REAL",
                   "enable_lower_accuracy_rsqrt": False, "gelu": "jax.nn.gelu (approximate=True: tanh form; "
                   "False: erf form, SPU f_erf)"},
    })
    data.setdefault("protocols", {})
    if a.sessions:
        entry = data["protocols"].setdefault("cheetah", {"parties": PARTIES["cheetah"]})
        for name, session in SESSIONS.items():
            entry.setdefault("sessions", {})[name] = measure("cheetah", session)
            a.out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
        return
    for proto in a.protocols.split(","):
        t0 = time.time()
        recs = measure(proto, items)
        key = "models" if a.models else "cases"
        entry = data["protocols"].setdefault(proto, {"parties": PARTIES[proto]})
        old = {(r["op"], tuple(r["shape"])): r for r in entry.get(key, [])}
        for r in recs:
            if a.models:
                r["model"] = r.pop("op")[len("layer:"):]
                r["spec"] = dict(zip(["family", "block", "hidden", "heads", "ffn", "tokens", "attention",
                                      "activation"], MODELS[r["model"]]))
                del r["shape"]
                old[(r["model"], ())] = r
            else:
                old[(r["op"], tuple(r["shape"]))] = r
        order = {c: i for i, c in enumerate(cases())}
        entry[key] = sorted(old.values(), key=lambda r: order.get((r.get("op"), tuple(r.get("shape", ()))), 10 ** 6))
        a.out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
        print(f"{proto}: {len(recs)} cases in {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
