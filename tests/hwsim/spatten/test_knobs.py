"""Every knob matters: perturb each design and policy field on an encoder, a decoder and a replay.

The declarations live in :mod:`hwsim.spatten.knobs`; this test holds the workloads and checks that
each declared category moves, that no undeclared category moves, and that every config field has
a declaration (a new field without one fails here).
"""

from __future__ import annotations

import functools

import pytest

from hwsim.config import Design, Policy, load_design, load_policy
from hwsim.errors import HwsimError
from hwsim.spatten import simulate
from hwsim.spatten.knobs import CATEGORIES, KINDS, KNOBS
from tiny_workload import TinyTrace
from conftest import SHARED

#: The base policy for traces: every mechanism on, linear schedules (so every policy field acts).
BASE_POLICY = [
    "local_v.enabled=true", "local_v.keep=0.3", "quantization.mode=progressive", "quantization.key_bits=6",
    "quantization.value_bits=6", "quantization.lsb_bits=4", "quantization.threshold=0.2",
]
REPLAY_CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"


def leaf_keys(model: type, prefix: str = "") -> list[str]:
    keys = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            keys += leaf_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


@functools.lru_cache(maxsize=None)
def workload(kind: str, tmp: str):
    if kind == "encoder":
        return TinyTrace(layers=4, heads=4, tokens=48, seed=1)
    if kind == "decoder":
        return TinyTrace(layers=4, heads=4, kv_heads=2, tokens=40, mode="decoder", generate=3, seed=2)
    import workloads

    from pathlib import Path

    lines = REPLAY_CSV.read_text().splitlines()
    path = Path(tmp) / "one-iteration.csv"
    path.write_text("\n".join(lines[:1] + [ln for ln in lines[1:] if ln.startswith("0,")]) + "\n")
    return workloads.resolve(str(path))


@functools.lru_cache(maxsize=None)
def outcome(kind: str, tmp: str, sets: tuple[str, ...], full_model: bool = False) -> dict:
    """The categories' values of one run (``full_model``: with the linear layers), or {'refused': message}."""
    design_sets = [s for s in sets if not s.startswith("policy.")]
    policy_sets = [s[len("policy."):] for s in sets if s.startswith("policy.")]
    wl = workload(kind, tmp)
    try:
        design = load_design("spatten", design_sets)
        policy = load_policy("spatten-bert", BASE_POLICY + policy_sets)
        if kind == "replay" and not policy_sets:
            policy = None
        r = simulate(wl, design, policy, seed=3, full_model=full_model).summary
    except HwsimError as e:
        return {"refused": str(e)}
    energy = r["energy_pj"]
    linear = {}
    if full_model:
        fm = r["full_model"]
        linear = {"linear": (fm["linear_cycles"], fm["linear_dram_bytes"], round(fm["linear_energy_pj"], 3),
                             fm["linear_area_mm2"])}
    return {**linear,
        "latency": r["latency_cycles"],
        "dram": r["dram_bytes_by_kind"],
        "energy": round(energy["total"] - energy.get("static_logic", 0.0) - energy.get("static_sram", 0.0), 3),
        "area": r["area_mm2"]["total"],
        "fidelity": (r["attention_rel_error_ratio"], r["prob_mass_kept_fraction"]),
        "label": (r["design"], r["policy"], r["provenance"]["configs"]),
    }


def test_every_field_is_declared():
    fields = set(leaf_keys(Design)) | {f"policy.{k}" for k in leaf_keys(Policy)}
    assert fields == set(KNOBS)
    for knob in KNOBS.values():
        assert knob.affects <= set(CATEGORIES), knob.key
        assert set(knob.no_effect) <= set(KINDS) and set(knob.partial) <= set(KINDS), knob.key
        assert knob.expected("encoder") or knob.expected("decoder") or knob.expected("replay"), knob.key


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("key", sorted(KNOBS))
def test_every_knob_matters(key, kind, tmp_path_factory):
    knob = KNOBS[key]
    tmp = str(tmp_path_factory.getbasetemp())
    ctx = knob.context if kind not in knob.no_effect else ()
    base = outcome(kind, tmp, ctx)
    assert "refused" not in base, base
    expected = knob.expected(kind)
    if kind == "replay" and key.startswith("policy."):
        refused = outcome(kind, tmp, knob.perturb)
        assert "carries its own pruning and quantization decisions" in refused.get("refused", ""), refused
        return
    if key.startswith("linear."):  # read by --full-model only: compare full-model runs
        if kind == "replay":
            assert "--full-model" in outcome(kind, tmp, knob.perturb, True).get("refused", "")
            plain = outcome(kind, tmp, knob.perturb)  # and plain simulate ignores it (the design hash aside)
            assert {c: v for c, v in plain.items() if c != "label"} == {c: v for c, v in base.items() if c != "label"}
            return
        base = outcome(kind, tmp, (), True)
    got = outcome(kind, tmp, ctx + knob.perturb, key.startswith("linear."))
    if "refuses" in expected:
        assert "refused" in got and "features." + key.split(".")[-1] in got["refused"], got
        return
    assert "refused" not in got, got
    moved = {c for c in base if base[c] != got[c]}
    if "label" in expected:
        assert moved == {"label"}, moved
        return
    assert moved - {"label"} == expected - {"capacity", "label"}, f"{key} on {kind}: moved {sorted(moved)}"
    if "capacity" in expected:
        limited = outcome(kind, tmp, knob.capacity)
        assert key in limited.get("refused", ""), limited
