"""Reversible maps from data-set account names to valid meterhouse tenant ids.

A tenant id must match ``TENANT_ID_PATTERN`` because it reaches storage paths
and export names. Each map here is injective and has an exact inverse, so an
invoice line can always be traced back to the account in the source data. Each
inverse raises ``ValueError`` for an id that its map never returns.
"""

from __future__ import annotations

import base64
import binascii
import re

from pipelines.config import TENANT_ID_PATTERN

TENANT_ID_MAX_LENGTH = 128
GOOGLE_CLUSTER_PREFIX = "gc-"
AZURE_SUBSCRIPTION_PREFIX = "azure-sub-"
ENCODED_ACCOUNT_PREFIX = "focus-b64-"
# Matched with fullmatch, so a trailing newline does not pass.
AZURE_SUBSCRIPTION = re.compile(r"/subscriptions/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
# `focus_account_to_tenant_id` base64-encodes a FOCUS account that already
# starts with one of these, so it cannot collide with an id another map returns.
_RESERVED_PREFIXES = (AZURE_SUBSCRIPTION_PREFIX, ENCODED_ACCOUNT_PREFIX, GOOGLE_CLUSTER_PREFIX)


def _is_tenant_id(text: str) -> bool:
    return TENANT_ID_PATTERN.fullmatch(text) is not None


def google_user_to_tenant_id(user: str) -> str:
    """Map a Google trace user (standard base64 of a hash) to ``gc-`` + URL-safe base64.

    ``+`` becomes ``-``, ``/`` becomes ``_`` and the ``=`` padding is dropped.
    Raises ``ValueError`` when ``user`` is not canonical base64, because the
    inverse could not restore it, or when it decodes to more than 93 bytes,
    because the tenant id would exceed 128 characters.

    >>> google_user_to_tenant_id("70s3v5qRyCO/1PCdI6fVXnrW8FU/w+5CKRSa72xgcIo=")
    'gc-70s3v5qRyCO_1PCdI6fVXnrW8FU_w-5CKRSa72xgcIo'
    """
    try:
        raw = base64.b64decode(user, validate=True)
    except binascii.Error as error:
        raise ValueError(f"trace user {user!r} is not valid base64: {error}") from None
    if base64.b64encode(raw).decode("ascii") != user:
        raise ValueError(f"trace user {user!r} is not canonical base64, so it cannot be mapped reversibly")
    tenant_id = GOOGLE_CLUSTER_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    if not _is_tenant_id(tenant_id):
        raise ValueError(f"trace user of {len(user)} characters maps to a tenant id of {len(tenant_id)} characters, "
                         f"more than the limit of {TENANT_ID_MAX_LENGTH}")
    return tenant_id


def tenant_id_to_google_user(tenant_id: str) -> str:
    """Invert ``google_user_to_tenant_id``; raises ``ValueError`` for other ids."""
    if not tenant_id.startswith(GOOGLE_CLUSTER_PREFIX):
        raise ValueError(f"tenant id {tenant_id!r} does not start with {GOOGLE_CLUSTER_PREFIX!r}")
    encoded = tenant_id.removeprefix(GOOGLE_CLUSTER_PREFIX)
    # urlsafe_b64decode skips characters outside the alphabet, so check them first.
    if not re.fullmatch(r"[A-Za-z0-9_-]*", encoded):
        raise ValueError(f"tenant id {tenant_id!r} is not {GOOGLE_CLUSTER_PREFIX!r} + unpadded URL-safe base64")
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        user = base64.b64encode(base64.urlsafe_b64decode(padded)).decode("ascii")
    except binascii.Error as error:
        raise ValueError(f"tenant id {tenant_id!r} is not {GOOGLE_CLUSTER_PREFIX!r} + unpadded URL-safe base64: "
                         f"{error}") from None
    if google_user_to_tenant_id(user) != tenant_id:
        raise ValueError(f"tenant id {tenant_id!r} is not canonical base64, so no trace user maps to it")
    return user


def focus_account_to_tenant_id(sub_account_id: str) -> str:
    """Map a FOCUS ``SubAccountId`` to a tenant id.

    An id that already matches the tenant id pattern is kept as is (AWS account
    numbers, Oracle OCIDs), unless it starts with a prefix reserved above. An
    Azure ``/subscriptions/<guid>`` becomes ``azure-sub-<guid>``. Anything else
    becomes ``focus-b64-`` + URL-safe base64 of its UTF-8 bytes, unpadded.
    Raises ``ValueError`` when the result would exceed the pattern's 128 characters.

    >>> focus_account_to_tenant_id("/subscriptions/64e355d7-997c-491d-b0c1-8414dccfcf42")
    'azure-sub-64e355d7-997c-491d-b0c1-8414dccfcf42'
    """
    if _is_tenant_id(sub_account_id) and not sub_account_id.startswith(_RESERVED_PREFIXES):
        return sub_account_id
    azure = AZURE_SUBSCRIPTION.fullmatch(sub_account_id)
    if azure:
        return AZURE_SUBSCRIPTION_PREFIX + azure.group(1)
    encoded = base64.urlsafe_b64encode(sub_account_id.encode("utf-8")).decode("ascii").rstrip("=")
    tenant_id = ENCODED_ACCOUNT_PREFIX + encoded
    if not _is_tenant_id(tenant_id):
        raise ValueError(f"SubAccountId {sub_account_id!r} is too long to map to a tenant id of at most "
                         f"{TENANT_ID_MAX_LENGTH} characters")
    return tenant_id


def tenant_id_to_focus_account(tenant_id: str) -> str:
    """Invert ``focus_account_to_tenant_id``; raises ``ValueError`` for ids that it never returns."""
    if tenant_id.startswith(AZURE_SUBSCRIPTION_PREFIX):
        account = "/subscriptions/" + tenant_id.removeprefix(AZURE_SUBSCRIPTION_PREFIX)
    elif tenant_id.startswith(ENCODED_ACCOUNT_PREFIX):
        encoded = tenant_id.removeprefix(ENCODED_ACCOUNT_PREFIX)
        if not re.fullmatch(r"[A-Za-z0-9_-]*", encoded):
            raise ValueError(f"tenant id {tenant_id!r} is not {ENCODED_ACCOUNT_PREFIX!r} + unpadded URL-safe base64")
        try:
            account = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        except ValueError as error:
            raise ValueError(f"tenant id {tenant_id!r} does not decode to a UTF-8 SubAccountId: {error}") from None
    else:
        account = tenant_id
    # The map is injective, so exactly one account maps to an id in its image.
    if focus_account_to_tenant_id(account) != tenant_id:
        raise ValueError(f"tenant id {tenant_id!r} is not the tenant id of any FOCUS SubAccountId")
    return account
