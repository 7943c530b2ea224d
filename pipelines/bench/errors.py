"""The error a benchmark raises when a run cannot be measured."""

from pipelines.errors import MeterhouseError


class BenchError(MeterhouseError):
    """A stream process failed, or did not start or commit within its timeout."""
