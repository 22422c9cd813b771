"""Trace format v1: round trip, memory-mapped torch-free loading, and one clear error per bad input."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import workloads
from hwsim.errors import HwsimError

from conftest import run_hwsim


@pytest.fixture(scope="module")
def base(hwsim_test_env):
    """The vit-cifar trace (small: 7 layers x 4 heads x 65 tokens) from the session cache."""
    return workloads.get("vit-cifar")


def _parts(path):
    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
    return load_file(str(path)), meta, json.loads(meta["manifest"])


def _write(path, arrays, meta, manifest=None):
    meta = dict(meta)
    if manifest is not None:
        meta["manifest"] = json.dumps(manifest)
    save_file(arrays, str(path), metadata=meta)
    return path


def _error(path) -> str:
    with pytest.raises(HwsimError) as e:
        workloads.load(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


def test_round_trip_is_exact_and_the_digest_is_the_file_hash(base, tmp_path):
    out = base.save(tmp_path / "copy.safetensors")
    again = workloads.load(out)
    assert again.manifest == base.manifest
    for layer in range(base.layers):
        for get in ("q", "k", "v"):
            np.testing.assert_array_equal(getattr(again, get)(layer), getattr(base, get)(layer))
    assert again.digest == hashlib.sha256(out.read_bytes()).hexdigest() == base.digest
    assert out.read_bytes() == base.path.read_bytes()  # deterministic bytes


def test_loaded_tensors_are_read_only_memory_maps(base):
    q = base.q(0)
    assert isinstance(q.base, np.memmap) or isinstance(q, np.memmap)
    assert not q.flags.writeable
    with pytest.raises(ValueError):
        q[0, 0, 0] = 1


def test_loading_does_not_import_torch(base):
    code = (f"import sys, workloads; t = workloads.load({str(base.path)!r}); t.probs(0); "
            f"assert 'torch' not in sys.modules, 'torch imported'; print(t.layers)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "7"


def test_probs_are_the_softmax_of_the_scaled_scores(base):
    p = base.probs(2)
    assert p.shape == (4, 65, 65) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    s = base.scores(2)
    i, j = 7, 11  # one entry by hand: exp(s_ij) / sum_k exp(s_ik)
    assert p[1, i, j] == pytest.approx(np.exp(s[1, i, j]) / np.exp(s[1, i]).sum(), rel=1e-5)
    q, k = base.q(2).astype(np.float32), base.k(2).astype(np.float32)
    assert s[1, i, j] == pytest.approx(float(q[1, i] @ k[1, j]) * base.scale, rel=1e-5)


def test_truncated_file(base, tmp_path):
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(base.path.read_bytes()[:-1000])
    assert "truncated: tensor" in _error(bad)


def test_file_shorter_than_its_header(base, tmp_path):
    bad = tmp_path / "head.safetensors"
    bad.write_bytes(base.path.read_bytes()[:200])
    assert "header length" in _error(bad) and "exceeds the 192 bytes that follow" in _error(bad)


def test_wrong_header(tmp_path):
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes((40).to_bytes(8, "little") + b"{this is not json at all, sorry......}" + b"\0" * 64)
    assert "not a safetensors trace: the header is not valid JSON" in _error(bad)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"abc")
    assert "too short" in _error(tiny)


def test_a_plain_safetensors_file_is_not_a_trace(tmp_path):
    plain = tmp_path / "weights.safetensors"
    save_file({"w": np.zeros((2, 2), np.float16)}, str(plain))
    assert "not an hwsim trace: header metadata 'format' is None, expected 'hwsim-trace'" in _error(plain)


def test_pickle_renamed_to_safetensors_is_refused_without_unpickling(tmp_path):
    sentinel = tmp_path / "unpickled"

    class Boom:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    bad = tmp_path / "model.safetensors"
    bad.write_bytes(pickle.dumps(Boom(), protocol=4))
    assert "this is a pickle or a zip archive" in _error(bad)
    assert not sentinel.exists()


def test_torch_save_zip_renamed_is_refused(tmp_path):
    import torch

    bad = tmp_path / "ckpt.safetensors"
    torch.save({"q": torch.zeros(2)}, bad)
    assert "pickle or a zip archive (e.g. from torch.save)" in _error(bad)


def test_mismatched_shapes(base, tmp_path):
    arrays, meta, manifest = _parts(base.path)
    arrays["layers.3.k"] = arrays["layers.3.k"][:, :64]
    msg = _error(_write(tmp_path / "shape.safetensors", arrays, meta))
    assert "tensor 'layers.3.k': expected shape [4, 65, 64] from the manifest, got [4, 64, 64]" in msg


def test_manifest_that_disagrees_with_the_tensors(base, tmp_path):
    arrays, meta, manifest = _parts(base.path)
    for layer in manifest["layers"]:
        layer["head_dim"] = 32
    msg = _error(_write(tmp_path / "dim.safetensors", arrays, meta, manifest))
    assert "tensor 'layers.0.q': expected shape [4, 65, 32] from the manifest, got [4, 65, 64]" in msg


def test_layer_heads_must_match_the_model_spec(base, tmp_path):
    arrays, meta, manifest = _parts(base.path)
    manifest["model_spec"]["heads"] = manifest["model_spec"]["kv_heads"] = 2  # the layers say 4
    msg = _error(_write(tmp_path / "heads.safetensors", arrays, meta, manifest))
    assert "manifest key 'layers[0]': expected heads 2 and kv_heads 2 (model_spec), got 4 and 4" in msg


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values(base, tmp_path, value):
    arrays, meta, _ = _parts(base.path)
    arrays["layers.5.v"][2, 10, 3] = value
    msg = _error(_write(tmp_path / "nan.safetensors", arrays, meta))
    assert "tensor 'layers.5.v': 1 non-finite values (NaN/Inf), first at index [2, 10, 3]" in msg


def test_wrong_dtype(base, tmp_path):
    arrays, meta, _ = _parts(base.path)
    arrays["layers.1.q"] = arrays["layers.1.q"].astype(np.float32)
    assert "bad header entry (dtype 'F32'" in _error(_write(tmp_path / "f32.safetensors", arrays, meta))
    arrays, meta, _ = _parts(base.path)
    arrays["layers.1.q"] = arrays["layers.1.q"].view(np.int16).astype(np.int32)
    assert "tensor 'layers.1.q': expected dtype F16, got I32" in _error(_write(tmp_path / "i32.safetensors",
                                                                               arrays, meta))


def test_missing_and_undeclared_tensors(base, tmp_path):
    arrays, meta, _ = _parts(base.path)
    del arrays["layers.6.v"]
    assert "tensor 'layers.6.v' missing" in _error(_write(tmp_path / "missing.safetensors", arrays, meta))
    arrays, meta, _ = _parts(base.path)
    arrays["layers.7.q"] = arrays["layers.6.q"]
    assert "tensor 'layers.7.q' is not declared by the manifest" in _error(
        _write(tmp_path / "extra.safetensors", arrays, meta))


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m.update(version=2), "manifest key 'version': expected 1, got 2"),
    (lambda m: m.pop("scale"), "manifest: missing key 'scale'"),
    (lambda m: m.update(mode="seq2seq"), "manifest key 'mode': expected 'encoder' or 'decoder', got \"seq2seq\""),
    (lambda m: m.update(tokens=66), "manifest key 'tokens': expected tokens = prompt_tokens + generated_tokens, got 66 = 65 + 0"),
    (lambda m: m.update(scale=-1.0), "manifest key 'scale': expected a positive finite number"),
    (lambda m: m.update(attention="relu_softmax"), "manifest key 'probs_stored': expected true exactly when 'attention' is not 'softmax'"),
    (lambda m: m["op_graph"][3].update(op="conv3d"), "manifest key 'op_graph[3].op': expected a known op (linear, conv2d"),
    (lambda m: m["model_spec"].update(colour="red"), "manifest key 'model_spec': unknown field 'colour'"),
    (lambda m: m.update(real="yes"), "manifest key 'real': expected true/false, got \"yes\""),
])
def test_bad_manifests(base, tmp_path, edit, expected):
    arrays, meta, manifest = _parts(base.path)
    edit(manifest)
    assert expected in _error(_write(tmp_path / "manifest.safetensors", arrays, meta, manifest))


def test_header_version_is_checked_before_the_manifest(base, tmp_path):
    arrays, meta, _ = _parts(base.path)
    meta["version"] = "2"
    assert "header metadata 'version': expected 1, got '2'" in _error(_write(tmp_path / "v2.safetensors", arrays,
                                                                             meta))


def test_missing_file_and_directory(tmp_path):
    assert _error(tmp_path / "none.safetensors").endswith("no such file")
    d = tmp_path / "dir.safetensors"
    d.mkdir()
    assert "is a directory" in _error(d)


def test_cli_reports_a_bad_trace_in_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(pickle.dumps({"q": [1, 2, 3]}))
    r = run_hwsim("trace", "info", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"hwsim: error: {bad}: this is a pickle or a zip archive")


def test_a_corrupt_cache_entry_is_traced_again(base, hwsim_test_env, capsys):
    path = workloads.cache_path("vit-tiny")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x80\x04not a trace")
    trace = workloads.get("vit-tiny")
    assert "cached trace is unusable, tracing again" in capsys.readouterr().err
    assert trace.path == path and trace.tokens == 257
