"""The trigger shared by the bronze, silver and gold queries."""

from pyspark.sql.streaming import DataStreamWriter

from pipelines.config import Settings


def with_trigger(writer: DataStreamWriter, settings: Settings, run_once: bool) -> DataStreamWriter:
    """Process what is available now and stop (``run_once``), or run one batch per interval."""
    if run_once:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=f"{settings.ingest.trigger_interval_seconds} seconds")
