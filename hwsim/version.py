"""The installed version of hwsim (ground layer: imports nothing of the project)."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("hwsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
