"""Sweep specs: strict validation (one line, exit 2) and the points axes and constraints give."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_hwsim
from hwsim.errors import HwsimError
from hwsim.sweep import expand, load_spec


def _points(spec_text, write_spec):
    spec = load_spec(write_spec(spec_text))
    return [p.values for p in expand(spec)]


def test_axes_kinds(write_spec):
    pts = _points("""
evaluation = "topk"
[[axes]]
name = "topk.lanes"
log_range = [2, 16, 2]
[[axes]]
name = ["n", "k"]
values = [[64, 8], [128, 32]]
""", write_spec)
    assert pts == [{"topk.lanes": lanes, "n": n, "k": k} for lanes in (2, 4, 8, 16) for n, k in ((64, 8), (128, 32))]
    pts = _points("""
evaluation = "topk"
[[axes]]
name = "k_fraction"
range = [0.1, 0.5, 0.2]
""", write_spec)
    assert pts == [{"k_fraction": 0.1}, {"k_fraction": 0.3}, {"k_fraction": 0.5}]


def test_random_axis_and_sample_are_seeded(write_spec):
    text = """
evaluation = "topk"
sample = {points = 5, seed = 7}
[[axes]]
name = "k_fraction"
random = {low = 0.05, high = 0.95, samples = 6, seed = 2}
[[axes]]
name = "topk.lanes"
values = [1, 2, 4, 8]
"""
    a, b = _points(text, write_spec), _points(text, write_spec)
    assert a == b and len(a) == 5
    assert all(0.05 <= p["k_fraction"] < 0.95 for p in a)
    unsampled = _points(text.replace("sample = {points = 5, seed = 7}", ""), write_spec)
    assert len(unsampled) == 24 and len({p["k_fraction"] for p in unsampled}) == 6


def test_constraints_drop_points_before_running(write_spec):
    pts = _points("""
evaluation = "topk"
constraints = ["topk.in_lanes <= topk.lanes and n >= 2 * topk.lanes", "not (n == 64 and topk.lanes == 4)"]
[[axes]]
name = "topk.lanes"
values = [1, 4, 16]
[[axes]]
name = "n"
values = [8, 64]
""", write_spec)
    # the base design's in_lanes is 8: only 16 lanes pass the first test
    assert pts == [{"topk.lanes": 16, "n": 64}]


@pytest.mark.parametrize("body,message", [
    ('evaluation = "topk"\nlanes = 4', "spec.toml: lanes: unknown key; expected one of: evaluation, description"),
    ('evaluation = "topk"\nseed = "1"', "spec.toml: seed: expected an integer, got '1'"),
    ('evaluation = "topk"\n[[axes]]\nname = "topk.lane"\nvalues = [1]',
     "spec.toml: axes[0].name: 'topk.lane' is neither a design field"),
    ('evaluation = "simulate"\nworkloads = ["minilm"]\n[[axes]]\nname = "policy.local_v.kept"\nvalues = [0.1]',
     "spec.toml: axes[0].name: 'local_v.kept' is not a policy field"),
    ('evaluation = "topk"\n[[axes]]\nname = "n"\nvalues = [1]\nrange = [1, 2, 1]',
     "spec.toml: axes.0.range: expected exactly one of values, range, log_range, random"),
    ('evaluation = "topk"\n[params]\nn = 1.5', "spec.toml: params: n: expected an integer, got 1.5"),
    ('evaluation = "topk"\nconstraints = ["__import__(1)"]', "spec.toml: constraints[0]: unsupported syntax"),
    ('evaluation = "topk"\nconstraints = ["lanes > 2"]', "spec.toml: constraints[0]: 'lanes' is neither"),
    ('evaluation = "quality"\nworkloads = ["bert-base"]',
     "spec.toml: workloads: 'bert-base': the quality evaluation runs a real model; expected one of minilm, smollm2"),
    ('evaluation = "sparse"', "spec.toml: workloads: the sparse evaluation needs at least one workload"),
    ('evaluation = "sparse"\nworkloads = ["minilm"]\npolicy = "spatten-bert"',
     "spec.toml: policy: the sparse evaluation takes no policy"),
    ('evaluation = "topk"\n[objectives]\nminimize = ["area"]', "spec.toml: objectives.minimize: 'area' is not an output"),
    ('evaluation = "mpc"\n[[axes]]\nname = "topk.lanes"\nvalues = [1]',
     "spec.toml: axes[0].name: 'topk.lanes' is not a parameter of the mpc evaluation"),
    ('evaluation = "simulate"', "spec.toml: workloads: the simulate evaluation needs at least one workload"),
    ('evaluation = "topk"\n[[axes]]\nname = "topk.lanes"\nvalues = [4, "8"]',
     'spec.toml: axes[0].values: topk.lanes = "8": expected an integer'),
    ('evaluation = "topk"\n[[axes]]\nname = "topk.overlap"\nvalues = ["none", "half"]',
     "spec.toml: axes[0].values: topk.overlap = \"half\": expected one of 'none', 'filter' or 'full'"),
    ('evaluation = "topk"\n[[axes]]\nname = "scores"\nvalues = ["uniform", "zipf"]',
     "spec.toml: axes[0].values: scores = \"zipf\": expected one of 'uniform' or 'ties'"),
])
def test_bad_spec_is_one_line(write_spec, tmp_path, body, message):
    path = write_spec(body)
    with pytest.raises(HwsimError) as e:
        load_spec(path)
    assert message in str(e.value).replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize("body,message", [
    ('evaluation = "topk"\n[[axes]]\nname = "topk.lane"\nvalues = [1]',
     "spec.toml: axes[0].name: 'topk.lane' is neither a design field"),
    ('evaluation = "sparse"', "spec.toml: workloads: the sparse evaluation needs at least one workload"),
    ('evaluation = "topk"\nseed = "1"', "spec.toml: seed: expected an integer, got '1'"),
])
def test_bad_spec_on_the_command_line(write_spec, tmp_path, body, message):
    path = write_spec(body)
    r = run_hwsim("sweep", "run", str(path), "-o", str(tmp_path / "out"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwsim: error: ") and message in lines[0].replace(str(tmp_path) + "/", "")
    assert not (tmp_path / "out").exists()  # checked before anything is written


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[3] / "examples" / "sweeps").glob("*.toml")),
                         ids=lambda p: p.name)
def test_example_specs_load(path):
    """Every spec under examples/sweeps validates (its fields, axes and objectives exist)."""
    spec = load_spec(path)
    assert spec.axes and spec.description
