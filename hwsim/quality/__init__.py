"""What accuracy a design trades: real models run with the hardware\x27s approximations inside (imports torch lazily)."""

from .run import DEFAULTS, REAL_MODELS, QualityResult, check_request, evaluate

__all__ = ["evaluate", "check_request", "QualityResult", "REAL_MODELS", "DEFAULTS"]
