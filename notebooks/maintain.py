# Databricks notebook source
# MAGIC %md
# MAGIC # meterhouse: maintain
# MAGIC Runs table maintenance (compaction, vacuum) on the lake.
# MAGIC
# MAGIC Runs the same code as `spark-submit pipelines/jobs/maintain.py`. Each widget is one job parameter:
# MAGIC `conf` is the environment file, a name with a dot (`lake.root`) overrides that setting, and an
# MAGIC empty widget is left out. The job fails the task when it exits with an error.

# COMMAND ----------

dbutils.widgets.text("conf", "", "Environment file")
dbutils.widgets.text("lake.root", "", "Lake root (override)")
dbutils.widgets.text("lake.catalog", "", "Unity Catalog schema (override)")
dbutils.widgets.text("exports.root", "", "Exports root (override)")
dbutils.widgets.text("table", "", "Only these tables (comma-separated)")
dbutils.widgets.text("retain_days", "", "Days of history that vacuum keeps")

# COMMAND ----------

from pipelines.jobs import maintain
from pipelines.jobs.notebook import run_job_from_widgets

run_job_from_widgets(maintain.JOB, dbutils.widgets.getAll())
