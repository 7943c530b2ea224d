# Databricks notebook source
# MAGIC %md
# MAGIC # meterhouse: export
# MAGIC Exports a period for finance as CSV and Parquet, for all tenants and per tenant, with a manifest.
# MAGIC
# MAGIC Runs the same code as `spark-submit pipelines/jobs/export.py`. Each widget is one job parameter:
# MAGIC `conf` is the environment file, a name with a dot (`lake.root`) overrides that setting, and an
# MAGIC empty widget is left out. The job fails the task when it exits with an error.

# COMMAND ----------

dbutils.widgets.text("conf", "", "Environment file")
dbutils.widgets.text("lake.root", "", "Lake root (override)")
dbutils.widgets.text("lake.catalog", "", "Unity Catalog schema (override)")
dbutils.widgets.text("exports.root", "", "Exports root (override)")
dbutils.widgets.text("period", "", "Period (YYYY-MM)")
dbutils.widgets.text("month_of", "", "Or: the month of this date (YYYY-MM-DD)")
dbutils.widgets.text("previous_month_of", "", "Or: the month before this date (YYYY-MM-DD)")

# COMMAND ----------

from pipelines.jobs import export
from pipelines.jobs.notebook import run_job_from_widgets

run_job_from_widgets(export.JOB, dbutils.widgets.getAll())
