"""Audit: rebuild issued documents from table history and keep a tamper-evident ledger.

``rebuild`` recomputes a document from the Delta versions it records,
``ledger`` chains every issued document with SHA-256, ``history`` shows who
changed a table and how, and ``retention`` keeps that history for the audit
window.
"""
