"""Write the configuration files that the load tools need, from the data sets.

Run ``python -m pipelines.load.reference_files`` after a data set changes; the
output is deterministic, so an unchanged data set rewrites identical files:

* ``conf/tenants/synthetic.csv``: tenant-0001 … tenant-1000 on plan saas-standard.
* ``conf/tenants/google-cluster.csv``: every trace user on plan cluster-compute;
  ``name`` is the trace's user hash, the inverse of the tenant id.
* ``conf/tenants/focus.csv``: every SubAccountId on plan focus-list-price, named
  by SubAccountName.
* ``conf/price-books/focus-list-prices.csv``: list unit price per SkuPriceId.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.config import PROJECT_ROOT
from pipelines.load.errors import LoadError
from pipelines.load.datasets import DATA_ROOT, FOCUS, GOOGLE_CLUSTER, verify_data_set
from pipelines.load.focus import build_price_book, focus_tenants, read_focus_rows, write_price_book
from pipelines.load.generator import SYNTHETIC_PLAN, SYNTHETIC_TENANT_COUNT, synthetic_tenant_id
from pipelines.load.google_cluster import google_cluster_tenants

log = logging.getLogger(__name__)

CONF_ROOT = PROJECT_ROOT / "conf"
GOOGLE_CLUSTER_PLAN = "cluster-compute"
FOCUS_PLAN = "focus-list-price"
TENANT_LIST_COLUMNS = ("tenant_id", "name", "plan")


def write_tenant_list(names: dict[str, str], plan: str, path: Path) -> None:
    """Write ``tenant_id,name,plan`` rows, one per tenant, in the order given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TENANT_LIST_COLUMNS)
        for tenant_id, name in names.items():
            writer.writerow([tenant_id, name, plan])


def synthetic_tenants() -> dict[str, str]:
    return {synthetic_tenant_id(number): f"Synthetic tenant {number}" for number in range(1, SYNTHETIC_TENANT_COUNT + 1)}


def write_reference_files(conf_root: Path = CONF_ROOT, data_root: Path = DATA_ROOT) -> list[Path]:
    """Write the three tenant lists and the FOCUS price book; return their paths.

    Raises ``DataSetError`` when a data set fails its SHA-256 check, and
    ``LoadError`` naming the SkuPriceIds whose list prices disagree.
    """
    verify_data_set(GOOGLE_CLUSTER, data_root)
    verify_data_set(FOCUS, data_root)
    focus_rows = list(read_focus_rows(FOCUS.path(data_root)))
    book = build_price_book(focus_rows)
    if book.conflicts:
        raise LoadError(f"the FOCUS sample lists several ListUnitPrice values for these SkuPriceIds: {book.conflicts}")

    outputs = {
        conf_root / "tenants" / "synthetic.csv": lambda path: write_tenant_list(synthetic_tenants(), SYNTHETIC_PLAN, path),
        conf_root / "tenants" / "google-cluster.csv": lambda path: write_tenant_list(
            google_cluster_tenants(GOOGLE_CLUSTER.path(data_root)), GOOGLE_CLUSTER_PLAN, path),
        conf_root / "tenants" / "focus.csv": lambda path: write_tenant_list(focus_tenants(focus_rows), FOCUS_PLAN, path),
        conf_root / "price-books" / "focus-list-prices.csv": lambda path: write_price_book(book, path),
    }
    for path, write in outputs.items():
        write(path)
        log.info("wrote %s", path)
    return list(outputs)


def build_parser() -> argparse.ArgumentParser:
    description = "\n".join([
        f"Check the SHA-256 sums of the data sets under {DATA_ROOT}, then rewrite these files from them:",
        f"  {CONF_ROOT}/tenants/synthetic.csv             "
        f"tenant-0001 to tenant-{SYNTHETIC_TENANT_COUNT:04d}, plan {SYNTHETIC_PLAN}",
        f"  {CONF_ROOT}/tenants/google-cluster.csv        "
        f"every user of the Google cluster trace, plan {GOOGLE_CLUSTER_PLAN}",
        f"  {CONF_ROOT}/tenants/focus.csv                 "
        f"every SubAccountId of the FOCUS sample, plan {FOCUS_PLAN}",
        f"  {CONF_ROOT}/price-books/focus-list-prices.csv "
        "list unit price per SkuPriceId of the FOCUS sample",
        "",
        "The output is deterministic, so unchanged data sets give identical files.",
    ])
    return argparse.ArgumentParser(prog="python -m pipelines.load.reference_files", description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        written = write_reference_files()
    except LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
