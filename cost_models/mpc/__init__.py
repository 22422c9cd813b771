"""MPC latency cost models: protocols x operations x networks, and whole transformer models.

Quick use::

    from cost_models.mpc import op_cost, estimate
    op_cost("softmax", (4, 65, 65), "crypten-2pc").rounds        # 115
    r = estimate("vit-cifar", protocol="crypten-2pc", network="mpcvit", attention="mixed:0.3")
    r.rounds, r.bytes, r.latency_s

Protocols (:data:`PROTOCOLS`): ``crypten-2pc`` (CrypTen 0.4.1, exact accounting of its own
communication counters), ``aby3-3pc`` and ``semi2k-2pc`` (SecretFlow SPU 0.9.5's ABY3 and SEMI2K,
equal to SPU's own counters), ``cheetah-2pc`` (SPU's HE-based Cheetah in the steady state of a long
session; :class:`CheetahSession` replays a session's state and is within 0.09 % of SPU's counters). Networks:
presets ``lan``, ``wan``, ``mpcvit`` (fitted) or a TOML file. See ``docs/mpc.md``.
"""

from . import crypten2pc as _crypten2pc  # noqa: F401, I001  (registers crypten-2pc first)
from . import aby3 as _aby3  # noqa: F401  (registers aby3-3pc)
from . import semi2k as _semi2k  # noqa: F401  (registers semi2k-2pc)
from . import cheetah as _cheetah  # noqa: F401  (registers cheetah-2pc)
from .aby3 import ABY3_3PC, Aby3
from .cheetah import CHEETAH_2PC, Cheetah, CheetahSession
from .cost import Cost
from .crypten2pc import CRYPTEN_2PC, CrypTen2PC
from .semi2k import SEMI2K_2PC, Semi2k
from .spu import KernelTally, SpuProtocol
from .model import (
    ACTIVATIONS,
    ATTENTION_VARIANTS,
    Attention,
    ModelStep,
    MpcResult,
    StepCost,
    estimate,
    model_steps,
    parse_attention,
    resolve_model,
)
from .network import NETWORK_PRESETS, LatencySplit, Network, latency_s, load_network
from .ops import OPS, OpInfo, check_shape, parse_shape
from .protocols import PROTOCOLS, Protocol, get_protocol, op_cost

__all__ = [
    "Cost",
    "OPS",
    "OpInfo",
    "parse_shape",
    "check_shape",
    "Protocol",
    "PROTOCOLS",
    "get_protocol",
    "op_cost",
    "CrypTen2PC",
    "CRYPTEN_2PC",
    "Aby3",
    "ABY3_3PC",
    "Semi2k",
    "SEMI2K_2PC",
    "Cheetah",
    "CheetahSession",
    "CHEETAH_2PC",
    "SpuProtocol",
    "KernelTally",
    "Network",
    "NETWORK_PRESETS",
    "load_network",
    "latency_s",
    "LatencySplit",
    "Attention",
    "parse_attention",
    "ATTENTION_VARIANTS",
    "ACTIVATIONS",
    "ModelStep",
    "model_steps",
    "StepCost",
    "MpcResult",
    "estimate",
    "resolve_model",
]
