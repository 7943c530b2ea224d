"""Tenant id maps of the replayed data sets: valid ids and exact round trips."""

import base64
import csv
import re

import pytest

from pipelines.config import PROJECT_ROOT, TENANT_ID_PATTERN
from pipelines.load.datasets import FOCUS, GOOGLE_CLUSTER
from pipelines.load.focus import read_focus_rows
from pipelines.load.google_cluster import google_cluster_tenants
from pipelines.load.tenant_ids import (
    focus_account_to_tenant_id,
    google_user_to_tenant_id,
    tenant_id_to_focus_account,
    tenant_id_to_google_user,
)

GOOGLE_TENANT_LIST = PROJECT_ROOT / "conf" / "tenants" / "google-cluster.csv"


def read_tenant_list(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_google_user_maps_to_url_safe_id():
    user = "70s3v5qRyCO/1PCdI6fVXnrW8FU/w+5CKRSa72xgcIo="

    tenant_id = google_user_to_tenant_id(user)

    assert tenant_id == "gc-70s3v5qRyCO_1PCdI6fVXnrW8FU_w-5CKRSa72xgcIo"
    assert tenant_id_to_google_user(tenant_id) == user


def test_google_round_trip_all_525_users():
    rows = read_tenant_list(GOOGLE_TENANT_LIST)

    users = [row["name"] for row in rows]

    assert len(set(users)) == 525
    for row in rows:
        assert google_user_to_tenant_id(row["name"]) == row["tenant_id"]
        assert tenant_id_to_google_user(row["tenant_id"]) == row["name"]
        assert TENANT_ID_PATTERN.match(row["tenant_id"])


@pytest.mark.slow
def test_google_tenant_list_matches_trace():
    tenants = google_cluster_tenants(GOOGLE_CLUSTER.path())

    listed = {row["tenant_id"]: row["name"] for row in read_tenant_list(GOOGLE_TENANT_LIST)}

    assert tenants == listed


def test_google_user_rejects_non_canonical_base64():
    with pytest.raises(ValueError, match="not canonical base64"):
        google_user_to_tenant_id("AB==")


def test_focus_accounts_round_trip_on_sample():
    accounts = {row["SubAccountId"] for row in read_focus_rows(FOCUS.path())}

    tenant_ids = {account: focus_account_to_tenant_id(account) for account in accounts}

    assert len(accounts) == 73
    assert len(set(tenant_ids.values())) == 73
    for account, tenant_id in tenant_ids.items():
        assert TENANT_ID_PATTERN.match(tenant_id)
        assert tenant_id_to_focus_account(tenant_id) == account


@pytest.mark.parametrize(
    ("account", "tenant_id"),
    [
        ("51738928782", "51738928782"),
        ("ocid6.tenancy.oc6..aaaaaaaa2fs7", "ocid6.tenancy.oc6..aaaaaaaa2fs7"),
        ("/subscriptions/64e355d7-997c-491d-b0c1-8414dccfcf42", "azure-sub-64e355d7-997c-491d-b0c1-8414dccfcf42"),
        ("azure-sub-1", "focus-b64-YXp1cmUtc3ViLTE"),
        ("/tenants/a b", "focus-b64-L3RlbmFudHMvYSBi"),
    ],
)
def test_focus_account_mapping(account, tenant_id):
    assert focus_account_to_tenant_id(account) == tenant_id
    assert tenant_id_to_focus_account(tenant_id) == account


@pytest.mark.parametrize("account", [
    "123456789012\n",
    "/subscriptions/64e355d7-997c-491d-b0c1-8414dccfcf42\n",
    "gc-70s3v5qRyCO_1PCdI6fVXnrW8FU_w-5CKRSa72xgcIo",
    "gc-",
    "azure-sub-64e355d7-997c-491d-b0c1-8414dccfcf42",
    "focus-b64-YXp1cmUtc3ViLTE",
    "",
])
def test_focus_account_edge_cases_round_trip(account):
    tenant_id = focus_account_to_tenant_id(account)

    assert TENANT_ID_PATTERN.fullmatch(tenant_id)
    assert tenant_id.startswith("focus-b64-")
    assert tenant_id_to_focus_account(tenant_id) == account


def test_focus_trailing_newline_kept_apart():
    azure = "/subscriptions/64e355d7-997c-491d-b0c1-8414dccfcf42"

    assert focus_account_to_tenant_id("123456789012\n") != "123456789012"
    assert focus_account_to_tenant_id(azure + "\n") != focus_account_to_tenant_id(azure)
    assert "\n" not in focus_account_to_tenant_id("123456789012\n")


def test_focus_gc_prefix_reserved():
    google_id = google_user_to_tenant_id("70s3v5qRyCO/1PCdI6fVXnrW8FU/w+5CKRSa72xgcIo=")

    assert focus_account_to_tenant_id(google_id) != google_id
    with pytest.raises(ValueError, match="is not the tenant id of any FOCUS SubAccountId"):
        tenant_id_to_focus_account(google_id)


def test_focus_account_too_long_rejected():
    with pytest.raises(ValueError, match="is too long to map to a tenant id of at most 128 characters"):
        focus_account_to_tenant_id("/" * 90)


@pytest.mark.parametrize("tenant_id", [
    "azure-sub-not-a-guid",
    "azure-sub-64e355d7-997c-491d-b0c1-8414dccfcf42\n",
    "focus-b64-YXp1cmUtc3ViLTE=",
    "focus-b64-YXp1cmUt c3ViLTE",
    "focus-b64-MTIz",
    "focus-b64-_w",
    "123456789012\n",
    "-leading-dash",
])
def test_focus_inverse_rejects_ids_outside_the_map(tenant_id):
    with pytest.raises(ValueError, match=r"tenant id .* (is not|does not decode)"):
        tenant_id_to_focus_account(tenant_id)


def test_google_user_id_length_limit():
    longest = base64.b64encode(b"\xfb" * 93).decode("ascii")
    too_long = base64.b64encode(b"\xfb" * 94).decode("ascii")

    tenant_id = google_user_to_tenant_id(longest)
    assert len(tenant_id) == 127
    assert tenant_id_to_google_user(tenant_id) == longest
    with pytest.raises(ValueError, match="maps to a tenant id of 129 characters, more than the limit of 128"):
        google_user_to_tenant_id(too_long)
    with pytest.raises(ValueError, match="maps to a tenant id of 270 characters, more than the limit of 128"):
        google_user_to_tenant_id(base64.b64encode(bytes(200)).decode("ascii"))


@pytest.mark.parametrize("user", ["AAAA\n", "AAAA AAAA", "AA-_"])
def test_google_user_rejects_non_base64(user):
    with pytest.raises(ValueError, match="is not valid base64"):
        google_user_to_tenant_id(user)


@pytest.mark.parametrize(("tenant_id", "fragment"), [
    ("tenant-0001", "does not start with 'gc-'"),
    ("gc-AAAA\n", "is not 'gc-' + unpadded URL-safe base64"),
    ("gc-AA+A", "is not 'gc-' + unpadded URL-safe base64"),
    ("gc-AAAA=", "is not 'gc-' + unpadded URL-safe base64"),
    ("gc-A", "is not 'gc-' + unpadded URL-safe base64"),
    ("gc-AB", "is not canonical base64"),
])
def test_google_inverse_rejects_ids_outside_the_map(tenant_id, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        tenant_id_to_google_user(tenant_id)
