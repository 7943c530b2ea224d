"""Exception types raised by meterhouse.

Every message names the input (file, key, table, tenant), what was expected,
what was found and how to fix it.
"""


class MeterhouseError(Exception):
    """Base class for every error that meterhouse raises on purpose."""


class ConfigError(MeterhouseError):
    """A configuration file is missing, unreadable or invalid.

    ``problems`` lists every problem found, so one run reports all of them.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


class BrokerError(MeterhouseError):
    """The local Kafka broker could not be started, stopped or reached."""


class SetupError(MeterhouseError):
    """A runtime dependency (jars, Java, Maven) is missing or failed to install."""


class BillingError(MeterhouseError):
    """An invoice cannot be computed or changed as requested."""


class DataLossError(MeterhouseError):
    """Records that must be billed were lost or cannot be accounted for."""


class CheckpointError(MeterhouseError):
    """A streaming checkpoint is damaged or no longer matches the tables it reads and writes."""
