"""Replay of a SpAtten workload CSV, the way the authors' own RTL simulation runs it.

Each CSV row is one query of one head at one generation iteration (docs/sources.md SpAtten §4.3,
``shared/data/spatten_workloads/README.md``): the kept K and V counts, the bit-widths, whether the
row re-fetched its LSBs, and token top-k events come from the file; nothing is decided here. What
the file does not say is made deterministic from the seed, as the authors' simulation does with
random data (their ``TestSpAtten`` feeds random queries and scores):

* which token positions survive: a seeded random subset of ``key_fetch_num`` of the
  ``sentence_length_L`` positions per (iteration, layer), shared by the layer's heads (token
  pruning is per layer); the V positions a seeded subset of those per head. Positions matter only
  for the 32-byte transaction count of the fetcher model;
* the scores the top-k engine selects on (local V: ``key_fetch_num`` scores keep
  ``value_fetch_num``; token events: ``sentence_length_L`` scores keep ``topk``): seeded uniform
  ``width``-bit integers through the golden top-k model, for its cycle count.

Bit-width -1 (the dense baseline file) means unquantized: the design's datapath width.
The timing is the generation pipeline of :mod:`hwsim.spatten.timing`; no fidelity is measured.

Two conventions (:data:`CONVENTIONS`):

* ``"hardware"`` (default): the accelerator as built. The local-V engine takes the golden
  engine's exact cycles (``design.topk.overlap``); a layer's Q x K waits for the previous layer's
  output, an iteration for the previous one, and a token selection (``if_topk``) runs on the
  token/head engine after everything before it.
* ``"authors"``: what the authors' testbench charges (``sim/TestSpAtten.scala`` at mit-han-lab/spatten
  HEAD e478682; docs/sources.md SpAtten §3.5). Their top-k is ``TopKDummy``: occupancy =
  ``TopKLatencyModel`` quick-select rounds (``ceil(m / P) + 3`` each, on random 31-bit scores) +
  one cycle per input beat (:func:`hwsim.units.topk.authors.dummy_occupancy_cycles`), and the
  rounds are 0 for the second of every two consecutive 6-bit rows (a fused head pair). The
  testbench streams the rows in file order and ignores ``layer_id``, ``if_topk`` and ``topk``: no
  layer or iteration waits for another, and token selections cost nothing. Bytes, positions,
  bits and the other units are the same under both.
"""

from __future__ import annotations

import numpy as np

from ..config import Design, Policy
from ..errors import HwsimError
from ..units.hbm import NO_FETCH, vector_bytes
from ..units.topk import golden as topk_golden
from ..units.topk.authors import authors_latency_cycles, dummy_occupancy_cycles
from .functional import HeadRows
from .result import SimResult, Tally
from .timing import Machine, RowWork, Timeline
from .units import SpattenUnits
from .workload import replay_columns

__all__ = ["simulate_replay", "CONVENTIONS"]

#: Replay conventions: the hardware as built, or the authors' testbench charges (module docstring).
CONVENTIONS = ("hardware", "authors")


class _ReplayShape:
    """The attributes of a replayed workload that the tally reads."""

    def __init__(self, wl, cols):
        self.name = wl.path.name
        self.digest = wl.digest
        self.mode = "decoder"
        self.layers = int(cols["layer"].max()) + 1
        self.heads = int(cols["head"].max()) + 1
        self.kv_heads = self.heads
        dims = np.unique(cols["D"])
        if dims.size != 1:
            raise HwsimError(f"{self.name}: rows with different embedding_length_D {dims.tolist()}; expected one")
        self.head_dim = int(dims[0])
        self.tokens = int(cols["L"].max())


def _bits(value: int, datapath: int) -> int:
    return datapath if value < 0 else int(value)


def _check_capacity(name: str, cols, units: SpattenUnits, design_name: str) -> None:
    """Raise HwsimError naming the design key when a row's data does not fit the design.

    A row holds its kept keys in one half of the key SRAM and its kept V vectors in one half of
    the value SRAM (double-buffered) at the datapath width, and its scores in the top-k engine and
    the softmax FIFO; a replay runs untiled (``sram.tiling`` applies to traces).
    """
    per_vec = units.sram_vector_bytes
    checks = (
        ("key_fetch", "kept keys", "sram.key_bytes", (units.key_sram_bytes // 2) // max(1, per_vec)),
        ("value_fetch", "kept V vectors", "sram.value_bytes", (units.value_sram_bytes // 2) // max(1, per_vec)),
        ("L", "scores", "topk.max_n", units.topk.max_n),
        ("key_fetch", "scores", "softmax.fifo_depth x softmax.parallelism", units.softmax.row_capacity),
    )
    for col, what, key, limit in checks:
        over = cols[col] > limit
        if over.any():
            i = int(np.argmax(over))
            need = int(cols[col][i])
            extra = f" ({need * per_vec} bytes; {key} / 2 holds {limit * per_vec})" if key.startswith("sram") else ""
            raise HwsimError(f"{name} line {int(cols['line'][i])}: {need} {what}{extra} exceed design "
                             f"{design_name!r}: {key} allows at most {limit} (a CSV replay runs untiled, as the authors' "
                             f"testbench; sram.tiling applies to traces)")


def _fused_pairs(cols, hbm) -> dict[tuple, tuple[bool, bool]]:
    """(iteration, layer, head) -> (K fused, V fused) for the rows of a K/V head pair stored fused.

    ``design.hbm.fuse_pairs``: heads 2i and 2i+1 of one (iteration, layer) whose K MSB (V) planes both
    fit half the datapath (:meth:`hwsim.units.hbm.HbmParams.fuses`); rows without such a partner are absent.
    """
    if hbm.fuse_pairs == "none":
        return {}
    bits = {}
    for it, layer, head, kb, vb in zip(cols["iteration"], cols["layer"], cols["head"], cols["key_bits"],
                                       cols["value_bits"]):
        bits[(int(it), int(layer), int(head))] = (hbm.fuses(int(kb)), hbm.fuses(int(vb), "v"))
    out = {}
    for (it, layer, head), (k, v) in bits.items():
        other = bits.get((it, layer, head ^ 1))
        if other is not None and ((k and other[0]) or (v and other[1])):
            out[(it, layer, head)] = (k and other[0], v and other[1])
    return out


def simulate_replay(wl, design: Design, *, seed: int = 0, progress: bool = False,
                    log_events: bool = False, conventions: str = "hardware") -> SimResult:
    """Replay workload ``wl`` (from :func:`workloads.spatten_csv.load`) on ``design`` under ``conventions``."""
    if conventions not in CONVENTIONS:
        raise HwsimError(f"conventions must be one of {', '.join(CONVENTIONS)}, not {conventions!r}")
    authors = conventions == "authors"
    cols = replay_columns(wl)
    shape = _ReplayShape(wl, cols)
    name = shape.name
    width = design.datapath_bits
    d = shape.head_dim
    units = SpattenUnits.from_design(design, d, seed=seed)
    machine = Machine(units)
    for col in ("key_bits", "value_bits", "query_bits"):
        bits = cols[col]
        # the query is held in registers (SpAtten Table "Architectural Setups"): any whole-byte width
        too_wide = (bits > width) if col != "query_bits" else np.zeros_like(bits, bool)
        bad = too_wide | ((bits >= 0) & ((bits * d) % 8 != 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise HwsimError(
                f"{name} line {int(cols['line'][i])}: {col} = {int(bits[i])}: design {design.name!r} takes at "
                f"most datapath_bits ({width}) and whole bytes per vector"
            )
    lsb_ok = (cols["requant"] == 0) | (cols["key_bits"] + cols["lsb_bits"] <= width)
    if not lsb_ok.all():
        i = int(np.argmin(lsb_ok))
        raise HwsimError(f"{name} line {int(cols['line'][i])}: key_bits + auto_requant_incre = "
                         f"{int(cols['key_bits'][i] + cols['lsb_bits'][i])} exceeds datapath_bits ({width})")
    needs = (
        ("re-fetch LSBs", cols["requant"] != 0, "progressive_quantization"),
        ("prune V locally", cols["value_fetch"] < cols["key_fetch"], "local_v_pruning"),
        ("prune tokens", (cols["key_fetch"] < cols["L"]) | (cols["topk"] > 0), "token_pruning"),
    )
    for what, rows, feature in needs:
        if rows.any() and not getattr(design.features, feature):
            i = int(np.argmax(rows))
            raise HwsimError(f"{name} line {int(cols['line'][i])}: rows {what} but design {design.name!r} sets "
                             f"features.{feature} = false")
    _check_capacity(name, cols, units, design.name)

    policy = Policy(name="replay", description=f"decisions replayed from {name}")
    tally = Tally(shape, design, policy, units.quant, conventions=conventions)
    timeline = Timeline(machine, log_events=log_events)
    rng_pos = np.random.default_rng(seed)
    engine = units.topk
    lanes, in_lanes, w = engine.lanes, engine.in_lanes, engine.width
    order = np.lexsort((cols["head"], cols["layer"], cols["iteration"]))
    pairs = _fused_pairs(cols, units.hbm)
    pair_state: dict[tuple, bool] = {}  # (iteration, layer, even head) of the fused pairs whose first row came
    key_sets: dict[tuple[int, int], np.ndarray] = {}
    dense_flops = 0
    rows: list[RowWork] = []
    current = None
    layer_done = None
    pair_part = 0  # authors: position of this 6-bit row in its fused pair (TestSpAtten's batch_part_id)
    from tqdm import tqdm

    for i in tqdm(order, desc=f"replaying {name}", unit="row", disable=not progress, leave=False):
        it, layer, head = int(cols["iteration"][i]), int(cols["layer"][i]), int(cols["head"][i])
        L, kf, vf = int(cols["L"][i]), int(cols["key_fetch"][i]), int(cols["value_fetch"][i])
        if (it, layer) != current:
            if rows:
                layer_done = timeline.generate(rows, after=layer_done)
                tally.clock.mark_when(layer_done, current[1], "generation")
                rows = []
            if authors:
                layer_done = None  # the testbench streams rows with no layer-to-layer dependency
            elif current is not None and it != current[0]:
                timeline.drain()  # the next iteration's token comes out of this one
                layer_done = None
            current = (it, layer)
        kbits, vbits, qbits = (_bits(int(cols[n][i]), width) for n in ("key_bits", "value_bits", "query_bits"))
        requant = bool(cols["requant"][i])
        lsb_bits = int(cols["lsb_bits"][i]) if requant else 0
        pos = key_sets.get((it, layer))
        if pos is None or pos.size != kf:
            pos = np.sort(rng_pos.choice(L, size=kf, replace=False))
            key_sets[(it, layer)] = pos
        k_fetch = machine.fetch(pos, vector_bytes(d, kbits))
        q_fetch = machine.fetch(np.array([L - 1]), vector_bytes(d, qbits))
        lsb = machine.fetch(pos, vector_bytes(d, lsb_bits)) if requant else None
        topk_cycles = topk_fill = topk_filter = 0
        if vf < kf:
            scores = np.random.default_rng([seed, it, layer, head]).integers(0, 1 << w, size=(1, kf))
            sel, detail = topk_golden.select_batch_detail(scores, np.array([vf]), lanes=lanes, seed=engine.seed,
                                                          in_lanes=in_lanes)
            topk_cycles, topk_fill = int(detail["cycles"][0]), int(detail["fill_cycles"][0])
            topk_filter = int(detail["filter_cycles"][0])
            v_pos = pos[sel[0]]
        else:
            v_pos = pos
        if authors:
            second = cols["key_bits"][i] == 6 and pair_part % 2 == 1
            pair_part = pair_part + 1 if cols["key_bits"][i] == 6 else 0
            if vf < kf:  # the controller skips the top-k when every V is kept
                rounds = 0 if second else authors_latency_cycles(
                    kf, vf, lanes, np.random.default_rng([seed, it, layer, head, 2]))
                topk_cycles = dummy_occupancy_cycles(kf, rounds, beat=in_lanes)
                topk_fill, topk_filter = -(-kf // in_lanes), 0
        v_fetch = machine.fetch(v_pos, vector_bytes(d, vbits))
        group = (it, layer, head)
        keys = kf
        fused = pairs.get(group)
        if fused is not None:  # design.hbm.fuse_pairs: the pair's first row moves the fused K and V (its selection)
            group, keys = (it, layer, head & ~1), 2 * kf  # one fetch group holding both heads' K lines
            first = group not in pair_state
            pair_state[group] = True
            if fused[0]:
                k_fetch = (machine.fetch(pos, 2 * vector_bytes(d, kbits)) if first else NO_FETCH).asked(
                    k_fetch.payload_bytes)
            if fused[1]:  # as the controller's stageFetchValMat: part 0's selection only
                v_fetch = (machine.fetch(v_pos, 2 * vector_bytes(d, vbits)) if first else NO_FETCH).asked(
                    v_fetch.payload_bytes)
        hr = HeadRows(head, np.array([kf]), np.array([requant]), np.array([vf]), np.array([topk_cycles]),
                      np.array([topk_fill]), np.array([topk_filter]), 0.0, v_pos)
        service, _, _ = machine.row_services(hr, 0, overlap="none" if authors else None)
        rows.append(RowWork.from_service(it, layer, head, group, service[:, 0], requant=requant,
                                         fetch=k_fetch.busy + q_fetch.busy, lsb_fetch=lsb.busy if lsb else 0,
                                         topk_fill=topk_fill, v_fetch=v_fetch.busy, keys=keys, lsb_group=head,
                                         topk_emit=-(-kf // in_lanes) if authors else topk_filter))
        tally.counts.rows(layer, hr, service)
        tally.counts.fetches(layer, head, q=(q_fetch, 1), k=k_fetch, v=v_fetch, lsb=lsb)
        tally.stats.replayed_row(layer, kf / L, vf / max(kf, 1), dense_vectors=1 + 2 * L)
        dense_flops += 4 * d * L
        if cols["topk"][i] > 0 and not authors:
            if rows:
                tally.clock.mark_when(timeline.generate(rows, after=layer_done), layer, "generation")
            rows = []
            layer_done = None
            k = int(cols["topk"][i])
            if not 1 <= k <= L:
                raise HwsimError(f"{name} line {int(cols['line'][i])}: topk = {k}; expected 1 to {L}")
            scores = np.random.default_rng([seed, it, layer, 1 << 20]).integers(0, 1 << w, size=L)
            _, cyc = topk_golden.select(scores, k, lanes=lanes, seed=engine.seed, in_lanes=in_lanes)
            timeline.select(int(cyc), it, layer, "token")
            tally.counts.selection(int(cyc))
    if rows:
        tally.clock.mark_when(timeline.generate(rows, after=layer_done), current[1], "generation")
    timeline.drain()
    tally.stage_end("generation", timeline.now)
    tally.dense_flops_override = dense_flops
    return tally.result(timeline, seed=seed)
