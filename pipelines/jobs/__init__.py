"""Plain ``spark-submit`` entries, one module per job; see ``pipelines.jobs.entry``."""
