"""Typed configuration: designs (hardware) and policies (algorithm), presets and TOML I/O."""

from .design import Design
from .loader import (
    check_pair,
    config_hash,
    design_presets,
    dump_toml,
    load_design,
    load_policy,
    policy_presets,
)
from .policy import Policy

__all__ = [
    "Design",
    "Policy",
    "load_design",
    "load_policy",
    "design_presets",
    "policy_presets",
    "dump_toml",
    "config_hash",
    "check_pair",
]
