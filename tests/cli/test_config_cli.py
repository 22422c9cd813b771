"""The configuration commands, run as a user runs them (the installed ``hwsim`` in a subprocess)."""

from __future__ import annotations

import sys
import subprocess

from hwsim import load_design


def test_designs_and_policies_list(hwsim):
    r = hwsim("designs")
    assert r.returncode == 0
    for name in ("spatten", "spatten-eighth", "dense"):
        assert name in r.stdout
    r = hwsim("policies")
    assert r.returncode == 0
    for name in ("none", "spatten-bert", "spatten-gpt2"):
        assert name in r.stdout


def test_show_with_override_loads_back(hwsim, tmp_path):
    r = hwsim("show", "design", "spatten", "--set", "topk.lanes=32")
    assert r.returncode == 0, r.stderr
    assert "\nlanes = 32\n" in r.stdout
    path = tmp_path / "d.toml"
    path.write_text(r.stdout)
    assert load_design(path) == load_design("spatten", ["topk.lanes=32"])


def test_bad_override_is_one_line_exit_2(hwsim):
    r = hwsim("show", "design", "spatten", "--set", "topk.lanes=33")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == "hwsim: error: --set topk.lanes=33: topk.lanes: expected a power of two from 1 to 64, got 33\n"


def test_misspelt_key_in_file(hwsim, tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[hbm]\nchanels = 4\n")
    r = hwsim("show", "design", str(path))
    assert r.returncode == 2
    assert r.stderr == (
        f"hwsim: error: {path}: hbm.chanels: unknown key; expected one of: channels, channel_gbytes_per_s, "
        "interleave_bytes, fetch, fuse_pairs, read_latency_ns\n"
    )


def test_policy_against_design(hwsim):
    r = hwsim("show", "policy", "spatten-gpt2", "--design", "dense")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "features.token_pruning = false" in r.stderr
    assert hwsim("show", "policy", "spatten-gpt2", "--design", "spatten").returncode == 0


def test_usage_errors_are_one_line(hwsim):
    r = hwsim("show", "design", "spatten", "--bogus")
    assert r.returncode == 2
    assert r.stderr == "hwsim: error: No such option: --bogus (see 'hwsim show design --help')\n"
    r = hwsim("show", "design")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_help_and_version(hwsim):
    r = hwsim("--help")
    assert r.returncode == 0 and "designs" in r.stdout and "show" in r.stdout
    r = hwsim("version")
    assert r.returncode == 0 and r.stdout.startswith("hwsim ")


def test_python_dash_m():
    r = subprocess.run([sys.executable, "-m", "hwsim", "designs"], capture_output=True, text=True)
    assert r.returncode == 0 and "spatten-eighth" in r.stdout
