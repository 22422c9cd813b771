"""What the CLI says about a design/policy pair: the policy that fits, overrides that do nothing.

A policy preset is chosen for a workload (spatten-bert for encoders, spatten-gpt2 for decoders);
when the design lacks what that preset needs (``-d dense``) the first preset the design supports
is used instead, and the CLI says so. Overrides of keys the policy does not read (a keep ratio of
a disabled mechanism, LSB bits without progressive quantization) and policies stretched over a
model they were not written for (an explicit per-layer list of another length) get one warning
line each on stderr.
"""

from __future__ import annotations

from ..config import Policy, check_pair, load_policy, policy_presets
from ..errors import HwsimError

__all__ = ["fitting_policies", "resolve_policy", "override_warnings", "fit_warnings"]

_SWITCHED = ("token_pruning", "head_pruning", "local_v")
_LINEAR_ONLY = ("front_unpruned_fraction", "keep_start", "keep_end")


def fitting_policies(design) -> list[str]:
    """Names of the policy presets ``design`` supports, in registry order."""
    names = []
    for name in policy_presets():
        try:
            check_pair(design, load_policy(name))
        except HwsimError:
            continue
        names.append(name)
    return names


def resolve_policy(design, spec: str | None, default: str, overrides: list[str], notes) -> Policy:
    """Load policy ``spec`` (or ``default`` when None) for ``design``; pick a fitting preset if needed.

    A default the design cannot run is replaced by the first fitting preset (``notes`` gets one
    line); a policy the user named that does not fit is an error that lists the fitting presets.
    """
    policy = load_policy(spec or default, overrides)
    try:
        check_pair(design, policy)
        return policy
    except HwsimError as e:
        fits = fitting_policies(design)
        if spec is None and fits:
            why = str(e).removeprefix(f"policy '{default}': ")
            notes(f"design '{design.name}' cannot run the default policy '{default}' ({why}); "
                  f"using policy '{fits[0]}' (-p to choose)")
            return load_policy(fits[0], overrides)
        raise HwsimError(f"{e}; policies design '{design.name}' runs: {', '.join(fits) or 'none of the presets'}") \
            from None


def override_warnings(policy: Policy, overrides: list[str]) -> list[str]:
    """One line per ``--set policy.KEY=...`` that changes nothing the simulation reads."""
    out = []
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        section, _, field = key.partition(".")
        why = None
        if section in _SWITCHED and field and field != "enabled" and not getattr(policy, section).enabled:
            why = f"{section}.enabled is false (add --set policy.{section}.enabled=true)"
        elif section in _SWITCHED[:2] and field in _LINEAR_ONLY and getattr(policy, section).schedule == "explicit":
            why = f"{section}.schedule is 'explicit' ({field} is read by the 'linear' schedule only)"
        elif section == "quantization":
            mode = policy.quantization.mode
            if field in ("lsb_bits", "threshold") and mode != "progressive":
                why = f"quantization.mode is '{mode}' ({field} is read in 'progressive' mode only)"
            elif field.endswith("_bits") and mode == "none":
                why = "quantization.mode is 'none' (Q, K and V stay at the design's datapath width)"
        if why:
            out.append(f"--set policy.{item} has no effect in policy '{policy.name}': {why}")
    return out


def fit_warnings(policy: Policy, layers: int, workload: str) -> list[str]:
    """One line per pruning schedule written for another layer count than ``layers``."""
    out = []
    for section in _SWITCHED[:2]:
        s = getattr(policy, section)
        if s.enabled and s.schedule == "explicit" and len(s.keep_per_layer) != layers:
            out.append(f"policy '{policy.name}': {section}.keep_per_layer lists {len(s.keep_per_layer)} layers, "
                       f"workload {workload} has {layers}: resampled by relative depth (layer l uses entry "
                       f"floor(l x {len(s.keep_per_layer)} / {layers}))")
    return out
