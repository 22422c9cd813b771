"""Malformed trace files, SpAtten CSVs and configs: one line naming the file and key, exit 2, nothing else."""

from __future__ import annotations

import hashlib
import json

import pytest

from hostile import files
from hostile.refusal import assert_refused

TRACE_CASES = {
    "manifest is an integer": (dict(man="5"), "manifest: expected a JSON object"),
    "manifest is an object in the metadata": (
        dict(meta={"format": "hwsim-trace", "version": "1", "manifest": {"a": 1}}),
        "header metadata 'manifest': expected a string"),
    "scale with 401 digits": (dict(man=files.edited(scale=10**400)), "manifest key 'scale'"),
    "200,000 nested [ in the header": (dict(header_text="[" * 200_000 + "]" * 200_000), "nested too deeply"),
    "200,000 nested [ in the manifest": (dict(man="[" * 200_000), "header metadata 'manifest'"),
    "a number of 5000 digits": (dict(man='{"scale": ' + "1" * 5000 + "}"), "header metadata 'manifest'"),
    "zero layers": (dict(man=files.edited(layers=[], **{"model_spec.layers": 0}), tensors={}),
                    "manifest key 'model_spec.layers'"),
    "unknown activation": (dict(man=files.edited(**{"model_spec.activation": "bogus"})),
                           "manifest key 'model_spec.activation'"),
    "family is a number": (dict(man=files.edited(**{"model_spec.family": 7})), "manifest key 'model_spec.family'"),
    "unknown block": (dict(man=files.edited(**{"model_spec.block": "nope"})), "manifest key 'model_spec.block'"),
    "name is a number": (dict(man=files.edited(**{"model_spec.name": 5})), "manifest key 'model_spec.name'"),
    "heads disagree with the layers": (dict(man=files.edited(**{"model_spec.heads": 1, "model_spec.kv_heads": 1})),
                                       "manifest key 'layers[0]'"),
    "head dim 1": (dict(man=files.edited(**{"layers.0.head_dim": 1, "layers.1.head_dim": 1})),
                   "manifest key 'layers[0].head_dim'"),
    "40,000 tokens in a small file": (dict(man=files.edited(tokens=40000, prompt_tokens=40000)),
                                      "manifest key 'tokens'"),
    "tensor dtype is a list": (dict(header_text=json.dumps({"__metadata__": {}, "x": {"dtype": [1]}})),
                               "not an hwsim trace"),
    "weight numel disagrees with its shape": (dict(man=files.edited(**{"op_graph.0.weight.numel": 7})),
                                              "manifest key 'op_graph[0].weight.numel'"),
}


@pytest.mark.parametrize("case", list(TRACE_CASES))
def test_bad_trace_files(cli, tmp_path, case):
    kw, name = TRACE_CASES[case]
    path = files.write_trace(tmp_path / "bad.safetensors", **kw)
    assert_refused(cli("trace", "info", path, "--json", tmp_path / "out.json"), str(path), name,
                   nothing_at=tmp_path / "out.json")


@pytest.mark.parametrize("command", [
    ("simulate", "--workload", "{p}", "--json", "{out}"),
    ("mpc", "--workload", "{p}", "--json", "{out}"),
])
def test_bad_traces_are_refused_by_every_command(cli, tmp_path, command):
    for man, name in ((files.edited(layers=[], **{"model_spec.layers": 0}), "model_spec.layers"),
                      (files.edited(**{"model_spec.activation": "bogus"}), "model_spec.activation"),
                      (files.edited(**{"model_spec.heads": 1, "model_spec.kv_heads": 1}), "layers[0]")):
        p = files.write_trace(tmp_path / "bad.safetensors", man, {} if not man["layers"] else None)
        out = tmp_path / "out.json"
        assert_refused(cli(*[a.format(p=p, out=out) for a in command]), str(p), name, nothing_at=out)


def test_a_valid_tiny_trace_runs_and_mpc_records_its_digest(cli, tmp_path):
    p = files.write_trace(tmp_path / "tiny.safetensors")
    o = cli("mpc", "--workload", p, "--json", tmp_path / "mpc.json")
    assert o.code == 0, o.err
    inputs = json.loads((tmp_path / "mpc.json").read_text())["provenance"]["inputs"]
    assert inputs == {"workload": "tiny.safetensors", "workload_sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
    assert cli("trace", "info", p).code == 0


def _csv_with(tmp_path, col: int, value: str):
    rows = files.csv_rows()
    rows[1][col] = value
    path = tmp_path / "bad.csv"
    path.write_text(files.csv_text(rows))
    return path


@pytest.mark.parametrize("col, value, name", [
    (4, str(2**40), "column 'sentence_length_L'"),
    (2, str(2**31), "column 'head_id'"),
    (3, str(2**31), "column 'embedding_length_D'"),
    (3, "1e300", "column 'embedding_length_D'"),
    (16, "9" * 30, "column 'topk'"),
    (8, "7" * 200_000, "column 'auto_requant_thres'"),
])
def test_bad_spatten_csv_values(cli, tmp_path, col, value, name):
    path = _csv_with(tmp_path, col, value)
    assert_refused(cli("trace", "info", path, "--json", tmp_path / "o.json"), str(path), "line 3", name,
                   nothing_at=tmp_path / "o.json")


def test_a_huge_quoted_field_is_one_line(cli, tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(files.CSV_HEADER + "\n" + '"' + "\n".join(["x" * 4000] * 40) + '"\n')
    assert_refused(cli("trace", "info", path), str(path), "line")


@pytest.mark.parametrize("args, names", [
    (("simulate", "--workload", "vit-cifar", "--tokens", "1000001"), ("--tokens 1000001", "32,768")),
    (("simulate", "--workload", "gpt2-small", "--tokens", "8000", "--generate", "1000"), ("--generate",)),
    (("topk", "--trials", "1000000000"), ("--trials 1000000000",)),
    (("topk", "--n", "1048576", "--max-n", "1048576", "--trials", "100000"), ("--trials 100000",)),
    (("mpc", "--workload", "bert-base", "--tokens", "1000000000"), ("--tokens 1000000000",)),
    (("reproduce", "spatten", "--bert-tokens", "0"), ("--bert-tokens 0",)),
    (("rtl", "test", "topk", "--vectors", "1000000000"), ("--vectors 1000000000",)),
    (("simulate", "--workload", "bert-base", "--seed", "-1"), ("--seed -1",)),
    (("simulate", "--workload", "bert-base", "--set", "policy.quantization.mode=bogus"),
     ("--set policy.quantization.mode=bogus", "quantization.mode")),
    (("simulate", "--workload", "bert-base", "--set", "topk.max_n=256", "--set", "sram.tiling=none"),
     ("bert-base", "512 tokens", "sram.tiling")),
    (("simulate", "--workload", "bert-base", "--set", "topk.max_n=64", "--set", "policy.local_v.enabled=true",
      "--set", "policy.local_v.keep=0.5"), ("bert-base", "topk.max_n = 64", "257")),
    (("mpc", "--workload", "vit-cifar", "--attention", "mixedfoo:0.3"), ("mixedfoo:0.3",)),
    (("trace", "info", "-w", "llama-long", "--tokens", "16384"), ("llama-long", "MAX_INFO_SCORE_BYTES")),
    (("simulate", "--workload", "llama-long", "--tokens", "16384"), ("llama-long", "topk.max_n", "3384")),
])
def test_sizes_and_settings_are_checked_before_any_work(cli, tmp_path, args, names):
    cache = tmp_path / "cache"
    assert_refused(cli(*args, "--json", tmp_path / "o.json", env={"HWSIM_CACHE_DIR": str(cache)}), *names,
                   nothing_at=tmp_path / "o.json")
    assert not cache.exists()  # nothing was traced


def test_config_files(cli, tmp_path):
    (tmp_path / "missing.toml").write_text('base = "nosuch"\n')
    assert_refused(cli("show", "design", tmp_path / "missing.toml"), "missing.toml", "base", "nosuch")
    sub = tmp_path / "configs"
    sub.mkdir()
    (sub / "b.toml").write_text('base = "spatten"\n[topk]\nlanes = 8\n')
    (sub / "a.toml").write_text('base = "b.toml"\n')  # relative to a.toml, not to the working folder
    o = cli("show", "design", sub / "a.toml")
    assert o.code == 0, o.err
    assert "lanes = 8" in o.out
    (sub / "loop.toml").write_text('base = "loop.toml"\n')
    assert_refused(cli("show", "design", sub / "loop.toml"), "loop.toml", "includes itself")
    (tmp_path / "net.toml").write_text("base = [1]\n")
    assert_refused(cli("mpc", "op", "softmax", "--shape", "4,4", "--network", tmp_path / "net.toml"), "net.toml",
                   "base")


def test_the_trace_cache(cli, tmp_path, monkeypatch):
    plain = tmp_path / "a-file"
    plain.write_text("")
    assert_refused(cli("trace", "info", "vit-cifar", env={"HWSIM_CACHE_DIR": str(plain)}), "HWSIM_CACHE_DIR",
                   "not a folder")
    import workloads
    from workloads import bundled

    monkeypatch.setenv("HWSIM_CACHE_DIR", str(tmp_path / "ro"))
    entry = workloads.cache_path("vit-cifar")
    entry.parent.mkdir(parents=True)
    files.write_trace(entry)  # a read-only cache holding the entry: read without a lock

    def no_lock(path):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(bundled, "_lock", no_lock)
    o = cli("trace", "info", "vit-cifar")
    assert o.code == 0, o.err
    assert "tiny" in o.out


def test_ctrl_c_is_one_line_and_status_130(cli, monkeypatch):
    import hwsim.units.topk as topk

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(topk, "select_batch_detail", interrupted)
    o = cli("topk", "--n", "16", "--max-n", "16", "--trials", "4")
    assert o.code == 130 and o.err.strip() == "hwsim: error: interrupted"


def test_refusals_through_the_installed_command(tmp_path):
    """The same promise across the process boundary: exit status 2, one line, no traceback, nothing written."""
    from conftest import run_hwsim

    from hostile.refusal import Outcome

    trace = files.write_trace(tmp_path / "zero.safetensors", files.edited(layers=[], **{"model_spec.layers": 0}), {})
    csv = _csv_with(tmp_path, 4, str(2**40))
    out = tmp_path / "out.json"
    for args, names in (
        (("simulate", "--workload", trace, "--json", out), (str(trace), "model_spec.layers")),
        (("trace", "info", csv, "--json", out), (str(csv), "line 3", "sentence_length_L")),
        (("topk", "--trials", "1000000000", "--json", out), ("--trials",)),
    ):
        r = run_hwsim(*map(str, args), env={"HWSIM_CACHE_DIR": str(tmp_path / "cache")})
        assert_refused(Outcome(r.returncode, r.stdout, r.stderr), *names, nothing_at=out)


@pytest.mark.parametrize("args, names", [
    (("trace", "--model", "vit-cifar", "--tokens", "100001", "-o", "x.safetensors"), ("--tokens 100001",)),
    (("trace", "--model", "vit-cifar", "-o", "x.txt"), ("-o x.txt", ".safetensors")),
    (("trace", "--model", "vit-cifar", "-o", "sub"), ("-o sub", "is a folder")),
    (("trace", "info", "bert-base", "--tokens", "513"), ("--tokens 513", "512 positions")),
])
def test_trace_options_are_checked_before_tracing(cli, tmp_path, args, names):
    (tmp_path / "sub.safetensors").mkdir()
    args = tuple("sub.safetensors" if a == "sub" else a for a in args)
    names = tuple(n.replace("sub", "sub.safetensors") for n in names)
    cache = tmp_path / "cache"
    assert_refused(cli(*args, env={"HWSIM_CACHE_DIR": str(cache)}), *names, nothing_at=tmp_path / "x.safetensors")
    assert not cache.exists()
