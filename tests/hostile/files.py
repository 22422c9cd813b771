"""Small valid inputs to break: a trace file, a SpAtten CSV row set, config and network TOML.

Every builder writes a file that loads; the hostile tests and the fuzzers change one thing in it.
"""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path

import numpy as np

#: Shape of the tiny trace: a 2-layer, 2-head encoder, head_dim 8, 16 tokens (fits every design).
LAYERS, HEADS, HEAD_DIM, TOKENS = 2, 2, 8, 16


def manifest() -> dict:
    """A valid manifest of the tiny trace (an encoder with one linear op in its op graph)."""
    spec = {"name": "tiny", "family": "bert", "mode": "encoder", "layers": LAYERS, "hidden": HEADS * HEAD_DIM,
            "heads": HEADS, "kv_heads": HEADS, "ffn": 32, "tokens": TOKENS, "generate_tokens": 0, "vocab": 100,
            "activation": "gelu", "norm": "layernorm", "block": "post_ln", "real": False, "source": "tests"}
    weight = {"name": "l0.q.weight", "shape": [16, 16], "numel": 256, "nonzero_fraction": 1.0, "abs_mean": 0.5,
              "abs_max": 1.0, "std": 0.6, "bias": None}
    return {
        "format": "hwsim-trace", "version": 1, "workload": "tiny", "model": "tiny", "model_spec": spec,
        "real": False, "mode": "encoder", "text": {"source": "custom"}, "tokens": TOKENS, "prompt_tokens": TOKENS,
        "generated_tokens": 0, "scale": HEAD_DIM ** -0.5, "mask": "none", "attention": "softmax",
        "probs_stored": False, "has_input_ids": False,
        "layers": [{"heads": HEADS, "kv_heads": HEADS, "head_dim": HEAD_DIM} for _ in range(LAYERS)],
        "op_graph": [{"name": "l0.q", "op": "linear", "layer": 0, "inputs": [[1, TOKENS, 16]],
                      "outputs": [[1, TOKENS, 16]], "weight": weight}],
        "provenance": {"seed": 0},
    }


def arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded Q/K/V of the tiny trace (float16)."""
    rng = np.random.default_rng(seed)
    return {f"layers.{i}.{x}": rng.standard_normal((HEADS, TOKENS, HEAD_DIM)).astype(np.float16)
            for i in range(LAYERS) for x in "qkv"}


def trace_bytes(man: dict | str | object | None = None, tensors: dict | None = None, *,
                meta: dict | None = None, header_text: str | None = None) -> bytes:
    """The bytes of a trace file: ``man`` (a dict, raw JSON text, or any JSON value) as its manifest.

    ``meta`` replaces the header metadata; ``header_text`` the whole JSON header.
    """
    man = manifest() if man is None else man
    tensors = arrays() if tensors is None else tensors
    text = man if isinstance(man, str) else json.dumps(man)
    header: dict = {"__metadata__": meta if meta is not None else
                    {"format": "hwsim-trace", "version": "1", "manifest": text}}
    offset, blobs = 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        header[name] = {"dtype": {"float16": "F16", "int32": "I32"}[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    raw = (header_text if header_text is not None else json.dumps(header)).encode()
    raw += b" " * (-(8 + len(raw)) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def write_trace(path: Path, man=None, tensors=None, **kw) -> Path:
    """Write :func:`trace_bytes` to ``path``; return it."""
    path.write_bytes(trace_bytes(man, tensors, **kw))
    return path


def edited(**changes) -> dict:
    """The tiny manifest with dotted keys replaced: ``edited(**{"model_spec.heads": 1})``."""
    m = copy.deepcopy(manifest())
    for key, value in changes.items():
        node = m
        parts = key.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        node[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value
    return m


CSV_HEADER = ("iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,key_fetch_num,quant_key_bit,"
              "quant_query_bit,auto_requant_thres,if_requant,auto_requant_incre,value_fetch_num,quant_value_bit,"
              "if_accumulate_importance,if_rescale_previous_importance,if_topk,topk")


def csv_rows() -> list[list[str]]:
    """Valid SpAtten CSV rows: one iteration, 2 layers x 2 heads, 32 tokens, 8-bit keys with 4-bit LSBs."""
    rows = []
    for layer in range(2):
        for head in range(2):
            rows.append([str(x) for x in (0, layer, head, 64, 32, 24, 8, 16, 0.1, head == 1, 4, 20, 8,
                                          True, False, layer == 1 and head == 0, 24 if layer == 1 and head == 0
                                          else -1)])
    return rows


def csv_text(rows: list[list[str]] | None = None) -> str:
    """The CSV file text of ``rows`` (default :func:`csv_rows`) under the authors' header."""
    rows = csv_rows() if rows is None else rows
    return CSV_HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows)
