"""``hwsim trace``, ``hwsim trace info``, ``hwsim workloads`` run as a user runs them (subprocess)."""

from __future__ import annotations

import json
import os

import pytest

from conftest import SHARED, run_hwsim

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A trace cache inside this test session's temp folder (shared by xdist workers), one torch thread."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return {"HWSIM_CACHE_DIR": str(root / "hwsim-cache"), "HWSIM_TORCH_THREADS": "1", "COLUMNS": "200"}


def _one_line_error(r) -> str:
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("hwsim: error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    return r.stderr


def test_workloads_lists_every_bundled_name(env):
    r = run_hwsim("workloads", env=env)
    assert r.returncode == 0, r.stderr
    for name in ("minilm", "smollm2", "bert-base", "bert-long", "bert-large", "gpt2-small", "gpt2-medium", "llama-long",
                 "vit-cifar", "vit-tiny"):
        assert f"│ {name} " in r.stdout
    assert "30 x 9 (kv 3)" in r.stdout and "992 + 32" in r.stdout and "real, text pydoc" in r.stdout
    assert r.stdout.count("synthetic (random weights)") == 8


def test_trace_writes_a_valid_file_without_touching_the_cache(env, tmp_path):
    out = tmp_path / "vit.safetensors"
    private = dict(env, HWSIM_CACHE_DIR=str(tmp_path / "cache"))
    r = run_hwsim("trace", "--workload", "vit-cifar", "--no-cache", "-o", str(out), env=private)
    assert r.returncode == 0, r.stderr
    assert "hwsim: vit-cifar: tracing one forward pass over 65 tokens" in r.stderr  # progress on stderr
    import workloads

    t = workloads.load(out)
    assert (t.name, t.layers, t.heads, t.tokens) == ("vit-cifar", 7, 4, 65)
    assert t.digest in r.stdout and "synthetic" in r.stdout
    assert not (tmp_path / "cache").exists()


def test_trace_a_real_model_then_inspect_it(env, tmp_path):
    out = tmp_path / "minilm.safetensors"
    r = run_hwsim("trace", "--workload", "minilm", "--tokens", "32", "-o", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert "real (trained weights, real text)" in r.stdout and "pydoc" in r.stdout
    js = tmp_path / "info.json"
    r = run_hwsim("trace", "info", str(out), "--json", str(js), env=env)
    assert r.returncode == 0, r.stderr
    assert "Attention concentration per layer" in r.stdout and "mass in top 10% of keys" in r.stdout
    info = json.loads(js.read_text())
    assert info["workload"] == "minilm" and len(info["layers"]) == 6
    assert all(len(layer["top_mass_fraction"]) == 12 for layer in info["layers"])
    assert all(0.1 <= m <= 1 for layer in info["layers"] for m in layer["top_mass_fraction"])
    # by name, from the cache the first command filled
    r = run_hwsim("trace", "info", "minilm", "--tokens", "32", "--top-fraction", "0.25", env=env)
    assert r.returncode == 0, r.stderr
    assert "tracing" not in r.stderr and "mass in top 25% of keys" in r.stdout


def test_trace_info_of_a_spatten_csv(env, tmp_path):
    js = tmp_path / "csv.json"
    r = run_hwsim("trace", "info", str(CSV), "--json", str(js), env=env)
    assert r.returncode == 0, r.stderr
    assert "0.276 of dense" in r.stdout and "0.070 of rows" in r.stdout
    info = json.loads(js.read_text())
    assert info["rows"] == 4608 and len(info["topk_events"]) == 124 and info["dense"] is False


@pytest.mark.parametrize("args, expected", [
    (["trace", "-o", "x.safetensors"], "--workload is required"),
    (["trace", "--workload", "minilm"], "-o/--output is required"),
    (["trace", "--workload", "gpt5", "-o", "x.safetensors"], "--workload 'gpt5': unknown; expected one of minilm"),
    (["trace", "--model", "gpt5", "-o", "x.safetensors"], "--workload 'gpt5': unknown"),  # the old spelling
    (["trace", "-w", "minilm", "--model", "minilm", "-o", "x.safetensors"], "--model and --workload name the same"),
    (["trace", "-w", "minilm", "-o", "x.pt"], "-o x.pt: expected a file name ending in .safetensors"),
    (["trace", "--workload", "minilm", "--generate", "3", "-o", "x.safetensors"], "minilm is an encoder"),
    (["trace", "--workload", "vit-tiny", "--text", "pydoc", "-o", "x.safetensors"], "vit-tiny is shape-only"),
    (["trace", "info"], "--workload is required"),
    (["trace", "info", "minilm", "-w", "minilm"], "give the workload once"),
    (["trace", "info", "nothing-here.safetensors"], "nothing-here.safetensors: no such file"),
    (["trace", "info", "bert-huge"], "unknown workload 'bert-huge'"),
    (["trace", "info", "x.csv", "--tokens", "3"], "do not apply to a SpAtten replay CSV"),
])
def test_bad_arguments_get_one_line(env, tmp_path, args, expected):
    r = run_hwsim(*args, env=env, cwd=tmp_path)
    assert expected in _one_line_error(r)
    assert not (tmp_path / "x.safetensors").exists()


def test_malformed_csv_names_the_line(env, tmp_path):
    bad = tmp_path / "bad.csv"
    lines = CSV.read_text().splitlines()
    lines[5] = lines[5].replace(",993,993,", ",993,1200,", 1)
    bad.write_text("\n".join(lines) + "\n")
    err = _one_line_error(run_hwsim("trace", "info", str(bad), env=env))
    assert f"{bad}: line 6: key_fetch_num 1200 must be in 1..sentence_length_L (993)" in err
