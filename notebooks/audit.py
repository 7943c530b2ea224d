# Databricks notebook source
# MAGIC %md
# MAGIC # meterhouse: audit
# MAGIC Rebuilds issued invoices by Delta time travel and compares them with the stored ones.
# MAGIC
# MAGIC Runs the same code as `spark-submit pipelines/jobs/audit.py`. Each widget is one job parameter:
# MAGIC `conf` is the environment file, a name with a dot (`lake.root`) overrides that setting, and an
# MAGIC empty widget is left out. The job fails the task when it exits with an error.

# COMMAND ----------

dbutils.widgets.text("conf", "", "Environment file")
dbutils.widgets.text("lake.root", "", "Lake root (override)")
dbutils.widgets.text("lake.catalog", "", "Unity Catalog schema (override)")
dbutils.widgets.text("exports.root", "", "Exports root (override)")
dbutils.widgets.text("arguments", "", "Action and its arguments, e.g. ledger")

# COMMAND ----------

from pipelines.jobs import audit
from pipelines.jobs.notebook import run_job_from_widgets

run_job_from_widgets(audit.JOB, dbutils.widgets.getAll())
