"""What every design and policy field affects in a SpAtten simulation ("every knob matters").

Each leaf field of :class:`~hwsim.config.Design` and :class:`~hwsim.config.Policy` is declared
here once: the output categories it moves (:data:`CATEGORIES`), a perturbation that shows it,
and, per kind of workload (``encoder`` trace, ``decoder`` trace, SpAtten CSV ``replay``), where it
has no effect and why. ``tests/hwsim/spatten/test_knobs.py`` perturbs every field on a small
workload of each kind and checks that every declared category moves and that no undeclared one
does; a field added to a config without an entry here fails that test.

Categories:

* ``latency``: ``latency_cycles``;
* ``dram``: DRAM bus bytes by kind (``dram_bytes_by_kind``);
* ``energy``: dynamic energy (``energy_pj`` without the static terms);
* ``area``: ``area_mm2``;
* ``fidelity``: attention error and kept probability mass of the sampled rows;
* ``capacity``: a limit: the ``capacity`` perturbation makes the workload refused, naming the key;
* ``refuses``: a policy that needs the mechanism is refused on the perturbed design;
* ``label``: free text recorded in outputs (name, description), nothing modelled;
* ``linear``: the ``--full-model`` outputs of the linear layers (cycles, DRAM bytes, energy, the
  engine's area; :mod:`hwsim.spatten.fullmodel`). Plain ``simulate`` reads no ``linear.*`` field;
  the test measures this category for those fields only (other fields, the arrays' multipliers or
  the HBM, feed the linear engine too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Knob", "KNOBS", "CATEGORIES", "KINDS", "no_effect_reason"]

CATEGORIES = ("latency", "dram", "energy", "area", "fidelity", "capacity", "refuses", "label", "linear")
KINDS = ("encoder", "decoder", "replay")

_REPLAY_POLICY = "a SpAtten CSV replay carries its own decisions; a policy is refused there"
_REPLAY_LINEAR = "a SpAtten CSV replay lists attention rows only: --full-model is refused there"


@dataclass(frozen=True)
class Knob:
    """One config field: the ``--set`` perturbation(s) that show it and what it moves.

    ``affects`` are the categories that change on every kind of workload except those named in
    ``no_effect`` (kind -> reason) and the categories named in ``partial`` (kind -> categories
    that do not move there, with the reason in ``why``).
    """

    key: str
    perturb: tuple[str, ...]
    affects: frozenset[str]
    capacity: tuple[str, ...] = ()
    no_effect: dict[str, str] = field(default_factory=dict)
    partial: dict[str, frozenset[str]] = field(default_factory=dict)
    why: str = ""
    #: ``--set`` values applied to both runs (the base and the perturbed one) where the field has an effect:
    #: the setting in which it acts (a query block acts only when K is streamed in tiles)
    context: tuple[str, ...] = ()

    def expected(self, kind: str) -> frozenset[str]:
        """The categories this field moves on a workload of ``kind``."""
        if kind in self.no_effect:
            return frozenset()
        out = self.affects - self.partial.get(kind, frozenset())
        return out - {"fidelity"} if kind == "replay" else out  # a replay measures no fidelity (no tensors)


def _k(key, perturb, affects, **kw) -> Knob:
    perturb = (perturb,) if isinstance(perturb, str) else tuple(perturb)
    return Knob(key, perturb, frozenset(affects.split()), **kw)


def _policy(key, perturb, affects, **kw) -> Knob:
    kw.setdefault("no_effect", {"replay": _REPLAY_POLICY})
    return _k(key, perturb, affects, **kw)


_TIMING_ONLY = "latency"
_UNIT = "latency energy area"

#: Every leaf field of Design and Policy (dotted key as in ``--set``; policy keys start ``policy.``).
KNOBS: dict[str, Knob] = {k.key: k for k in [
    # ---------------------------------------------------------------- design
    _k("name", "name=other", "label"),
    _k("description", "description=other", "label"),
    _k("clock_ghz", "clock_ghz=2.0", "latency area",
       why="HBM bytes per cycle (and so the fetcher's width) and the read latency in cycles scale with the clock; "
           "dynamic energy per event does not (static energy scales with seconds)"),
    _k("datapath_bits", "datapath_bits=10", "latency dram energy area fidelity",
       why="Q/K/V are stored at the policy's (or the CSV's) bits, but a 6-bit plane is stored fused with its head "
           "pair's only when two fit the datapath (hbm.fuse_pairs: not at 10 bits), which moves the bus bytes and "
           "the fetch timing; SRAM words, multipliers and the probabilities fed to prob x V (fidelity) are at the "
           "datapath width"),
    _k("technology_nm", "technology_nm=28", "energy area"),
    _k("qk.multipliers", "qk.multipliers=256", _UNIT),
    _k("pv.multipliers", "pv.multipliers=256", _UNIT),
    _k("softmax.parallelism", ("softmax.parallelism=4", "softmax.fifo_depth=256"), _UNIT + " capacity",
       capacity=("sram.tiling=none", "softmax.parallelism=1", "softmax.fifo_depth=16")),
    # (the replay's rows of 993 scores need a FIFO of 128 x 8: the perturbation keeps it that large)
    _k("softmax.fifo_depth", "softmax.fifo_depth=256", "area capacity",
       capacity=("sram.tiling=none", "softmax.fifo_depth=1"),
       why="the FIFO holds a row's exponentials until its sum is known: a capacity, not a rate (a longer row "
           "runs two passes under sram.tiling = 'two-pass', tests/hwsim/spatten/test_tiling.py)"),
    *[_k(f"softmax.{f}", f"softmax.{f}=50", _TIMING_ONLY)
      for f in ("dequant_cycles", "exp_cycles", "accumulate_cycles", "divide_cycles", "quant_cycles")],
    _k("topk.engines", "topk.engines=1", "area",
       why="latency: a token/head selection needs the previous layer's importance, so it waits for all queued "
           "work and never contends with a local-V selection; one engine saves the second's area"),
    _k("topk.lanes", "topk.lanes=4", _UNIT),
    _k("topk.in_lanes", "topk.in_lanes=1", _UNIT),
    _k("topk.max_n", "topk.max_n=4096", "area energy capacity", capacity=("sram.tiling=none", "topk.max_n=16"),
       why="under sram.tiling = 'two-pass' a longer selection runs hierarchically; the limit left is k and n - k "
           "both >= max_n (tests/hwsim/spatten/test_tiling.py)"),
    _k("topk.width_bits", "topk.width_bits=16", "latency dram energy area fidelity",
       partial={"replay": frozenset({"dram"})},
       why="scores are quantized to the width before selection: ties and so the kept V vectors change; on a replay "
           "the pair's fused V vectors are whole granules, so which positions are kept no longer moves the bus bytes"),
    _k("topk.overlap", "topk.overlap=none", "latency",
       why="area: every overlap mode is modelled with the same buffers (the released RTL's data FIFO "
       "already holds two requests' streams)"),
    _k("sram.key_bytes", "sram.key_bytes=393216", "latency area energy capacity",
       capacity=("sram.tiling=none", "sram.key_bytes=1024"),
       partial={"encoder": frozenset({"latency"}), "decoder": frozenset({"latency"})},
       why="latency: generation fetches K ahead only as far as the SRAM holds it; the tiny traces never fill it"),
    _k("sram.value_bytes", "sram.value_bytes=393216", "area energy capacity",
       capacity=("sram.tiling=none", "sram.value_bytes=1024")),
    _k("sram.key_release", "sram.key_release=done", "latency", no_effect={
        "encoder": "the tiny encoder's groups never fill the key SRAM, so no fetch waits for its space",
        "decoder": "the tiny decoder's groups never fill the key SRAM, so no fetch waits for its space"},
       why="energy: static energy scales with seconds only; the dynamic events are the same"),
    _k("sram.tiling", "sram.tiling=none", "capacity", capacity=("sram.tiling=none", "sram.key_bytes=1024"),
       no_effect={"replay": "a SpAtten CSV replay runs untiled, as the authors' testbench: its rows must fit"},
       why="the tiny workloads fit one SRAM load, where both modes are identical (a test pins it); 'none' refuses "
           "what does not fit, 'two-pass' streams it (tests/hwsim/spatten/test_tiling.py)"),
    _k("sram.query_block", "sram.query_block=1", "latency dram energy",
       context=("sram.key_bytes=1024", "hbm.channels=1"),
       no_effect={"replay": "a SpAtten CSV replay is not tiled: its rows must fit the design, as in the authors' "
                            "testbench"},
       why="only where a group's K is streamed in tiles (the context: 5 keys per buffer, one HBM channel so that "
           "the re-reads show in the latency); each block re-reads K"),
    _k("hbm.channels", "hbm.channels=4", "latency energy area"),
    _k("hbm.channel_gbytes_per_s", "hbm.channel_gbytes_per_s=8.0", "latency energy area",
       why="the fetcher's datapath is as wide as the channels' bytes per cycle"),
    _k("hbm.interleave_bytes", "hbm.interleave_bytes=128", "latency dram energy"),
    _k("hbm.read_latency_ns", "hbm.read_latency_ns=400.0", "latency"),
    _k("hbm.fuse_pairs", "hbm.fuse_pairs=none", "latency dram energy",
       why="area: the fused layout uses the same buffers (the RTL's key and value buffers have a write port per "
           "fused head)"),
    _k("hbm.fetch", "hbm.fetch=store", "latency",
       why="dram and energy: the same transfers, only when their data is consumed changes"),
    _k("features.token_pruning", "features.token_pruning=false", "refuses",
       why="area: the importance accumulators and the token/head engine also serve head pruning"),
    _k("features.head_pruning", "features.head_pruning=false", "refuses",
       no_effect={"replay": "the authors' trace prunes no heads"},
       why="area: the importance accumulators and the token/head engine also serve token pruning"),
    _k("features.local_v_pruning", "features.local_v_pruning=false", "area refuses"),
    _k("features.progressive_quantization", "features.progressive_quantization=false", "area refuses"),
    # ------------------------------------------------------- linear engine (--full-model only)
    *[_k(f"linear.{key}", perturb, "linear", no_effect={"replay": _REPLAY_LINEAR}, why=why) for key, perturb, why in (
        ("engine", "linear.engine=dense", ""),
        ("rows", ("linear.engine=dense", "linear.rows=8"), "the systolic engines only; 'arrays' has no rows"),
        ("cols", ("linear.engine=dense", "linear.cols=8"), "the systolic engines only"),
        ("dataflow", ("linear.engine=dense", "linear.dataflow=ws"), "the systolic engines only"),
        ("weight_bits", "linear.weight_bits=12", ""),
        ("density", ("linear.engine=weight-sparse", "linear.density=0.25"), "the weight-sparse engine only"),
        ("nm_n", ("linear.engine=nm", "linear.nm_n=1"), "the nm engine only"),
        ("nm_m", ("linear.engine=nm", "linear.nm_n=1", "linear.nm_m=8"), "the nm engine only"),
    )],
    # ---------------------------------------------------------------- policy
    _policy("policy.name", "policy.name=other", "label"),
    _policy("policy.description", "policy.description=other", "label"),
    *[p for prefix, front, start in (("token_pruning", 0.5, 0.6), ("head_pruning", 0.8, 0.85)) for p in (
        _policy(f"policy.{prefix}.enabled", f"policy.{prefix}.enabled=false", "latency dram energy fidelity"),
        _policy(f"policy.{prefix}.schedule",
                (f"policy.{prefix}.schedule=explicit", f"policy.{prefix}.keep_per_layer=[1.0, 0.5, 0.5, 0.25]"),
                "latency dram energy fidelity"),
        _policy(f"policy.{prefix}.front_unpruned_fraction", f"policy.{prefix}.front_unpruned_fraction={front}",
                "latency dram energy fidelity",
                why="no effect when schedule = 'explicit' (documented on the field)"),
        _policy(f"policy.{prefix}.keep_start", f"policy.{prefix}.keep_start={start}", "latency dram energy fidelity",
                why="no effect when schedule = 'explicit' (documented on the field)"),
        _policy(f"policy.{prefix}.keep_end", f"policy.{prefix}.keep_end=0.25", "latency dram energy fidelity",
                why="no effect when schedule = 'explicit' (documented on the field)"),
        _policy(f"policy.{prefix}.keep_per_layer",
                (f"policy.{prefix}.schedule=explicit", f"policy.{prefix}.keep_per_layer=[1.0, 0.75, 0.5, 0.5]"),
                "latency dram energy fidelity", why="used only when schedule = 'explicit'"),
    )],
    _policy("policy.local_v.enabled", "policy.local_v.enabled=false", "latency dram energy fidelity"),
    _policy("policy.local_v.keep", "policy.local_v.keep=0.6", "latency dram energy fidelity"),
    _policy("policy.quantization.mode", "policy.quantization.mode=static", "latency dram energy fidelity"),
    _policy("policy.quantization.query_bits", "policy.quantization.query_bits=8", "latency dram energy fidelity"),
    _policy("policy.quantization.key_bits", "policy.quantization.key_bits=4", "latency dram energy fidelity"),
    _policy("policy.quantization.value_bits", "policy.quantization.value_bits=4", "latency dram energy fidelity",
            context=("hbm.channels=1", "hbm.channel_gbytes_per_s=8.0"),
            why="latency: streamed V fetches hide behind Q x K, softmax and top-k on the tiny traces at 16 channels; "
                "on one slow channel (8 GB/s) the V bytes are on the critical path"),
    _policy("policy.quantization.lsb_bits", "policy.quantization.lsb_bits=2", "latency dram energy fidelity",
            context=("policy.quantization.threshold=0.9",),
            why="dram: only rows that re-fetch their LSBs read the plane; the tiny traces need a high threshold"),
    _policy("policy.quantization.threshold", "policy.quantization.threshold=0.5", "latency dram energy fidelity"),
]}


def no_effect_reason(key: str, kind: str) -> str | None:
    """Why field ``key`` has no effect on a workload of ``kind`` (None when it has one)."""
    knob = KNOBS.get(key)
    if knob is None:
        return None
    return knob.no_effect.get(kind)
