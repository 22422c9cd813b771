"""Networks between the parties, and the latency of a cost on one.

``latency = rounds x (rtt + per-round overhead) + sent bytes / bandwidth + local ops / compute rate``
(docs/sources.md MPC §3.2). ``sent bytes`` is what one party sends (half of CrypTen's
logged send + receive bytes); links are full duplex, so a party's sends and receives overlap.

A network is a preset name (:data:`NETWORK_PRESETS`) or a TOML file with the keys of
:class:`Network` (``base = "lan"`` starts from a preset and changes only some keys)::

    name = "campus"
    bandwidth_gbit_per_s = 1.0
    rtt_ms = 2.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from hwsim.config.base import Config, Expected
from hwsim.config.loader import read_toml, validate_config
from hwsim.errors import HwsimError

from .cost import Cost

__all__ = ["Network", "NETWORK_PRESETS", "load_network", "latency_s", "LatencySplit"]


def _at_least(lo: float, what: str, *, strict: bool):
    """Validator: a finite number above ``lo`` (or at least ``lo``); ``what`` completes "expected ..."."""

    def check(v: float) -> float:
        if not (math.isfinite(v) and (v > lo if strict else v >= lo)):
            raise Expected(what, got=v)
        return v

    return AfterValidator(check)


Positive = _at_least(0.0, "a positive number", strict=True)
NonNegative = _at_least(0.0, "a number >= 0", strict=False)


class Network(Config):
    """The link between the parties and each party's local compute rate (frozen, validated)."""

    name: str = Field(description="Name of this network setting.")
    description: str = Field("", description="One line: what this setting is.")
    bandwidth_gbit_per_s: Annotated[float, Positive] = Field(
        description="Link bandwidth per direction (Gbit/s, 1e9 bits per second); full duplex."
    )
    rtt_ms: Annotated[float, NonNegative] = Field(
        description="Round-trip time paid once per communication round (ms)."
    )
    round_overhead_ms: Annotated[float, NonNegative] = Field(
        0.0, description="Extra fixed time per round: serialisation, framework and scheduling overhead (ms)."
    )
    compute_gops_per_s: Annotated[float, Positive] = Field(
        20.0,
        description="Local 64-bit ring operations one party does per second (1e9 ops/s). Default: torch 2.13 "
        "CPU int64 matmul on the 2-core development machine, measured at 22-25 Gmac/s (docs/mpc.md).",
    )
    source: str = Field("", description="Where the numbers come from.")

    @property
    def round_s(self) -> float:
        """Time charged per communication round (s)."""
        return (self.rtt_ms + self.round_overhead_ms) / 1e3

    @property
    def bytes_per_s(self) -> float:
        """Bandwidth per direction (bytes/s)."""
        return self.bandwidth_gbit_per_s * 1e9 / 8


NETWORK_PRESETS: dict[str, Network] = {
    n.name: n
    for n in [
        Network(
            name="lan",
            description="LAN: 1 GB/s, 0.5 ms round trip",
            bandwidth_gbit_per_s=8.0,
            rtt_ms=0.5,
            source="SHAFT (NDSS'25) third-party reproduction's LAN setting: 1 GB/s, 0.5 ms "
            "(docs/sources.md MPC §3.4 V10)",
        ),
        Network(
            name="wan",
            description="WAN: 400 MB/s, 4 ms round trip",
            bandwidth_gbit_per_s=3.2,
            rtt_ms=4.0,
            source="SHAFT (NDSS'25) third-party reproduction's WAN setting: 400 MB/s, 4 ms "
            "(docs/sources.md MPC §3.4 V10)",
        ),
        Network(
            name="mpcvit",
            description="fitted to MPCViT's CIFAR-10 latencies: round-bound, 79.5 ms per round",
            bandwidth_gbit_per_s=10.0,
            rtt_ms=79.5,
            compute_gops_per_s=1000.0,
            source="fitted by `hwsim reproduce mpcvit` (cost_models.mpc.reproduce.fit_round_ms) to the 8 "
            "published CIFAR-10 latencies of MPCViT's README with CrypTen-exact counts; bandwidth and "
            "compute are not identifiable from those numbers and are set so their terms stay below 1% "
            "(docs/sources.md MPC §1, §3.2)",
        ),
    ]
}


def load_network(spec: str | Path | Network = "lan", overrides: dict | None = None) -> Network:
    """Return a network from a preset name, a TOML file, or a :class:`Network` (returned as is).

    ``overrides`` (``{"bandwidth_gbit_per_s": 1.0}``) replace keys after loading. Bad input raises a
    one-line :class:`HwsimError` naming the file and key (e.g. a bandwidth of 0).
    """
    if isinstance(spec, Network) and not overrides:
        return spec
    if isinstance(spec, Network):
        data, label = spec.model_dump(), f"network '{spec.name}'"
    else:
        text = str(spec)
        path = Path(text)
        if text in NETWORK_PRESETS and not (path.suffix == ".toml" and path.exists()):
            data, label = NETWORK_PRESETS[text].model_dump(), f"network preset '{text}'"
        elif path.suffix == ".toml" or path.exists():
            data, label = read_toml(path), str(path)
            data.setdefault("name", path.stem)
            base = data.pop("base", None)
            if base is not None:
                if base not in NETWORK_PRESETS:
                    raise HwsimError(f"{label}: base: expected a network preset ({', '.join(NETWORK_PRESETS)}), "
                                     f"got {base!r}")
                data = {**NETWORK_PRESETS[base].model_dump(), "source": "", **data}
        else:
            raise HwsimError(
                f"unknown network {text!r}; expected a preset ({', '.join(NETWORK_PRESETS)}) or a .toml file"
            )
    if overrides:
        data = {**data, **overrides}
    return validate_config(Network, data, label, {})


@dataclass(frozen=True)
class LatencySplit:
    """Where the time of a cost goes on a network: rounds, transfer and local compute (s)."""

    round_s: float
    transfer_s: float
    compute_s: float

    @property
    def total_s(self) -> float:
        """The whole latency (s)."""
        return self.round_s + self.transfer_s + self.compute_s


def latency_s(cost: Cost, network: Network) -> LatencySplit:
    """Split the latency of ``cost`` on ``network`` into rounds, transfer and compute time (s)."""
    return LatencySplit(
        cost.rounds * network.round_s,
        cost.sent_bytes / network.bytes_per_s,
        cost.local_ops / (network.compute_gops_per_s * 1e9),
    )
