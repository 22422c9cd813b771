"""What a sweep measures at one point: the evaluations ``topk``, ``simulate``, ``quality``, ``sparse`` and ``mpc``.

An evaluation declares its parameters (a strict config model), whether it takes a design and a
policy, its output columns (units in the names) and :meth:`Evaluation.run`, a pure function of the
resolved point: the same point gives the same row wherever it runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from ..config.base import Config, Fraction, int_between
from ..errors import HwsimError

__all__ = ["Evaluation", "EVALUATIONS", "get_evaluation", "TopkParams", "SimulateParams", "QualityParams",
           "SparseParams", "MpcParams"]


class TopkParams(Config):
    """Parameters of the ``topk`` evaluation: the selections the engine is timed on."""

    n: Annotated[int, int_between(1, 1 << 22)] = Field(1024, description="Scores per selection (elements).")
    k: Annotated[int, int_between(1, 1 << 22)] | None = Field(None, description="Scores kept (elements).")
    k_fraction: Fraction = Field(0.5, description="k as a fraction of n when k is not given (fraction).")
    trials: Annotated[int, int_between(1, 1 << 20)] = Field(64, description="Random rows per point (count).")
    scores: Literal["uniform", "ties"] = Field("uniform", description="uniform width-bit scores or ties (0..15).")


class SimulateParams(Config):
    """Parameters of the ``simulate`` evaluation."""

    fidelity_rows: Annotated[int, int_between(0, 1 << 20)] = Field(
        16, description="Query rows per layer and head compared with dense attention (count).")


class QualityParams(Config):
    """Parameters of the ``quality`` evaluation: :func:`hwsim.quality.evaluate`'s sizes (None: its defaults)."""

    text: str | None = Field(None, description="pydoc, shakespeare or a text file (default: the model's).")
    tokens: Annotated[int, int_between(8, 1 << 20)] | None = Field(
        None, description="Decoder: text tokens in all; encoder: tokens per passage half (count).")
    window: Annotated[int, int_between(8, 8192)] | None = Field(None, description="Decoder: tokens per window.")
    prompt: Annotated[int, int_between(1, 8192)] | None = Field(None, description="Decoder: prompt tokens per window.")
    generate: Annotated[int, int_between(1, 8192)] | None = Field(None, description="Decoder: greedy tokens compared.")
    passages: Annotated[int, int_between(2, 10_000)] | None = Field(None, description="Encoder: passages embedded.")
    linear: bool = Field(False, description="Also run the linear layers as design.linear stores them (weight masks, "
                         "weight bits; hwsim quality --linear).")


class SparseParams(Config):
    """Parameters of the ``sparse`` evaluation: how the linear layers' masks and inputs are made."""

    mask: Literal["hydra", "magnitude", "random"] = Field(
        "hydra", description="Unstructured mask of the weight-sparse engine (DASS/HYDRA, magnitude or Bernoulli).")
    tokens: Annotated[int, int_between(1, 8192)] = Field(
        128, description="Prompt tokens whose real inputs feed the layers (rows of every GEMM; count).")


class MpcParams(Config):
    """Parameters of the ``mpc`` evaluation: ``cost_models.mpc.estimate``'s arguments."""

    model: str = "vit-cifar"
    protocol: str = "crypten-2pc"
    network: str = "lan"
    attention: str = "softmax"
    mu: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        None, description="ReLU-softmax head fraction of MPCViT's mixed attention (attention = 'mixed:MU').")
    activation: str | None = None
    tokens: Annotated[int, int_between(1, 1 << 20)] | None = None
    mix: Literal["per_head", "batched"] = "per_head"


class Evaluation:
    """Base of the evaluations; subclasses set the class attributes and :meth:`run`."""

    name = ""
    params_model: type[Config] = Config
    uses_design = True
    uses_policy = False
    uses_workloads = False
    outputs: tuple[str, ...] = ()

    def output_columns(self, spec) -> tuple[str, ...]:
        """The output columns of every row (units in the names)."""
        return self.outputs

    def check_spec(self, spec, where: str) -> None:
        """Raise a one-line HwsimError for a spec this evaluation cannot run."""
        if self.uses_workloads and not spec.workloads:
            raise HwsimError(f"{where}: workloads: the {self.name} evaluation needs at least one workload, "
                             "e.g. workloads = [\"minilm\"]")
        if not self.uses_workloads and spec.workloads:
            raise HwsimError(f"{where}: workloads: the {self.name} evaluation takes no workload")
        if not self.uses_policy and spec.policy is not None:
            raise HwsimError(f"{where}: policy: the {self.name} evaluation takes no policy")
        if not self.uses_design and (spec.design != "spatten" or spec.set):
            raise HwsimError(f"{where}: design: the {self.name} evaluation takes no design (its settings are params)")
        from ..config.loader import validate_config

        validate_config(self.params_model, dict(spec.params), f"{where}: params", {})

    def run(self, design, policy, params, workload, seed: int) -> dict[str, Any]:
        """Evaluate one point; return ``{column: value}`` for every output column."""
        raise NotImplementedError


# --------------------------------------------------------------------------------------------- topk


class TopkEvaluation(Evaluation):
    """The top-k engine's golden model on ``trials`` random rows, and its area.

    Cycles are the golden model's exact counts (``hwsim.units.topk.golden``). ``stream_cycles``
    serves the rows back to back on one engine, overlapped as ``topk.overlap`` says
    (:func:`hwsim.units.topk.sequence_schedule`). Area: ``cost_models.area`` (the design's top-k engines, and the whole design).
    """

    name = "topk"
    params_model = TopkParams
    outputs = ("k_elements", "mean_cycles", "p95_cycles", "max_cycles", "fill_mean_cycles",
               "quickselect_mean_cycles", "filter_mean_cycles", "mean_rounds", "stream_cycles",
               "elements_per_cycle", "topk_area_mm2", "area_mm2", "elements_per_cycle_per_mm2")

    def run(self, design, policy, params, workload, seed):
        from cost_models.area import area_mm2

        from ..units.topk import select_batch_detail, sequence_schedule

        t = design.topk
        n = params.n
        k = params.k if params.k is not None else max(1, int(round(params.k_fraction * n)))
        if k > n:
            raise HwsimError(f"k = {k} exceeds n = {n}")
        if n > t.max_n:
            raise HwsimError(f"n = {n} scores exceed the engine's topk.max_n = {t.max_n}")
        hi = (1 << t.width_bits) - 1 if params.scores == "uniform" else min(15, (1 << t.width_bits) - 1)
        x = np.random.default_rng(seed).integers(0, hi + 1, size=(params.trials, n))
        _, d = select_batch_detail(x, np.full(params.trials, k), lanes=t.lanes, seed=seed, in_lanes=t.in_lanes,
                                   width=t.width_bits, max_n=t.max_n)
        _, done = sequence_schedule(d["cycles"], d["fill_cycles"], d["filter_cycles"], overlap=t.overlap)
        stream = int(done[-1])
        area = area_mm2(design)
        eps = params.trials * n / stream
        return {
            "k_elements": k,
            "mean_cycles": float(d["cycles"].mean()),
            "p95_cycles": float(np.percentile(d["cycles"], 95)),
            "max_cycles": int(d["cycles"].max()),
            "fill_mean_cycles": float(d["fill_cycles"].mean()),
            "quickselect_mean_cycles": float(d["quickselect_cycles"].mean()),
            "filter_mean_cycles": float(d["filter_cycles"].mean()),
            "mean_rounds": float(d["rounds"].mean()),
            "stream_cycles": stream,
            "elements_per_cycle": eps,
            "topk_area_mm2": area["topk"],
            "area_mm2": area["total"],
            "elements_per_cycle_per_mm2": eps / area["topk"] if area["topk"] else None,
        }


# --------------------------------------------------------------------------------------------- simulate

_KINDS = ("q", "k_msb", "k_lsb", "v")
_ENERGY = ("logic", "sram", "dram")


class SimulateEvaluation(Evaluation):
    """``hwsim.spatten.simulate`` of each workload on the point's design and policy."""

    name = "simulate"
    params_model = SimulateParams
    uses_policy = True
    uses_workloads = True
    outputs = ("latency_cycles", "latency_s", "summarization_cycles", "generation_cycles", "selection_cycles",
               "dram_bytes", *(f"dram_{k}_bytes" for k in _KINDS), "dram_payload_bytes", "flops", "dense_flops",
               "effective_tflops", "energy_pj", *(f"energy_{c}_pj" for c in _ENERGY), "power_w", "area_mm2",
               "topk_area_mm2", "lsb_refetch_fraction", "tokens_kept_fraction", "heads_kept_fraction",
               "values_kept_fraction", "attention_rel_error_ratio", "prob_mass_kept_fraction")

    def run(self, design, policy, params, workload, seed):
        from ..spatten import simulate

        s = simulate(workload, design, policy, seed=seed, fidelity_rows=params.fidelity_rows).summary
        return {
            "latency_cycles": s["latency_cycles"], "latency_s": s["latency_s"],
            "summarization_cycles": s["stage_cycles"].get("summarization", 0),
            "generation_cycles": s["stage_cycles"].get("generation", 0),
            "selection_cycles": s["selection_cycles"],
            "dram_bytes": s["dram_bytes"], **{f"dram_{k}_bytes": s["dram_bytes_by_kind"][k] for k in _KINDS},
            "dram_payload_bytes": s["dram_payload_bytes"], "flops": s["flops"], "dense_flops": s["dense_flops"],
            "effective_tflops": s["effective_tflops"], "energy_pj": s["energy_pj"]["total"],
            **{f"energy_{c}_pj": s["energy_pj"][c] for c in _ENERGY},
            "power_w": s["power_w"].get("total", 0.0), "area_mm2": s["area_mm2"]["total"],
            "topk_area_mm2": s["area_mm2"]["topk"], "lsb_refetch_fraction": s["lsb_refetch_fraction"],
            "tokens_kept_fraction": s["tokens_kept_fraction"], "heads_kept_fraction": s["heads_kept_fraction"],
            "values_kept_fraction": s["values_kept_fraction"],
            "attention_rel_error_ratio": s["attention_rel_error_ratio"],
            "prob_mass_kept_fraction": s["prob_mass_kept_fraction"],
        }


# --------------------------------------------------------------------------------------------- quality


class QualityEvaluation(Evaluation):
    """:func:`hwsim.quality.evaluate`: the real model with the point's design and policy inside it.

    Each workload names a real model (minilm, smollm2); its trace is opened as for ``simulate``
    but the evaluation runs the model itself on text (``params``). Metrics a mode does not
    measure are None (perplexity for an encoder, embedding cosine for a decoder).
    """

    name = "quality"
    params_model = QualityParams
    uses_policy = True
    uses_workloads = True
    outputs = ("perplexity", "dense_perplexity", "top1_agreement_fraction", "greedy_match_fraction",
               "embedding_cosine_ratio", "embedding_cosine_min_ratio", "retrieval_top1_fraction",
               "dense_retrieval_top1_fraction", "tokens_kept_fraction", "heads_kept_fraction", "latency_cycles",
               "dram_bytes", "energy_pj", "area_mm2")

    def check_spec(self, spec, where: str) -> None:
        super().check_spec(spec, where)
        from ..quality import REAL_MODELS

        for w in spec.workload_specs:
            if w.name not in REAL_MODELS:
                raise HwsimError(f"{where}: workloads: {w.name!r}: the quality evaluation runs a real model; expected "
                                 f"one of {', '.join(REAL_MODELS)}")

    def run(self, design, policy, params, workload, seed):
        from cost_models.area import area_mm2

        from ..quality import evaluate

        r = evaluate(workload.manifest["workload"], design, policy, seed=seed, **params.model_dump())
        a, d, sim = r.summary["approximate"], r.summary["dense"], r.summary["simulated"]
        mean = lambda key: sum(row[key] for row in r.layers) / len(r.layers)  # noqa: E731
        return {
            "perplexity": a.get("perplexity"), "dense_perplexity": d.get("perplexity"),
            "top1_agreement_fraction": a.get("top1_agreement_fraction"),
            "greedy_match_fraction": a.get("greedy_match_fraction"),
            "embedding_cosine_ratio": a.get("embedding_cosine_ratio"),
            "embedding_cosine_min_ratio": a.get("embedding_cosine_min_ratio"),
            "retrieval_top1_fraction": a.get("retrieval_top1_fraction"),
            "dense_retrieval_top1_fraction": d.get("retrieval_top1_fraction"),
            "tokens_kept_fraction": mean("tokens_kept_fraction"), "heads_kept_fraction": mean("heads_kept_fraction"),
            "latency_cycles": sim["latency_cycles"], "dram_bytes": sim["dram_bytes"], "energy_pj": sim["energy_pj"],
            "area_mm2": area_mm2(design)["total"],
        }


# --------------------------------------------------------------------------------------------- sparse


class SparseEvaluation(Evaluation):
    """Every linear layer of each workload on the engine of the point's ``design.linear`` (``hwsim sparse``).

    The real models (minilm, smollm2) bring their real weights and the real inputs of ``tokens``
    prompt tokens (:func:`workloads.linear_layers.capture`); any other workload its op graph's shapes
    with random weights (labelled so by ``real_weights``). ``linear.engine`` (dense, weight-sparse,
    nm), ``rows``, ``cols``, ``dataflow``, ``weight_bits``, ``density`` and ``nm_n:nm_m`` configure
    the engine (:mod:`hwsim.units.sparse`); ``dense_total_cycles`` is the dense engine on the same
    array and memory, and ``mean_output_error_ratio`` the mean over layers of
    ``||Y_sparse - Y_dense|| / ||Y_dense||`` on those inputs.
    """

    name = "sparse"
    params_model = SparseParams
    uses_workloads = True
    outputs = ("linear_layers_count", "total_cycles", "compute_cycles", "hbm_cycles", "dense_total_cycles",
               "speedup_vs_dense_x", "utilization_fraction", "effectual_mac_ops", "dram_bytes", "metadata_dram_bytes",
               "energy_pj", "weight_density_fraction", "mean_output_error_ratio", "linear_area_mm2", "real_weights")

    def run(self, design, policy, params, workload, seed):
        from ..sparse.run import Layer, dense_total_cycles, run_layer
        from ..spatten.fullmodel import linear_area_mm2, linear_engine

        lin = design.linear
        if lin.engine == "arrays":
            raise HwsimError("linear.engine = 'arrays' (the attention arrays) is timed by simulate --full-model; "
                             "the sparse evaluation expects dense, weight-sparse or nm")
        name = workload.manifest.get("workload")
        spec = name if name in ("minilm", "smollm2") else str(workload.path)
        captured = _captured(spec, params.tokens, seed)
        layers = [Layer(c.name, c.kind, c.weights, c.inputs) for c in captured.layers]
        array, sp, mem = linear_engine(design)
        nm = (lin.nm_n, lin.nm_m) if lin.engine == "nm" else None
        density = lin.density if lin.engine == "weight-sparse" else 1.0
        res = [run_layer(lay, array, sp, mem, density=density, nm=nm, mask_kind=params.mask, seed=seed + i,
                         node_nm=float(design.technology_nm)) for i, lay in enumerate(layers)]
        dense = sum(dense_total_cycles(lay, array, mem) for lay in layers)
        total = sum(r.total_cycles for r in res)
        compute = sum(r.compute_cycles for r in res)
        macs = sum(r.effectual_macs for r in res)
        kept = sum(r.weight_density * r.k * r.n * r.groups for r in res)
        return {
            "linear_layers_count": len(res), "total_cycles": total, "compute_cycles": compute,
            "hbm_cycles": sum(r.hbm_cycles for r in res), "dense_total_cycles": dense,
            "speedup_vs_dense_x": dense / total if total else 0.0,
            "utilization_fraction": macs / (array.pes * compute) if compute else 0.0, "effectual_mac_ops": macs,
            "dram_bytes": sum(r.dram_bytes for r in res), "metadata_dram_bytes": sum(r.metadata_dram_bytes for r in res),
            "energy_pj": sum(r.energy_pj for r in res),
            "weight_density_fraction": kept / sum(r.k * r.n * r.groups for r in res),
            "mean_output_error_ratio": sum(r.output_error for r in res) / len(res),
            "linear_area_mm2": linear_area_mm2(design),
            "real_weights": captured.real_weights,
        }


_CAPTURED: dict = {}


def _captured(spec: str, tokens: int, seed: int):
    """The workload's linear layers, captured once per process (loading a model takes seconds)."""
    key = (spec, tokens, seed)
    if key not in _CAPTURED:
        from workloads.linear_layers import capture

        _CAPTURED.clear()  # one workload's weights at a time: they are large
        _CAPTURED[key] = capture(spec, tokens=tokens, seed=seed)
    return _CAPTURED[key]


# --------------------------------------------------------------------------------------------- mpc

_GROUPS = ("linear", "attention matmul", "attention function", "activation", "norm")


class MpcEvaluation(Evaluation):
    """``cost_models.mpc.estimate``: rounds, bytes and latency of one secure inference, per op group."""

    name = "mpc"
    params_model = MpcParams
    uses_design = False
    outputs = ("rounds", "comm_bytes", "sent_bytes", "latency_s", "round_s", "transfer_s", "compute_s",
               *(f"{g.replace(' ', '_')}_latency_s" for g in _GROUPS),
               *(f"{g.replace(' ', '_')}_rounds" for g in _GROUPS))

    def run(self, design, policy, params, workload, seed):
        from cost_models.mpc import estimate

        attention = params.attention
        if params.mu is not None:
            if attention != "mixed":
                raise HwsimError(f"mu = {params.mu:g} needs attention = 'mixed', got {attention!r}")
            attention = f"mixed:{params.mu:g}"
        r = estimate(params.model, protocol=params.protocol, network=params.network, attention=attention,
                     activation=params.activation, tokens=params.tokens, mix=params.mix)
        d = r.to_dict()
        groups = d["groups"]
        row = {"rounds": d["rounds"], "comm_bytes": d["bytes"], "sent_bytes": d["sent_bytes"],
               "latency_s": d["latency_s"], "round_s": d["round_s"], "transfer_s": d["transfer_s"],
               "compute_s": d["compute_s"]}
        for g in _GROUPS:
            row[f"{g.replace(' ', '_')}_latency_s"] = groups.get(g, {}).get("latency_s", 0.0)
            row[f"{g.replace(' ', '_')}_rounds"] = groups.get(g, {}).get("rounds", 0)
        return row


EVALUATIONS: dict[str, Evaluation] = {e.name: e for e in (TopkEvaluation(), SimulateEvaluation(), QualityEvaluation(),
                                                          SparseEvaluation(), MpcEvaluation())}


def get_evaluation(name: str) -> Evaluation:
    """The evaluation called ``name``."""
    return EVALUATIONS[name]
