# Databricks notebook source
# MAGIC %md
# MAGIC # meterhouse: quality
# MAGIC Validates silver, gold or invoices with the expectation suites and records the results.
# MAGIC
# MAGIC Runs the same code as `spark-submit pipelines/jobs/quality.py`. Each widget is one job parameter:
# MAGIC `conf` is the environment file, a name with a dot (`lake.root`) overrides that setting, and an
# MAGIC empty widget is left out. The job fails the task when it exits with an error.

# COMMAND ----------

dbutils.widgets.text("conf", "", "Environment file")
dbutils.widgets.text("lake.root", "", "Lake root (override)")
dbutils.widgets.text("lake.catalog", "", "Unity Catalog schema (override)")
dbutils.widgets.text("exports.root", "", "Exports root (override)")
dbutils.widgets.text("table", "", "Tables to validate (default: all)")

# COMMAND ----------

from pipelines.jobs import quality
from pipelines.jobs.notebook import run_job_from_widgets

run_job_from_widgets(quality.JOB, dbutils.widgets.getAll())
