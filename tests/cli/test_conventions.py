"""The CLI's conventions as a user meets them: JSON on stdout, --quiet, fitting policies, one-line warnings."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, run_hwsim

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("hwsim: warning: ")]


@pytest.mark.parametrize("args,key", [(["designs"], "name"), (["policies"], "name"), (["workloads"], "mode"),
                                      (["mpc", "list"], None)])
def test_list_commands_print_json(args, key, tmp_path):
    r = run_hwsim(*args, "--json", cwd=tmp_path)  # bare --json: stdout, no table
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    if key is None:
        assert {"protocols", "networks", "operations"} <= set(doc)
    else:
        assert doc and all(key in row for row in doc)
    r = run_hwsim(*args, "--json", "list.json", cwd=tmp_path)
    assert json.loads((tmp_path / "list.json").read_text()) == doc


def test_mpc_op_json_old_and_new_spelling(tmp_path):
    bare = run_hwsim("mpc", "op", "softmax", "--shape", "16,64", "--json", cwd=tmp_path)
    dash = run_hwsim("mpc", "op", "softmax", "--shape", "16,64", "--json", "-", cwd=tmp_path)
    assert bare.returncode == dash.returncode == 0 and bare.stdout == dash.stdout
    assert json.loads(bare.stdout)["op"] == "softmax"


def test_dense_design_picks_a_fitting_policy(tmp_path):
    r = run_hwsim("simulate", "-w", "vit-cifar", "-d", "dense", "--json", "-", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["policy"] == "none"
    assert "hwsim: note: design 'dense' cannot run the default policy 'spatten-bert'" in r.stderr
    assert "using policy 'none'" in r.stderr


def test_a_named_policy_that_does_not_fit_lists_those_that_do(tmp_path):
    r = run_hwsim("simulate", "-w", "vit-cifar", "-d", "dense", "-p", "spatten-gpt2", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1].endswith("policies design 'dense' runs: none")


def test_overrides_without_effect_and_stretched_policies_warn(tmp_path):
    r = run_hwsim("simulate", "-w", "vit-cifar", "-p", "spatten-bert", "--set", "policy.local_v.keep=0.1",
                  "--set", "policy.quantization.threshold=0.2", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _warnings(r.stderr) == [
        "hwsim: warning: --set policy.local_v.keep=0.1 has no effect in policy 'spatten-bert': local_v.enabled is "
        "false (add --set policy.local_v.enabled=true)",
        "hwsim: warning: --set policy.quantization.threshold=0.2 has no effect in policy 'spatten-bert': "
        "quantization.mode is 'static' (threshold is read in 'progressive' mode only)",
    ]
    r = run_hwsim("simulate", "-w", "vit-cifar", "-p", "spatten-gpt2", "--quiet", cwd=tmp_path)
    assert _warnings(r.stderr) == [
        "hwsim: warning: policy 'spatten-gpt2': token_pruning.keep_per_layer lists 12 layers, workload vit-cifar "
        "has 7: resampled by relative depth (layer l uses entry floor(l x 12 / 7))"]
    r = run_hwsim("simulate", "-w", "vit-cifar", "-p", "spatten-bert", "--set", "policy.local_v.enabled=true",
                  "--set", "policy.local_v.keep=0.3", "-d", "spatten", "--quiet", cwd=tmp_path)
    assert r.returncode == 0 and _warnings(r.stderr) == []


def test_a_policy_on_a_replay_is_refused(tmp_path):
    r = run_hwsim("simulate", "-w", str(CSV), "-p", "none", "--json", "s.json", "--quiet", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        "hwsim: error: --policy / --set policy.*: summary-gpt2-small-wikitext2-per8.csv is a SpAtten CSV replay, "
        "which carries its own pruning and quantization decisions; expected no policy"]
    assert not (tmp_path / "s.json").exists()


def _flat(help_text: str) -> str:
    return " ".join(help_text.replace("│", " ").split())  # rich wraps help inside a box


def test_help_keeps_bracketed_text():
    assert "[default: spatten-bert for encoders" in _flat(run_hwsim("simulate", "--help").stdout)
    assert "[default: crypten-2pc]" in _flat(run_hwsim("mpc", "op", "--help").stdout)


def test_old_spellings_still_work(tmp_path):
    r = run_hwsim("simulate", "-w", "vit-cifar", "-o", "out", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "summary.json").exists()
    r = run_hwsim("mpc", "op", "matmul", "--shape", "4,4,4", "-p", "aby3-3pc", "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["protocol"] == "aby3-3pc"
