"""FOCUS sample replay: row mapping, skips and the list-price book."""

from datetime import datetime, timezone
from decimal import Decimal

from pipelines.load.focus import build_focus_events, build_price_book, write_price_book

NOVEMBER = datetime(2024, 11, 1, tzinfo=timezone.utc)


def focus_row(row_id, category, account, quantity, sku, start, end, price="0.008"):
    return {
        "Id": row_id, "ChargeCategory": category, "SubAccountId": account, "SubAccountName": "Atlas Nimbus",
        "PricingQuantity": quantity, "PricingUnit": "Hours", "SkuPriceId": sku, "ListUnitPrice": price,
        "BillingCurrency": "USD", "ChargePeriodStart": start, "ChargePeriodEnd": end,
        "ProviderName": "AWS", "ServiceName": "Amazon EC2",
    }


ROWS = [
    focus_row("11472", "Usage", "51738928782", "2.00000000000", "G95.JRT.VXG", "2024-09-18 22:00:00", "2024-09-18 23:00:00"),
    focus_row("5201819", "Usage", "/subscriptions/64e355d7-997c-491d-b0c1-8414dccfcf42", "0.00200749000", "1073924",
              "2024-09-30 00:00:00", "2024-10-01 00:00:00", price="9.28"),
    focus_row("2555992", "Credit", "51738928782", "0.00000000000", "NULL", "2024-09-01 00:00:00",
              "2024-10-01 00:00:00", price="NULL"),
]


def test_focus_rows_become_usage_events():
    replay = build_focus_events(ROWS, NOVEMBER)

    assert [(event.tenant_id, event.event_id, event.event_type, event.time) for event in replay.events] == [
        ("51738928782", "focus-202411-11472", "focus.usage", datetime(2024, 11, 18, 22, tzinfo=timezone.utc)),
        ("azure-sub-64e355d7-997c-491d-b0c1-8414dccfcf42", "focus-202411-5201819", "focus.usage",
         datetime(2024, 11, 30, tzinfo=timezone.utc)),
    ]
    assert [event.data["pricing_quantity"] for event in replay.events] == [Decimal("2.00000000000"),
                                                                            Decimal("0.00200749000")]
    assert [event.data["sku_price_id"] for event in replay.events] == ["G95.JRT.VXG", "1073924"]
    assert replay.events[1].data["charge_period_end"] == "2024-12-01T00:00:00Z"


def test_focus_replay_counts_skipped_rows():
    negative = focus_row("5234737", "Usage", "51738928782", "-0.00138900000", "1073924",
                         "2024-09-02 00:00:00", "2024-09-03 00:00:00")
    no_sku = focus_row("5136076", "Usage", "51738928782", "8.00000000000", "", "2024-09-02 00:00:00",
                       "2024-09-02 01:00:00")

    replay = build_focus_events([*ROWS, negative, no_sku], NOVEMBER)

    assert replay.rows == 5
    assert len(replay.events) == 2
    assert dict(replay.skipped) == {"charge_category_credit": 1, "negative_pricing_quantity": 1,
                                    "missing_sku_price_id": 1}


def test_price_book_keeps_exact_string_and_reports_conflicts(tmp_path):
    rows = [
        *ROWS,
        focus_row("1", "Usage", "1", "1", "G95.JRT.VXG", "2024-09-01 00:00:00", "2024-09-01 01:00:00", price="0.0080"),
        focus_row("2", "Usage", "1", "1", "SKU-X", "2024-09-01 00:00:00", "2024-09-01 01:00:00", price="0.1"),
        focus_row("3", "Usage", "1", "1", "SKU-X", "2024-09-01 00:00:00", "2024-09-01 01:00:00", price="0.2"),
    ]

    book = build_price_book(rows)
    write_price_book(book, tmp_path / "prices.csv")

    assert book.prices == {"1073924": ("9.28", "USD"), "G95.JRT.VXG": ("0.008", "USD")}
    assert book.conflicts == {"SKU-X": ["0.1 USD", "0.2 USD"]}
    assert (tmp_path / "prices.csv").read_text() == (
        "sku_price_id,unit_price,currency\n1073924,9.28,USD\nG95.JRT.VXG,0.008,USD\n")
