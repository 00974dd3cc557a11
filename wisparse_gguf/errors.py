"""The one exception type the CLI turns into a one-line error message."""


class WisparseError(Exception):
    """A user-facing problem (bad path, bad input file, unsupported model...)."""
