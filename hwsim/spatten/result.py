"""What a SpAtten simulation reports: ``SimResult``, and the tally that builds it while it runs.

Every number carries its unit in its name. Bytes are HBM bus bytes (32-byte transactions, what the
DRAM moves and what costs energy) unless named ``payload`` (what the algorithm asked for).
FLOPs count a multiply and an add as two operations, Q x K and prob x V only (as the paper's
TFLOPS figures do, docs/sources.md SpAtten §6.4): ``flops`` are those actually executed
(including LSB recomputes), ``dense_flops`` those of dense attention on the same workload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cost_models.area import area_mm2
from cost_models.energy import energy_pj, power_w

from ..config import Design, Policy
from ..outputs import provenance
from .timing import STAGE_UNITS, on_done

__all__ = ["SimResult", "Tally", "Counts", "LayerStats", "Clock", "UNITS", "KINDS", "HEAD_FIELDS"]

#: Units a head can be bound by (the stall breakdown).
UNITS = ("hbm", "qk", "softmax", "pq", "topk", "pv")
#: DRAM traffic kinds.
KINDS = ("q", "k_msb", "k_lsb", "v")


@dataclass
class SimResult:
    """The outcome of :func:`hwsim.simulate`: totals, per-layer and per-head tables, provenance."""

    summary: dict[str, Any]
    layers: list[dict[str, Any]]
    heads: list[dict[str, Any]]
    events: list[tuple] = field(default_factory=list)
    #: In memory only (not in JSON): ``"summarization"``: per layer, (kept token positions, heads-kept mask).
    decisions: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, key: str):
        return self.summary[key]

    def to_json(self) -> dict:
        """The JSON document ``hwsim simulate --json`` writes."""
        return {**self.summary, "layers": self.layers}

    def to_dataframe(self, table: str = "layers"):
        """The per-layer (``"layers"``) or per-layer x head (``"heads"``) table as a pandas DataFrame."""
        import pandas as pd  # lazy: pandas costs ~0.3 s to import and only this method needs it

        rows = {"layers": self.layers, "heads": self.heads}.get(table)
        if rows is None:
            raise ValueError(f"table must be 'layers' or 'heads', not {table!r}")
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        s = self.summary
        return (f"SimResult(workload={s['workload']!r}, design={s['design']!r}, policy={s['policy']!r}, "
                f"latency_cycles={s['latency_cycles']}, dram_bytes={s['dram_bytes']}, "
                f"layers={len(self.layers)}, heads={len(self.heads)}, events={len(self.events)})")


#: The per-(layer, head) counters, in the order the per-head table shows them (every one an integer).
HEAD_FIELDS = ("query_rows", "keys_attended_tokens", "values_used_vectors", "requant_rows",
               *(f"{u}_busy_cycles" for u in UNITS), *(f"dram_{k}_bytes" for k in KINDS))
_FIELD = {name: i for i, name in enumerate(HEAD_FIELDS)}
#: what rows_many counts, the first fields in order: rows, keys, values, requant rows, each unit's busy cycles
_N_ROW_FIELDS = 4 + len(UNITS)
#: [unit, stage] 0/1: which row-pipeline stages (:data:`STAGE_UNITS`) each unit's busy cycles add up
_STAGE_TO_UNIT = np.array([[int(su == u) for su in STAGE_UNITS] for u in UNITS], np.int64)
_ROW_FIELDS = np.arange(_N_ROW_FIELDS)
_HBM = _FIELD["hbm_busy_cycles"]
_FETCH_FIELDS = np.array([_FIELD[f"dram_{k}_bytes"] for k in KINDS] + [_HBM], np.int64)  # what fetch_rows adds to


class Counts:
    """Event counts of a run: per (layer, head) rows, keys, values and busy cycles; DRAM bytes by kind;
    the energy events and FLOPs (what :func:`cost_models.energy.energy_pj` prices).

    Each counting call logs what it adds to the per-head counters (:data:`HEAD_FIELDS`) as one int64
    array, so a generation layer's rows cost a few array operations; :attr:`per_head` adds the log
    up when it is read (integers: any order gives the same sums) and returns the table's dicts.
    """

    def __init__(self, head_dim: int, design: Design, plan, heads: int):
        self.design, self.plan = design, plan
        self.d = head_dim
        self.n_heads = heads
        self._width_bytes = design.datapath_bits / 8
        #: bits of one element of each kind's vectors (the LSB plane: at least 1, for a plan without one)
        self._kind_bits = {"q": plan.query_bits, "k_msb": plan.key_bits, "k_lsb": max(1, plan.key_lsb_bits),
                           "v": plan.value_bits}
        #: what each call added to the per-head counters: (layer, heads [r], fields [f], additions [r, f]),
        #: added up when :attr:`per_head` is read (integers: any order gives the same sums)
        self._log: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.bytes = {k: 0 for k in KINDS}
        self.payload = {k: 0 for k in KINDS}
        self.events = {k: 0.0 for k in (
            "qk_mults", "qk_adds", "pv_mults", "pv_adds", "softmax_elements", "pq_compares",
            "topk_compare_cycles", "key_sram_write_bytes", "key_sram_read_bytes", "value_sram_write_bytes",
            "value_sram_read_bytes", "fifo_bytes", "hbm_read_bytes", "importance_adds")}
        self.flops = 0
        self.rows_total = 0
        self.requant_total = 0
        self.two_pass_total = 0  # rows that ran a statistics pass (longer than the FIFO or a key buffer)
        self.keys_total = 0
        self.values_total = 0
        self.selection_cycles = 0

    @property
    def per_head(self) -> dict[tuple[int, int], dict[str, int]]:
        """``{(layer, head): {counter: value}}`` for every (layer, head) counted, in (layer, head) order."""
        if not self._log:
            return {}
        n_layers = max(entry[0] for entry in self._log) + 1
        acc = np.zeros((n_layers * self.n_heads, len(HEAD_FIELDS)), np.int64)
        touched = np.zeros(n_layers * self.n_heads, bool)
        for layer, heads, fields, add in self._log:
            at = layer * self.n_heads + heads
            np.add.at(acc, (at[:, None], fields[None, :]), add)
            touched[at] = True
        return {divmod(i, self.n_heads): dict(zip(HEAD_FIELDS, acc[i].tolist())) for i in np.flatnonzero(touched).tolist()}

    def rows(self, layer: int, hr, service: np.ndarray) -> None:
        """Count one head's rows (functional results and their stage services)."""
        self.rows_many(layer, [hr], service)

    def rows_many(self, layer: int, heads: list, service: np.ndarray, stacked=None) -> None:
        """Count the rows of several heads of one layer at once.

        ``service`` is [stage, rows] for the heads' rows in order (``stacked``: the heads'
        :meth:`~hwsim.spatten.functional.HeadRows.stack`, when the caller has it). Every count is
        an integer (or a multiple of 1/8 byte), so summing a layer at once equals summing head by head.
        """
        if stacked is None:
            stacked = heads[0] if len(heads) == 1 else type(heads[0]).stack(heads)
        sizes = np.array([hr.n_keys.size for hr in heads])
        n_keys_row = np.asarray(stacked.n_keys, np.int64)
        requant = np.asarray(stacked.requant, bool)
        n_vals_row = np.asarray(stacked.n_values, np.int64)
        # [rows, _N_ROW_FIELDS] of what each row adds to its head: 1 row (n_keys >= 0 is always true), keys,
        # values, requant, then each unit's busy cycles (its stages summed by an integer product: exact)
        add = np.concatenate([np.array([n_keys_row >= 0, n_keys_row, n_vals_row, requant], np.int64),
                              _STAGE_TO_UNIT @ np.asarray(service, np.int64)]).T
        idx = np.array([hr.head for hr in heads], np.int64)
        if not (sizes.size and (sizes == 1).all()):  # several rows per head (summarization): summed per head first
            per = np.zeros((len(heads), add.shape[1]), np.int64)
            np.add.at(per, np.repeat(np.arange(len(heads)), sizes), add)
            add = per
        self._log.append((layer, idx, _ROW_FIELDS, add))
        rows = int(sizes.sum())
        n_keys, n_vals, n_requant = int(n_keys_row.sum()), int(n_vals_row.sum()), int(requant.sum())
        computed = int((n_keys_row * stacked.row_passes()).sum())  # every pass of Q x K and softmax
        d = self.d
        self.flops += 2 * d * computed + 2 * d * n_vals
        self.rows_total += rows
        self.requant_total += n_requant
        if stacked.passes is not None:  # tiled rows (hwsim.units.tiling): passes = 2 + requant
            self.two_pass_total += int((stacked.passes - requant > 1).sum())
        self.keys_total += n_keys
        self.values_total += n_vals
        width_bytes = self._width_bytes
        e = self.events
        e["qk_mults"] += d * computed
        e["qk_adds"] += d * computed
        e["pv_mults"] += d * n_vals
        e["pv_adds"] += d * n_vals
        e["softmax_elements"] += computed
        e["pq_compares"] += computed if self.plan.progressive else 0
        e["topk_compare_cycles"] += int(np.asarray(stacked.topk_cycles, np.int64).sum())
        e["key_sram_read_bytes"] += computed * d * width_bytes
        e["value_sram_read_bytes"] += n_vals * d * width_bytes
        e["importance_adds"] += computed + d * rows  # token scores per key; head |out| per row

    def fetches(self, layer: int, head: int, *, q, k, v, lsb) -> None:
        """Count a group's (or row's) HBM transfers (:class:`~hwsim.units.hbm.Fetch`, or None); charged to ``head``.

        ``q`` is (the transfer, how many times).
        """
        q_fetch, q_count = q
        kinds = {}
        for kind, f, times in (("q", q_fetch, q_count), ("k_msb", k, 1), ("v", v, 1), ("k_lsb", lsb, 1)):
            if f is not None:
                kinds[kind] = ([f.busy * times], [f.bus_bytes * times], [f.payload_bytes * times])
        self.fetch_rows(layer, [head], kinds)

    def fetch_rows(self, layer: int, heads: list[int], kinds: dict) -> None:
        """Count the HBM transfers of several rows of one layer, each charged to its head (``heads``).

        ``kinds`` maps a kind (:data:`KINDS`) to (busy cycles, bus bytes, payload bytes), one int per
        row in ``heads`` order (0s where a row moved none); a kind absent moved nothing.
        """
        width_bytes, e, d = self._width_bytes, self.events, self.d
        zero = [0] * len(heads)
        # [rows, dram bytes of each kind (KINDS order) + HBM busy cycles]
        cols = [kinds[k][1] if k in kinds else zero for k in KINDS]
        cols.append([sum(b) for b in zip(*(kinds[k][0] for k in kinds))] if kinds else zero)
        self._log.append((layer, np.asarray(heads, np.int64), _FETCH_FIELDS, np.array(cols, np.int64).T))
        for kind in ("q", "k_msb", "v", "k_lsb"):  # the order the events were always added in
            got = kinds.get(kind)
            if got is None:
                continue
            _, bus, payload = got
            bus_sum, payload_sum = sum(bus), sum(payload)
            self.bytes[kind] += bus_sum
            self.payload[kind] += payload_sum
            e["hbm_read_bytes"] += bus_sum
            e["fifo_bytes"] += bus_sum
            vectors = payload_sum * 8 / max(1, d * self._kind_bits[kind])
            if kind == "v":
                e["value_sram_write_bytes"] += vectors * d * width_bytes
            elif kind != "q":
                e["key_sram_write_bytes"] += vectors * d * width_bytes

    def selection(self, cycles: int) -> None:
        """Count a token or head selection on the top-k engine."""
        self.selection_cycles += cycles
        self.events["topk_compare_cycles"] += cycles



class LayerStats:
    """Per layer: passes, kept fractions, the dense baseline's vectors and the fidelity sums of the sampled rows."""

    def __init__(self, trace):
        self.trace = trace
        self.per_layer: dict[int, dict[str, float]] = {}

    def _layer(self, layer: int) -> dict:
        return self.per_layer.setdefault(layer, {
            "passes": 0, "token_keep_sum": 0.0, "head_keep_sum": 0.0, "err_sq": 0.0, "ref_sq": 0.0,
            "mass": 0.0, "sampled": 0})

    def layer(self, layer: int, res, tokens_alive: int, heads_alive: int, tokens_total: int, heads_total: int,
              generation: bool = False) -> None:
        """Count one layer pass (summarization) or one generation step of a layer."""
        L = self._layer(layer)
        L["passes"] += 1
        L["token_keep_sum"] += tokens_alive / tokens_total
        L["head_keep_sum"] += heads_alive / heads_total
        # dense attention fetches Q of every head and K, V of every KV head for every token (per step)
        kv = self.trace.kv_heads
        L["dense_vectors"] = L.get("dense_vectors", 0) + (
            heads_total + 2 * kv * tokens_total if generation else tokens_total * (heads_total + 2 * kv))
        L["err_sq"] += res.err_sq
        L["ref_sq"] += res.ref_sq
        L["mass"] += res.mass_kept
        L["sampled"] += res.sampled_rows

    def replayed_row(self, layer: int, token_keep: float, value_keep: float, dense_vectors: int = 0) -> None:
        """Count one replayed row's kept fractions (replay measures no fidelity) and its dense Q/K/V vectors."""
        L = self._layer(layer)
        L["passes"] += 1
        L["token_keep_sum"] += token_keep
        L["head_keep_sum"] += 1.0
        L["dense_vectors"] = L.get("dense_vectors", 0) + dense_vectors

    def sampled_rows(self) -> int:
        """Query rows compared with dense attention (a pruned head's row counts: its output is zero)."""
        return int(sum(L["sampled"] for L in self.per_layer.values()))

    def fidelity(self) -> tuple[float | None, float | None]:
        """(attention error relative to dense, kept probability mass) over every sampled row; None without samples."""
        err = sum(L["err_sq"] for L in self.per_layer.values())
        ref = sum(L["ref_sq"] for L in self.per_layer.values())
        sampled = sum(L["sampled"] for L in self.per_layer.values())
        mass = sum(L["mass"] for L in self.per_layer.values())
        return (math.sqrt(err / ref) if ref else None), (mass / sampled if sampled else None)


class Clock:
    """Latency per (layer, stage) from completion marks, and cycles and FLOPs per stage."""

    def __init__(self):
        self.latency: dict[tuple[int, str], int] = {}  # (layer, stage) -> cycles, from mark()
        self._mark = 0
        self.stage_cycles: dict[str, int] = {}
        self.stage_flops: dict[str, int] = {}
        self._last_end = 0
        self._last_flops = 0

    def mark(self, layer: int, stage: str, now: int) -> None:
        """Charge the cycles since the previous mark to ``layer`` in ``stage``; call as each layer completes."""
        self.latency[(layer, stage)] = self.latency.get((layer, stage), 0) + max(0, int(now) - self._mark)
        self._mark = max(self._mark, int(now))

    def mark_when(self, event, layer: int, stage: str) -> None:
        """Call :meth:`mark` when ``event`` (a layer's completion, :meth:`Timeline.generate`'s result) fires."""
        on_done(event, lambda now: self.mark(layer, stage, now))

    def stage_end(self, name: str, now: int, flops: int) -> None:
        """Record the cycles a stage (summarization, generation) took and the FLOPs executed so far (``flops``)."""
        self.stage_cycles[name] = now - self._last_end
        self._last_end = now
        self.stage_flops[name] = flops - self._last_flops
        self._last_flops = flops


class Tally:
    """What :func:`simulate` and the replay record as they run: ``counts`` (:class:`Counts`), ``stats``
    (:class:`LayerStats`) and ``clock`` (:class:`Clock`); :meth:`result` assembles the SimResult."""

    def __init__(self, trace, design: Design, policy: Policy, plan, conventions: str = "hardware"):
        self.trace, self.design, self.policy, self.plan = trace, design, policy, plan
        self.conventions = conventions
        self.d = trace.head_dim
        self.counts = Counts(trace.head_dim, design, plan, trace.heads)
        self.stats = LayerStats(trace)
        self.clock = Clock()
        self.dense_flops_override: int | None = None  # replay: dense FLOPs of the file's rows

    def stage_end(self, name: str, now: int) -> None:
        """End a stage on the clock (its cycles and FLOPs)."""
        self.clock.stage_end(name, now, self.counts.flops)

    # ------------------------------------------------------------------ result
    def dense_flops(self) -> int:
        """Q x K + prob x V FLOPs of dense attention on this workload (causal for decoders)."""
        if self.dense_flops_override is not None:
            return self.dense_flops_override
        t = self.trace
        per = 4 * self.d * t.heads * t.layers
        if t.mode == "decoder":
            keys = sum(range(1, t.tokens + 1))
        else:
            keys = t.tokens * t.tokens
        return per * keys

    def result(self, timeline, *, seed: int) -> SimResult:
        """Assemble the SimResult (energy and area from :mod:`cost_models`)."""
        design = self.design
        cycles = timeline.now
        seconds = cycles / (design.clock_ghz * 1e9)
        c, stats, clock = self.counts, self.stats, self.clock
        energy = energy_pj(c.events, design, seconds=seconds)
        area = area_mm2(design)
        heads = []
        bound_counts = {u: 0 for u in UNITS}
        for (layer, head), h in sorted(c.per_head.items()):
            busy = {u: h[f"{u}_busy_cycles"] for u in UNITS}
            bound = max(UNITS, key=lambda u: busy[u])
            bound_counts[bound] += 1
            heads.append({"layer": layer, "head": head, "kv_head": head // (self.trace.heads // self.trace.kv_heads),
                          **h, "bound_by": bound})
        layers = []
        for layer, L in sorted(stats.per_layer.items()):
            busy_by_unit = {u: 0 for u in UNITS}
            mine = [h for h in heads if h["layer"] == layer]
            for h in mine:
                busy_by_unit[h["bound_by"]] += h[f"{h['bound_by']}_busy_cycles"]
            lat = {st: clock.latency.get((layer, st), 0) for st in ("summarization", "generation")}
            keys = sum(h["keys_attended_tokens"] for h in mine)
            layers.append({
                "layer": layer,
                "tokens_kept_fraction": L["token_keep_sum"] / L["passes"],
                "heads_kept_fraction": L["head_keep_sum"] / L["passes"],
                "attention_rel_error_ratio": math.sqrt(L["err_sq"] / L["ref_sq"]) if L["ref_sq"] else None,
                "prob_mass_kept_fraction": L["mass"] / L["sampled"] if L["sampled"] else None,
                **{f"bound_{u}_cycles": busy_by_unit[u] for u in UNITS},
                "latency_cycles": sum(lat.values()),
                **{f"{st}_latency_cycles": c for st, c in lat.items()},
                **{f"{u}_busy_cycles": sum(h[f"{u}_busy_cycles"] for h in mine) for u in UNITS},
                **{f"dram_{k}_bytes": sum(h[f"dram_{k}_bytes"] for h in mine) for k in KINDS},
                "values_kept_fraction": sum(h["values_used_vectors"] for h in mine) / keys if keys else 1.0,
                **{f"dense_{b}_dram_bytes": L.get("dense_vectors", 0) * self.d * bits // 8
                   for b, bits in (("12bit", 12), ("fp32", 32))},
            })
        error, mass_kept = stats.fidelity()
        t = self.trace
        summary = {
            "workload": t.name,
            "design": design.name,
            "policy": self.policy.name,
            "mode": t.mode,
            "conventions": self.conventions,
            "latency_cycles": cycles,
            "latency_s": seconds,
            "stage_cycles": dict(clock.stage_cycles),
            "dram_bytes": sum(c.bytes.values()),
            "dram_bytes_by_kind": dict(c.bytes),
            "dram_payload_bytes": sum(c.payload.values()),
            "dram_payload_bytes_by_kind": dict(c.payload),
            "flops": c.flops,
            "stage_flops": dict(clock.stage_flops),
            "dense_flops": self.dense_flops(),
            "effective_tflops": c.flops / seconds / 1e12 if seconds else 0.0,
            "energy_pj": energy,
            "power_w": power_w(energy, seconds) if seconds else {},
            "area_mm2": area,
            "query_rows": c.rows_total,
            "lsb_refetch_fraction": c.requant_total / c.rows_total if c.rows_total else 0.0,
            "two_pass_fraction": c.two_pass_total / c.rows_total if c.rows_total else 0.0,
            "tokens_kept_fraction": float(np.mean([r["tokens_kept_fraction"] for r in layers])) if layers else 1.0,
            "heads_kept_fraction": float(np.mean([r["heads_kept_fraction"] for r in layers])) if layers else 1.0,
            "values_kept_fraction": c.values_total / c.keys_total if c.keys_total else 1.0,
            "selection_cycles": c.selection_cycles,
            "attention_rel_error_ratio": error,
            "prob_mass_kept_fraction": mass_kept,
            "fidelity_sampled_rows": stats.sampled_rows(),
            "bound_by_heads": bound_counts,
            "explain": _explain(timeline, bound_counts),
            "events": {k: float(v) for k, v in c.events.items()},
            "provenance": provenance(configs={"design": design, "policy": self.policy}, seed=seed,
                                     inputs={"workload": t.digest}),
        }
        return SimResult(summary, layers, heads, list(timeline.log))




def _explain(timeline, bound_counts: dict) -> dict:
    """The timeline's stall accounting (:mod:`hwsim.spatten.explain`) with the heads each unit bounds."""
    explain = timeline.explain()
    for unit, row in explain["units"].items():
        row["bound_heads"] = bound_counts.get(unit)
    return explain
