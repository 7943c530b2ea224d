"""Billing: plans and pricing models, subscriptions and periods, invoices.

``compute_invoices`` rates a period and writes nothing; ``write_invoices``
upserts the drafts and finalizes them. Pricing (``models``, ``rating``) is
pure Python on ``decimal.Decimal``; Spark only reads usage and writes the
invoice tables.
"""
