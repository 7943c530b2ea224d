"""Exception types of the audit and maintenance jobs."""

from __future__ import annotations

from pipelines.errors import MeterhouseError


class AuditError(MeterhouseError):
    """A document cannot be rebuilt or a ledger cannot be verified as requested."""


class VersionUnavailableError(AuditError):
    """A table version an audit needs is outside the table's retention window.

    VACUUM removed its data files or log cleanup removed its commit, so Delta
    time travel cannot read it any more.
    """


class RetentionError(MeterhouseError):
    """A retention setting or request is shorter than the window that must be kept."""
