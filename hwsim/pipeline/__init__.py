"""Timing of in-order pipelines: a numba recurrence over rows, and its per-cycle reference."""

from .recurrence import bottleneck_stage, schedule, schedule_after, schedule_reference

__all__ = ["schedule", "schedule_after", "schedule_reference", "bottleneck_stage"]
