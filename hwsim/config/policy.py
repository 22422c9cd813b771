"""The pruning and quantisation algorithm as one frozen, validated object.

A policy says *what* the algorithm does (how many tokens and heads each layer keeps, how many V
vectors each query fetches, how K/V are quantised); a design says what the hardware can do.
:func:`check_compatible` rejects a policy that asks the design for something it lacks.
Sources: SpAtten (Wang et al., HPCA 2021) §3-§5, summarised in `docs/sources.md (SpAtten)` §4-§5.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from .base import Config, Expected, Fraction, between, int_between
from .design import Design

__all__ = ["Policy", "PruningSchedule", "LocalV", "Quantization", "check_compatible"]

FrontFraction = Annotated[float, between(0.0, 1.0, hi_open=True)]
Bits = Annotated[int, int_between(1, 32)]
# TOML arrays arrive as lists; the frozen object stores a tuple.
KeepList = Annotated[tuple[Fraction, ...], BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)]


class PruningSchedule(Config):
    """Per-layer keep ratios of a cascade pruning (tokens or heads).

    ``linear`` is the paper's schedule: the first ``front_unpruned_fraction`` of the layers keep
    everything, the remaining layers keep a fraction interpolated linearly from ``keep_start`` to
    ``keep_end`` (the paper chooses r_start + r_end = 2 r_avg, SpAtten §5, docs/sources.md SpAtten §4.1).
    ``explicit`` lists one keep ratio per layer; a list whose length differs from the model's
    layer count is resampled by relative depth (layer l of n uses entry floor(l * len / n)).
    Keep ratios are fractions of the layer's original tokens (or heads) and never increase with
    depth: a pruned token or head is never used again (cascade).
    """

    enabled: bool = Field(False, description="Prune at all.")
    schedule: Literal["linear", "explicit"] = Field("linear", description="How keep ratios are given.")
    front_unpruned_fraction: FrontFraction = Field(
        0.15,
        description="Leading fraction of layers left unpruned (fraction) for `linear`; no effect when "
        "schedule = 'explicit'. Source: SpAtten §5, 15 % for tokens, 30 % for heads.",
    )
    keep_start: Fraction = Field(
        1.0, description="Keep ratio of the first pruned layer (fraction) for `linear`; no effect when "
        "schedule = 'explicit'.")
    keep_end: Fraction = Field(
        1.0, description="Keep ratio of the last layer (fraction) for `linear`; no effect when schedule = 'explicit'.")
    keep_per_layer: KeepList | None = Field(
        None, description="Keep ratio of each layer (fractions) for `explicit`."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "PruningSchedule":
        if self.schedule == "explicit":
            if not self.keep_per_layer:
                raise Expected("a non-empty list of keep ratios when schedule = 'explicit'", key="keep_per_layer",
                               show_got=False)
            for a, b in zip(self.keep_per_layer, self.keep_per_layer[1:]):
                if b > a:
                    raise Expected("keep ratios that never increase with depth (cascade pruning)",
                                   key="keep_per_layer", got=list(self.keep_per_layer))
        else:
            if self.keep_per_layer is not None:
                raise Expected("no keep_per_layer when schedule = 'linear' (set schedule = 'explicit')",
                               key="keep_per_layer", show_got=False)
            if self.keep_end > self.keep_start:
                raise Expected(f"at most keep_start ({self.keep_start:g}): cascade pruning never un-prunes",
                               key="keep_end", got=self.keep_end)
        return self

    def keep(self, layer: int, n_layers: int) -> float:
        """Return the keep ratio of ``layer`` (0-based) in a model of ``n_layers`` layers (fraction)."""
        if not 0 <= layer < n_layers:
            raise ValueError(f"layer {layer} outside 0..{n_layers - 1}")
        if not self.enabled:
            return 1.0
        if self.schedule == "explicit":
            table = self.keep_per_layer
            return table[layer * len(table) // n_layers]
        front = int(round(self.front_unpruned_fraction * n_layers))
        if layer < front:
            return 1.0
        rest = n_layers - front
        if rest <= 1:
            return self.keep_start
        t = (layer - front) / (rest - 1)
        return self.keep_start + t * (self.keep_end - self.keep_start)


class LocalV(Config):
    """Local V pruning: per query, fetch only the V vectors with the largest probabilities."""

    enabled: bool = Field(False, description="Prune V vectors locally.")
    keep: Fraction = Field(
        0.2,
        description="Fraction of the surviving keys whose V is fetched (fraction). Source: the authors' GPT-2 "
        "trace keeps 20 % (docs/sources.md SpAtten §4.3).",
    )


class Quantization(Config):
    """How Q, K and V are stored in DRAM and when LSBs are re-fetched (linear symmetric quantisation)."""

    mode: Literal["none", "static", "progressive"] = Field(
        "none",
        description="'none': K/V at the full datapath width; 'static': fixed bits; 'progressive': fetch "
        "key_bits/value_bits MSBs, re-fetch lsb_bits of K when max probability < threshold (SpAtten §3.4).",
    )
    query_bits: Bits = Field(12, description="Query width (bits).")
    key_bits: Bits = Field(12, description="Key width in DRAM (bits); the MSB part when progressive.")
    value_bits: Bits = Field(12, description="Value width in DRAM (bits); the MSB part when progressive.")
    lsb_bits: Bits = Field(
        4, description="LSB bits re-fetched when progressive (bits). Source: SpAtten §3.4, LSB is always 4."
    )
    threshold: Fraction = Field(
        0.1,
        description="Re-fetch the LSBs of a row when its max probability is below this (probability). "
        "Source: SpAtten §3.4 'typical 0.1'; the GPT-2 trace uses 0.05.",
    )


class Policy(Config):
    """A complete pruning / quantisation policy."""

    name: str = Field("custom", description="Policy name (free text).")
    description: str = Field("", description="One-line description (free text).")
    token_pruning: PruningSchedule = Field(default_factory=PruningSchedule, description="Cascade token pruning.")
    head_pruning: PruningSchedule = Field(
        default_factory=lambda: PruningSchedule(front_unpruned_fraction=0.3), description="Cascade head pruning."
    )
    local_v: LocalV = Field(default_factory=LocalV, description="Local V pruning.")
    quantization: Quantization = Field(default_factory=Quantization, description="K/V quantisation.")


def check_compatible(design: Design, policy: Policy) -> None:
    """Raise :class:`Expected` (with the policy key) when ``policy`` asks for hardware ``design`` lacks."""
    f = design.features
    needs = [
        ("token_pruning.enabled", policy.token_pruning.enabled, f.token_pruning, "token_pruning"),
        ("head_pruning.enabled", policy.head_pruning.enabled, f.head_pruning, "head_pruning"),
        ("local_v.enabled", policy.local_v.enabled, f.local_v_pruning, "local_v_pruning"),
        ("quantization.mode", policy.quantization.mode == "progressive", f.progressive_quantization,
         "progressive_quantization"),
    ]
    for key, wanted, supported, feature in needs:
        if wanted and not supported:
            raise Expected(f"a mechanism design '{design.name}' has; it sets features.{feature} = false",
                           key=key, show_got=False)
    q = policy.quantization
    width = design.datapath_bits
    if q.mode == "progressive":
        for name in ("key_bits", "value_bits"):
            msb = getattr(q, name)
            if msb + q.lsb_bits > width:
                raise Expected(
                    f"{name} + lsb_bits <= datapath_bits of design '{design.name}' ({width})",
                    key="quantization.lsb_bits", got=f"{msb} + {q.lsb_bits} = {msb + q.lsb_bits}",
                )
    for name in ("key_bits", "value_bits"):
        if getattr(q, name) > width:
            raise Expected(f"at most datapath_bits of design '{design.name}' ({width})",
                           key=f"quantization.{name}", got=getattr(q, name))
