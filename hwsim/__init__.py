"""hwsim: a cycle-level simulator and co-design tool for sparse-attention accelerators.

The public API is re-exported here::

    from hwsim import load_design, load_policy
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .config import Design, Policy, check_pair, config_hash, dump_toml, load_design, load_policy
from .errors import HwsimError

try:
    __version__ = _version("hwsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "Design",
    "Policy",
    "HwsimError",
    "load_design",
    "load_policy",
    "check_pair",
    "config_hash",
    "dump_toml",
]
