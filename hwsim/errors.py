"""The one exception type that reaches users as a one-line error."""

from __future__ import annotations

__all__ = ["HwsimError"]


class HwsimError(Exception):
    """Bad input from a user: a file, key or value that is not what was expected.

    The message is one line that names the file, key or value and what was expected.
    The CLI prints it as ``hwsim: error: <message>`` and exits with status 2; the Python API
    lets it propagate. Internal bugs are never raised as ``HwsimError``.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
