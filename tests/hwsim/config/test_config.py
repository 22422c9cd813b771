"""Designs and policies: presets, round trips, overrides and the exact one-line errors."""

from __future__ import annotations

import pytest

from hwsim import HwsimError, dump_toml, load_design, load_policy
from hwsim.config import check_pair, config_hash, design_presets, policy_presets


@pytest.mark.parametrize("name", sorted(design_presets()))
def test_design_preset_round_trip(name, tmp_path):
    design = load_design(name)
    path = tmp_path / f"{name}.toml"
    path.write_text(dump_toml(design))
    assert load_design(path) == design


@pytest.mark.parametrize("name", sorted(policy_presets()))
def test_policy_preset_round_trip(name, tmp_path):
    policy = load_policy(name)
    path = tmp_path / f"{name}.toml"
    path.write_text(dump_toml(policy))
    assert load_policy(path) == policy


def test_presets_match_the_paper():
    full = load_design("spatten")
    assert (full.clock_ghz, full.qk.multipliers, full.pv.multipliers) == (1.0, 512, 512)
    assert (full.softmax.parallelism, full.softmax.fifo_depth, full.softmax.latency_cycles) == (8, 128, 87)
    assert (full.topk.engines, full.topk.lanes, full.topk.max_n) == (2, 16, 1024)
    assert full.sram.key_bytes == full.sram.value_bytes == 2 * 1024 * 64 * 12 // 8
    assert full.hbm.bandwidth_gbytes_per_s == 512.0 and full.hbm.interleave_bytes == 32
    assert (full.datapath_bits, full.technology_nm) == (12, 40)
    eighth = load_design("spatten-eighth")
    assert eighth.qk.multipliers + eighth.pv.multipliers == 128
    assert eighth.hbm.bandwidth_gbytes_per_s == 64.0
    dense = load_design("dense")
    assert not any(dense.features.model_dump().values())
    gpt2 = load_policy("spatten-gpt2")
    q = gpt2.quantization
    assert (q.mode, q.key_bits, q.lsb_bits, q.threshold, gpt2.local_v.keep) == ("progressive", 6, 4, 0.05, 0.2)


def test_override_and_hash():
    base = load_design("spatten")
    wide = load_design("spatten", ["topk.lanes=32"])
    assert wide.topk.lanes == 32 and wide != base
    assert config_hash(wide) != config_hash(base)
    assert config_hash(load_design("spatten")) == config_hash(base)
    assert load_design(base, ["topk.lanes=32"]) == wide


def test_file_with_base(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('base = "spatten-eighth"\n[topk]\nlanes = 4\n')
    d = load_design(path)
    assert (d.name, d.topk.lanes, d.qk.multipliers) == ("mine", 4, 64)


def test_linear_schedule():
    p = load_policy("spatten-bert")
    keeps = [p.token_pruning.keep(i, 12) for i in range(12)]
    assert keeps[:2] == [1.0, 1.0]  # 15 % of 12 layers = 2 unpruned
    assert keeps[2] == pytest.approx(0.9) and keeps[-1] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(keeps, keeps[1:]))
    heads = [p.head_pruning.keep(i, 12) for i in range(12)]
    assert heads[:4] == [1.0] * 4  # 30 % of 12 layers


def test_explicit_schedule_resamples_by_depth():
    p = load_policy("spatten-gpt2")
    assert [p.token_pruning.keep(i, 12) for i in (0, 1, 2, 6, 11)] == [0.9275, 0.721, 0.2054, 0.1027, 0.1027]
    assert [p.token_pruning.keep(i, 6) for i in range(6)] == [0.9275, 0.2054, 0.2054, 0.1027, 0.1027, 0.1027]


ERRORS = [
    ("design", "spatten", ["topk.lanes=33"],
     "--set topk.lanes=33: topk.lanes: expected a power of two from 1 to 64, got 33"),
    ("design", "spatten", ["topk.lane=3"],
     "--set topk.lane=3: topk.lane: unknown key; expected one of: engines, lanes, in_lanes, max_n, width_bits, overlap"),
    ("design", "spatten", ["topk.overlap=half"],
     "--set topk.overlap=half: topk.overlap: expected one of 'none', 'filter' or 'full', got 'half'"),
    ("design", "spatten", ["topk.pipelined=true"],
     "--set topk.pipelined=true: topk.pipelined: unknown key; expected one of: engines, lanes, in_lanes, max_n, "
     "width_bits, overlap"),
    ("design", "spatten", ["clock_ghz=fast"], "--set clock_ghz=fast: clock_ghz: expected a number, got 'fast'"),
    ("design", "spatten", ["hbm.channels=\"16\""],
     "--set hbm.channels=\"16\": hbm.channels: expected an integer, got '16'"),
    ("design", "spatten", ["hbm=3"], "--set hbm=3: hbm: expected a table, got 3"),
    ("design", "spatten", ["clock_ghz.x=3"], "--set clock_ghz.x=3: clock_ghz: expected a number, got a table"),
    ("design", "spatten", ["name.x=3"], "--set name.x=3: name is a value, not a table"),
    ("design", "spatten", ["lanes"], "--set lanes: expected KEY=VALUE with a dotted key, e.g. topk.lanes=32"),
    ("design", "spatten", ["features.head_pruning=1"],
     "--set features.head_pruning=1: features.head_pruning: expected true or false, got 1"),
    ("design", "nope", [],
     "unknown design 'nope'; expected a preset (dense, spatten-eighth, spatten) or a .toml file"),
    ("policy", "spatten-bert", ["token_pruning.keep_end=0.95"],
     "--set token_pruning.keep_end=0.95: token_pruning.keep_end: expected at most keep_start (0.9): "
     "cascade pruning never un-prunes, got 0.95"),
    ("policy", "spatten-bert", ["token_pruning.keep_end=0"],
     "--set token_pruning.keep_end=0: token_pruning.keep_end: expected a number in (0, 1], got 0.0"),
    ("policy", "spatten-bert", ["quantization.mode=dynamic"],
     "--set quantization.mode=dynamic: quantization.mode: expected one of 'none', 'static' or 'progressive', "
     "got 'dynamic'"),
    ("policy", "spatten-gpt2", ["token_pruning.keep_per_layer=[0.5, 0.9]"],
     "--set token_pruning.keep_per_layer=[0.5, 0.9]: token_pruning.keep_per_layer: expected keep ratios that "
     "never increase with depth (cascade pruning), got [0.5, 0.9]"),
    ("policy", "spatten-gpt2", ['token_pruning.keep_per_layer=[0.5, "a"]'],
     "--set token_pruning.keep_per_layer=[0.5, \"a\"]: token_pruning.keep_per_layer.1: expected a number, got 'a'"),
    ("policy", "spatten-gpt2", ["token_pruning.schedule=linear"],
     "policy preset 'spatten-gpt2': token_pruning.keep_per_layer: expected no keep_per_layer when schedule = "
     "'linear' (set schedule = 'explicit')"),
]


@pytest.mark.parametrize("kind,spec,overrides,message", ERRORS)
def test_error_messages(kind, spec, overrides, message):
    loader = load_design if kind == "design" else load_policy
    with pytest.raises(HwsimError) as info:
        loader(spec, overrides)
    assert str(info.value) == message


def test_file_errors(tmp_path):
    misspelt = tmp_path / "bad.toml"
    misspelt.write_text('base = "spatten"\n[topk]\nlanse = 4\n')
    with pytest.raises(HwsimError) as info:
        load_design(misspelt)
    assert str(info.value) == (
        f"{misspelt}: topk.lanse: unknown key; expected one of: engines, lanes, in_lanes, max_n, width_bits, overlap"
    )
    dup = tmp_path / "dup.toml"
    dup.write_text("[topk]\nlanes = 4\nlanes = 8\n")
    with pytest.raises(HwsimError) as info:
        load_design(dup)
    assert str(info.value) == f"{dup}: invalid TOML: Cannot overwrite a value (at line 3, column 10)"
    with pytest.raises(HwsimError) as info:
        load_design(tmp_path / "missing.toml")
    assert str(info.value) == f"{tmp_path / 'missing.toml'}: no such file"
    loop = tmp_path / "loop.toml"
    loop.write_text(f'base = "{loop}"\n')
    with pytest.raises(HwsimError) as info:
        load_design(loop)
    assert str(info.value) == f"{loop}: base: '{loop}' includes itself"


def test_pair_checks():
    check_pair(load_design("spatten"), load_policy("spatten-gpt2"))
    check_pair(load_design("dense"), load_policy("none"))
    with pytest.raises(HwsimError) as info:
        check_pair(load_design("dense"), load_policy("spatten-gpt2"))
    assert str(info.value) == (
        "policy 'spatten-gpt2': token_pruning.enabled: expected a mechanism design 'dense' has; "
        "it sets features.token_pruning = false"
    )
    with pytest.raises(HwsimError) as info:
        check_pair(load_design("spatten"), load_policy("spatten-gpt2", ["quantization.lsb_bits=8"]))
    assert str(info.value) == (
        "policy 'spatten-gpt2': quantization.lsb_bits: expected key_bits + lsb_bits <= datapath_bits of design "
        "'spatten' (12), got 6 + 8 = 14"
    )


def test_configs_are_frozen():
    d = load_design("spatten")
    with pytest.raises(Exception):
        d.clock_ghz = 2.0
