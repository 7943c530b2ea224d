"""Exception types of the load tools (generate, replay, publish)."""

from pipelines.errors import MeterhouseError


class LoadError(MeterhouseError):
    """A load cannot start: invalid options, unknown tenants or a bad data set."""


class DataSetError(LoadError):
    """A data set copy is missing, incomplete or does not match its SHA256SUMS."""


class PublishError(MeterhouseError):
    """Records were not delivered to Kafka; the topic may hold only part of the load."""
