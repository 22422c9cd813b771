"""``hwsim mpc``, ``hwsim mpc op``, ``hwsim mpc list`` and ``hwsim reproduce mpcvit`` as a user runs them."""

from __future__ import annotations

import csv
import json

import pytest


def test_op_prints_json(hwsim):
    r = hwsim("mpc", "op", "softmax", "--shape", "16,64", "--protocol", "crypten-2pc", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["rounds"], out["bytes"], out["sent_bytes"]) == (115, 1414912, 707456)
    assert out["latency_s"] == pytest.approx(out["round_s"] + out["transfer_s"] + out["compute_s"])
    r = hwsim("mpc", "op", "matmul", "--shape", "65,256,768", "-p", "aby3-3pc")
    assert r.returncode == 0 and "aby3-3pc" in r.stdout


def test_model_writes_json_csv_and_plot(hwsim, tmp_path):
    r = hwsim("mpc", "--workload", "vit-cifar", "--protocol", "crypten-2pc", "--network", "mpcvit",
              "--attention", "mixed:0.3", "--activation", "gelu_erf", "--json", "out.json", "--csv", "ops.csv",
              "--plot", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["rounds"] == pytest.approx(567 + 0.3 * 336)
    assert doc["latency_s"] == pytest.approx(53.21, rel=0.01)
    assert {"bytes", "latency_s", "ops", "groups", "provenance"} <= set(doc)
    assert [row["name"] for row in doc["ops"]][:3] == ["ln1", "qkv", "qk"]
    with open(tmp_path / "ops.csv") as f:
        header = next(csv.reader(f))
    assert header[:6] == ["name", "op", "shape", "kind", "repeat_count", "head_fraction"]
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "total: 667.80 rounds" in r.stdout and "attention function" in r.stdout


def test_model_from_trace_file(hwsim, tmp_path):
    import dataclasses

    import numpy as np

    from workloads import Trace
    from workloads.models import MODEL_SPECS

    spec = dataclasses.replace(MODEL_SPECS["vit-cifar"], layers=1)
    manifest = {
        "format": "hwsim-trace", "version": 1, "workload": "one-layer", "model": "one-layer",
        "model_spec": dataclasses.asdict(spec), "real": False, "mode": "encoder", "text": {}, "tokens": 9,
        "prompt_tokens": 9, "generated_tokens": 0, "scale": 0.125, "mask": "none", "attention": "softmax",
        "probs_stored": False, "has_input_ids": False, "op_graph": [], "provenance": {},
        "layers": [{"heads": 4, "kv_heads": 4, "head_dim": 64}],
    }
    arrays = {f"layers.0.{x}": np.zeros((4, 9, 64), np.float16) for x in "qkv"}
    Trace(manifest, arrays).save(tmp_path / "t.safetensors")
    r = hwsim("mpc", "--workload", "t.safetensors", "--json", "t.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "t.json").read_text())
    assert (doc["model"], doc["tokens"], doc["layers"]) == ("one-layer", 9, 1)


@pytest.mark.parametrize("args,message", [
    (["mpc", "op", "sofmax", "--shape", "4"], "unknown MPC operation 'sofmax'; expected one of: mul, square"),
    (["mpc", "op", "softmax", "--shape", "4", "--protocol", "spdz"],
     "unknown MPC protocol 'spdz'; expected one of: crypten-2pc, aby3-3pc, semi2k-2pc, cheetah-2pc"),
    (["mpc", "op", "matmul", "--shape", "16,64"],
     "operation 'matmul': shape 16,64 does not fit; expected m,k,n or b,m,k,n (3 or 4 positive integers)"),
    (["mpc", "op", "softmax", "--shape", "4,0"], "--shape 4,0: expected comma-separated positive integers"),
    (["mpc", "--workload", "vit-cifar", "--network", "zero.toml"],
     "zero.toml: bandwidth_gbit_per_s: expected a positive number, got 0.0"),
    (["mpc", "--workload", "vit-cifar", "--attention", "mixed:1.2"],
     "attention 'mixed:1.2': expected a ReLU-softmax head fraction MU in [0, 1], got 1.2"),
    (["mpc", "--workload", "vit-cifar", "op", "exp", "--shape", "3"],
     "--workload goes with 'hwsim mpc', not with 'hwsim mpc op'"),
])
def test_bad_input_is_one_line_exit_2(hwsim, tmp_path, args, message):
    (tmp_path / "zero.toml").write_text("bandwidth_gbit_per_s = 0\nrtt_ms = 1\n")
    r = hwsim(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith(f"hwsim: error: {message}") and r.stderr.count("\n") == 1, r.stderr


def test_list_and_help(hwsim):
    r = hwsim("mpc", "list")
    assert r.returncode == 0
    for word in ("crypten-2pc", "aby3-3pc", "lan", "wan", "mpcvit", "relu_softmax", "linear_attention"):
        assert word in r.stdout
    r = hwsim("mpc")
    assert r.returncode == 0 and "--workload" in r.stdout and "op" in r.stdout


def test_reproduce_mpcvit(hwsim, tmp_path):
    r = hwsim("reproduce", "mpcvit", "--json", "repro.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "repro.json").read_text())
    assert doc["setting"]["network"]["name"] == "mpcvit"
    assert "provenance" in doc
    paper = [row["paper"] for row in doc["rows"] if row["unit"] == "s"]
    assert paper == [112.23, 71.82, 44.63, 66.98, 48.03, 52.88, 58.66, 63.56]
    for row in doc["rows"]:
        assert set(row) >= {"quantity", "paper", "ours", "ratio", "unit"}
        assert abs(row["ratio"] - 1) < 0.05
    assert "largest deviation" in r.stdout


def test_reproduction_helper_fills_ratio_and_checks_rows():
    """The shared helper other ``hwsim reproduce`` commands use (hwsim.cli.reproduce_cmds)."""
    from hwsim.cli.reproduce_cmds import format_number, reproduction_document

    doc = reproduction_document("t", [{"quantity": "q", "paper": 2.0, "ours": 3.0, "unit": "x"}], setting={"a": 1})
    assert doc["rows"][0]["ratio"] == 1.5 and doc["setting"] == {"a": 1} and "git_revision" in doc["provenance"]
    with pytest.raises(ValueError, match="lacks paper"):
        reproduction_document("t", [{"quantity": "q", "ours": 3.0, "unit": "x"}])
    assert (format_number(1372), format_number(112.23), format_number(123456)) == ("1372", "112.23", "123,456")
