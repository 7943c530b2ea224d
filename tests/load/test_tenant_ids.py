"""Tenant id maps of the replayed data sets: valid ids and exact round trips."""

import csv

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
