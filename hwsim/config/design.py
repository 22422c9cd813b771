"""The hardware of a SpAtten-style accelerator as one frozen, validated object.

Defaults are the paper's full design (SpAtten, Wang et al., HPCA 2021, Table "Architectural Setups",
summarised in `docs/sources.md (SpAtten)` §2.2). Presets (``spatten``, ``spatten-eighth``,
``dense``) are TOML files in ``hwsim/config/presets/designs`` that override some of these defaults.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import Config, Expected, between, int_between, power_of_two

__all__ = ["Design", "QKArray", "PVArray", "Softmax", "TopK", "Sram", "Hbm", "Features", "Linear"]


class QKArray(Config):
    """The Q x K broadcast-multiply-reduce array (module 7 of the paper's Fig. 8)."""

    multipliers: Annotated[int, power_of_two(1, 8192)] = Field(
        512,
        description="12-bit multipliers in the array (count); keys/cycle = multipliers / head_dim. "
        "Source: SpAtten Table 'Architectural Setups' (512), docs/sources.md SpAtten §2.2.",
    )


class PVArray(Config):
    """The attention_prob x V array (module 11)."""

    multipliers: Annotated[int, power_of_two(1, 8192)] = Field(
        512,
        description="12-bit multipliers in the array (count); V vectors/cycle = multipliers / head_dim. "
        "Source: SpAtten Table 'Architectural Setups' (512), docs/sources.md SpAtten §2.2.",
    )


class Softmax(Config):
    """The floating-point softmax unit (module 8) and its pipeline depths."""

    parallelism: Annotated[int, power_of_two(1, 64)] = Field(
        8, description="Probabilities produced per cycle (count). Source: SpAtten Table 'Architectural Setups' (8)."
    )
    fifo_depth: Annotated[int, int_between(1, 65536)] = Field(
        128, description="Input FIFO depth (entries). Source: SpAtten Table 'Architectural Setups' (128)."
    )
    dequant_cycles: Annotated[int, int_between(0, 1000)] = Field(
        7, description="Dequantisation stage latency (cycles). Source: authors' bert.cpp model, docs/sources.md SpAtten §7.1."
    )
    exp_cycles: Annotated[int, int_between(0, 1000)] = Field(
        21, description="Exponent stage latency (cycles). Source: authors' bert.cpp model, docs/sources.md SpAtten §7.1."
    )
    accumulate_cycles: Annotated[int, int_between(0, 1000)] = Field(
        23, description="Accumulation stage latency (cycles). Source: authors' bert.cpp model, docs/sources.md SpAtten §7.1."
    )
    divide_cycles: Annotated[int, int_between(0, 1000)] = Field(
        29, description="Division stage latency (cycles). Source: authors' bert.cpp model, docs/sources.md SpAtten §7.1."
    )
    quant_cycles: Annotated[int, int_between(0, 1000)] = Field(
        7, description="Re-quantisation stage latency (cycles). Source: authors' bert.cpp model, docs/sources.md SpAtten §7.1."
    )

    @property
    def latency_cycles(self) -> int:
        """Pipeline depth of one softmax row (cycles): the sum of the stage latencies."""
        return (
            self.dequant_cycles + self.exp_cycles + self.accumulate_cycles + self.divide_cycles + self.quant_cycles
        )


class TopK(Config):
    """The quick-select top-k engines (modules 2 and 10)."""

    engines: Annotated[int, int_between(1, 2)] = Field(
        2,
        description="Top-k engines (count): 2 = one shared by token and head pruning plus one for local V; "
        "1 = all selections share one engine. Source: SpAtten Table 'Architectural Setups' (2).",
    )
    lanes: Annotated[int, power_of_two(1, 64)] = Field(
        16,
        description="Comparators per comparator array = elements partitioned per cycle (count). "
        "Source: SpAtten Table 'Architectural Setups' (16), docs/sources.md SpAtten §3.1.",
    )
    in_lanes: Annotated[int, power_of_two(1, 64)] = Field(
        8,
        description="Scores accepted per cycle on the input stream (count) = Q x K output rate 512/64; the fill "
        "takes ceil(n / in_lanes) cycles at any lane count (with in_lanes > lanes the stream and FIFO_L buffers are "
        "in_lanes wide, so a 1-lane engine keeps the 8-score input). "
        "Source: released RTL TopK.scala parallelism and data_fifo, docs/sources.md SpAtten §3.3.",
    )
    max_n: Annotated[int, int_between(1, 1 << 22)] = Field(
        1024,
        description="Largest selection (elements): FIFO_L, FIFO_R and the original-stream buffer each hold "
        "max_n scores = 64 rows of 16 in the paper (FIFO depth 64, SpAtten Table 'Architectural Setups'); "
        "kept in elements so that changing lanes keeps the capacity.",
    )
    width_bits: Annotated[int, int_between(2, 32)] = Field(
        12, description="Score width (bits). Source: 12-bit datapath, SpAtten Table 'Architectural Setups'."
    )
    overlap: Literal["none", "filter", "full"] = Field(
        "filter",
        description="How consecutive requests share an engine. 'filter' (the hardware as built): fill and "
        "quick-select one after the other, the filter (output) pass of one request overlapping the fill of "
        "the next; source: mit-han-lab/spatten spatten_hardware/hardware/src/main/scala/spatten/utils/"
        "QuickSelect.scala:147,164 (input accepted only in stateFill) and :142 (the result is registered; "
        "the data FIFO holds the stream). 'none': one request at a time (fill, quick-select, filter). "
        "'full': a design option beyond the released RTL: fill, quick-select and filter as three pipeline "
        "stages (double-buffered). The authors' latency model charges only the quick-select rounds "
        "(docs/sources.md SpAtten §3.4). Stage services: hwsim.units.topk.timing.stage_services.",
    )


class Sram(Config):
    """On-chip K and V buffers (modules 7 and 11)."""

    key_bytes: Annotated[int, int_between(1, 1 << 30)] = Field(
        196608,
        description="Key SRAM size (bytes) = 2 (double buffer) x 1024 tokens x 64 dims x 12 bit / 8; "
        "the paper's '196 KB'. Source: SpAtten §5 Design Choice Explorations, docs/sources.md SpAtten §2.2.",
    )
    value_bytes: Annotated[int, int_between(1, 1 << 30)] = Field(
        196608,
        description="Value SRAM size (bytes), sized like the key SRAM. Source: as key_bytes.",
    )
    key_release: Literal["decision", "done"] = Field(
        "decision",
        description="When a K/V group's keys leave the key SRAM. 'decision' (the hardware as built): after the "
        "last row's progressive-quantization decision, the last read of K (mit-han-lab/spatten "
        "spatten_hardware/hardware/src/main/scala/spatten/SpAttenController.scala:157); 'done': after the last "
        "row's prob x V (the earlier model, one buffer held through top-k, V fetch and prob x V).",
    )
    tiling: Literal["two-pass", "none"] = Field(
        "two-pass",
        description="Rows longer than one SRAM load. 'two-pass' (hwsim's extension; SpAtten handles at most one "
        "buffer of keys): a K/V group whose keys exceed one half of the key SRAM streams K in tiles through it, "
        "and a row longer than the softmax FIFO runs twice: a statistics pass keeping the row's running max and "
        "sum (the online normalizer of Milakov & Gimelshein 2018, arXiv:1805.02867), which also gives the "
        "progressive-quantization decision (max probability = 1 / sum), then a pass that normalizes and feeds "
        "local-V top-k and prob x V; selections longer than topk.max_n run hierarchically "
        "(hwsim.units.topk.hierarchical). FlashAttention's one-pass rescaling (Dao et al. 2022) does not apply: "
        "local-V pruning needs a row's final probabilities before prob x V. 'none': refuse such workloads "
        "(the earlier behaviour). Model: hwsim.units.tiling.",
    )
    query_block: Annotated[int, int_between(1, 1 << 20)] = Field(
        128,
        description="Queries that share each streamed K tile in summarization (count): a tiled group's K is "
        "re-fetched once per pass for every block of query_block queries (their running max/sum and top-k "
        "survivors are kept on chip). hwsim's choice (FlashAttention's row blocks are 64-128, Dao et al. 2022); "
        "no effect when a group's keys fit one buffer.",
    )


class Hbm(Config):
    """Off-chip HBM2 and the fetcher's interleaving."""

    channels: Annotated[int, power_of_two(1, 64)] = Field(
        16, description="HBM2 channels (count). Source: SpAtten Table 'Architectural Setups' (16 x 128-bit)."
    )
    channel_gbytes_per_s: Annotated[float, between(0.0, 1e4, lo_open=True)] = Field(
        32.0,
        description="Bandwidth per channel (GB/s, 1e9 bytes/s): 128 bit x 2 Gb/s/pin. "
        "Source: SpAtten Table 'Architectural Setups' (512 GB/s over 16 channels).",
    )
    interleave_bytes: Annotated[int, power_of_two(1, 4096)] = Field(
        32,
        description="Address interleave granule across channels (bytes); also the transaction size. "
        "Source: released RTL SpAtten.scala Crossbar, channel = addr[5 + log2(ch) - 1 : 5], docs/sources.md SpAtten §2.2.",
    )

    fetch: Literal["stream", "store"] = Field(
        "stream",
        description="How fetched K and V reach their consumer. 'stream' (the hardware as built): Q x K reads a "
        "key-buffer line as soon as the fetcher has written it, and the V fetch is requested from the top-k "
        "engine's output beats as they leave it, prob x V reading V lines as they arrive (mit-han-lab/spatten "
        "spatten_hardware/hardware/src/main/scala/spatten/Buffer.scala: a read whose line tag does not match yet "
        "rolls back and retries; SpAttenController.scala stageFetchValMat turns each top-k output beat into "
        "fetch requests). A consumer starts once the first line is in and finishes no earlier than the last "
        "line. 'store' (the earlier model): store and forward, Q x K waits for the whole K fetch and the V "
        "fetch for the whole top-k.",
    )
    fuse_pairs: Literal["kv", "k", "none"] = Field(
        "kv",
        description="Store planes of K/V heads 2g and 2g+1 interleaved when each is at most half the datapath wide "
        "(6-bit on the 12-bit datapath): one aligned vector of 2 x bits per token, fetched once for both heads "
        "(96 B at d = 64 instead of two 48 B vectors that straddle 32 B granules). 'kv' (the hardware as built): "
        "the K MSB and V planes; 'k': K only; 'none'. Source: mit-han-lab/spatten sim/TestSpAtten.scala:174-176 "
        "(fused_mat = 2 for 6-bit K and V); SpAttenController.scala allocates and writes the key buffer for a fused "
        "batch's first part and runs the V fetch for part 0 only (stageFetchValMat). A CSV replay follows that "
        "(the pair's V is head 0's selection); a trace run fetches the union of the pair's local-V selections, so "
        "that both heads' outputs stay right (the RTL's is right only when both heads keep the same keys). The K "
        "LSB plane is per head (the requantization profile is unfused); rows streamed in tiles (sram.tiling) "
        "are not fused.",
    )
    read_latency_ns: Annotated[float, between(0.0, 1e4)] = Field(
        40.0,
        description="Time from a read request to its first data (ns): HBM2 tRCD + tCL of about 28 ns "
        "(JEDEC JESD235) plus crossbar and FIFO stages. Assumed; the paper does not state it.",
    )

    @property
    def bandwidth_gbytes_per_s(self) -> float:
        """Peak off-chip bandwidth (GB/s)."""
        return self.channels * self.channel_gbytes_per_s


class Features(Config):
    """Which SpAtten mechanisms the hardware supports (a policy may use only these)."""

    token_pruning: bool = Field(True, description="Cascade token pruning (token importance + top-k). SpAtten §3.")
    head_pruning: bool = Field(True, description="Cascade head pruning (head importance + top-k). SpAtten §3.")
    local_v_pruning: bool = Field(True, description="Local V pruning after softmax. SpAtten §3.")
    progressive_quantization: bool = Field(
        True, description="MSB fetch, max-probability check, LSB re-fetch. SpAtten §3.4, docs/sources.md SpAtten §5."
    )


class Linear(Config):
    """Where the linear layers (Q/K/V/output projections, FFN) run under ``hwsim simulate --full-model``.

    SpAtten-e2e (SpAtten §6.4, docs/sources.md SpAtten §6.4) runs the FC layers on the attention's own
    multiplier arrays; the other engines are the sparse units of :mod:`hwsim.units.sparse` (a
    ``rows`` x ``cols`` systolic array, SCALE-Sim's dataflows). Plain ``hwsim simulate`` times the
    attention only and reads none of these fields.
    """

    engine: Literal["arrays", "dense", "weight-sparse", "nm"] = Field(
        "arrays",
        description="'arrays': the Q x K and prob x V arrays (qk.multipliers + pv.multipliers MACs per cycle as "
        "head_dim-wide dot products; SpAtten §6.4 'reuses the multiplier arrays'). 'dense', 'weight-sparse', "
        "'nm': the engines of hwsim.units.sparse on a rows x cols systolic array (docs/sparse.md).",
    )
    rows: Annotated[int, int_between(1, 4096)] = Field(
        32, description="Systolic array rows (PEs); not used by 'arrays'. 32 x 32 = the 1,024 multipliers of SpAtten."
    )
    cols: Annotated[int, int_between(1, 4096)] = Field(
        32, description="Systolic array columns (PEs); not used by 'arrays'."
    )
    dataflow: Literal["os", "ws", "is"] = Field(
        "os", description="Systolic dataflow (output, weight or input stationary; SCALE-Sim v3); not used by 'arrays'."
    )
    weight_bits: Annotated[int, int_between(2, 32)] = Field(
        8,
        description="Bits of a stored FC weight (DRAM traffic, energy). SpAtten §6.4 reports 8- and 12-bit FC; "
        "activations stay at datapath_bits on 'arrays', at weight_bits on the systolic engines (one value width).",
    )
    density: Annotated[float, between(0.0, 1.0, lo_open=True)] = Field(
        1.0,
        description="Kept fraction of the weights for 'weight-sparse' (a seeded Bernoulli mask: the trace holds no "
        "weights); the other engines run every weight.",
    )
    nm_n: Annotated[int, int_between(1, 64)] = Field(2, description="N of the 'nm' engine's N:M pattern (count).")
    nm_m: Annotated[int, int_between(1, 64)] = Field(
        4, description="M of the 'nm' engine's N:M pattern (weights per block along K; 2:4 as NVIDIA's sparse tensor cores)."
    )

    @model_validator(mode="after")
    def _pattern(self) -> "Linear":
        if self.nm_n > self.nm_m:
            raise Expected(f"at most nm_m ({self.nm_m}): N:M keeps N of every M weights", key="nm_n", got=self.nm_n)
        return self


class Design(Config):
    """A complete accelerator design point: the hardware, not the algorithm.

    Units are in field names or in each field's description; ``hwsim show design NAME`` prints every
    field with its unit and source.
    """

    name: str = Field("custom", description="Design name (free text).")
    description: str = Field("", description="One-line description (free text).")
    clock_ghz: Annotated[float, between(0.0, 10.0, lo_open=True)] = Field(
        1.0, description="Clock frequency (GHz). Source: SpAtten §5, 1 GHz in TSMC 40 nm."
    )
    datapath_bits: Annotated[int, int_between(4, 32)] = Field(
        12, description="On-chip datapath and SRAM word width (bits). Source: SpAtten §4, docs/sources.md SpAtten §2.2."
    )
    technology_nm: Annotated[int, int_between(5, 180)] = Field(
        40, description="Process node for energy and area (nm). Source: SpAtten §5, TSMC 40 nm."
    )
    qk: QKArray = Field(default_factory=QKArray, description="Q x K array.")
    pv: PVArray = Field(default_factory=PVArray, description="Prob x V array.")
    softmax: Softmax = Field(default_factory=Softmax, description="Softmax unit.")
    topk: TopK = Field(default_factory=TopK, description="Top-k engines.")
    sram: Sram = Field(default_factory=Sram, description="K and V SRAM.")
    hbm: Hbm = Field(default_factory=Hbm, description="HBM and fetcher.")
    features: Features = Field(default_factory=Features, description="Supported mechanisms.")
    linear: Linear = Field(default_factory=Linear, description="Linear-layer engine (hwsim simulate --full-model).")

    @property
    def hbm_bytes_per_cycle(self) -> float:
        """Peak off-chip bytes per clock cycle (bytes/cycle)."""
        return self.hbm.bandwidth_gbytes_per_s / self.clock_ghz
