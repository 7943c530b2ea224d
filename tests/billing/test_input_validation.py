"""Invalid plan, price book, subscription and command-line inputs: clear errors, no crashes.

Pure Python: no test here builds a Spark session. The command-line tests
replace the session builders with a function that fails the test.
"""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from pipelines import cli
from pipelines.billing import invoices
from pipelines.billing.invoices import MAX_GRACE_HOURS, grace_period, write_invoices
from pipelines.billing.models.base import read_decimal, read_tiers
from pipelines.billing.money import rounding_mode
from pipelines.billing.plans import load_plans
from pipelines.billing.subscriptions import subscriptions_from_records
from pipelines.errors import BillingError, ConfigError
from tests.billing.helpers import PRICE_BOOK, catalog_for, write_plans

BOOK_HEADER = "sku_price_id,unit_price,currency\n"


def plan_with(charge: str, extra: str = "") -> str:
    """Return a one-plan file whose only charge is ``charge`` (a YAML flow mapping)."""
    return f"plans:\n  p:\n    currency: USD\n{extra}    charges:\n      - {charge}\n"


def plan_problems(tmp_path, settings, text: str, book: str = PRICE_BOOK) -> list[str]:
    path = write_plans(tmp_path, text, book)
    with pytest.raises(ConfigError) as raised:
        load_plans(path, settings.meters)
    return raised.value.problems


def subscription_problems(tmp_path, settings, attributes: dict) -> list[str]:
    catalog = catalog_for(tmp_path, settings.meters)
    with pytest.raises(ConfigError) as raised:
        subscriptions_from_records({"t1": attributes}, catalog, source="tenants.yaml")
    return raised.value.problems


def decimal_problems(value) -> tuple[Decimal | None, list[str]]:
    problems: list[str] = []
    number = read_decimal({"unit_price": value}, "unit_price", "plans.p.charges[0] (api)", problems)
    return number, problems


# Wrong types in plan files ----------------------------------------------------

WRONG_TYPE_CHARGES = [
    ('{id: api, meter: [api_requests], model: per_unit, unit_price: "1"}', "meter must be one of",
     "found ['api_requests']"),
    ('{id: api, meter: {a: 1}, model: per_unit, unit_price: "1"}', "meter must be one of", "found {'a': 1}"),
    ("{id: api, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, price_book: 5}",
     "price_book must be a non-empty string", "found 5"),
    ("{id: api, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, price_book: [a]}",
     "price_book must be a non-empty string", "found ['a']"),
    ('{id: api, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, price_book: ""}',
     "price_book must be a non-empty string", "found ''"),
    ("{id: api, meter: focus_pricing_quantity, model: per_unit, price_by: [sku_price_id], price_book: book.csv}",
     "price_by must be a non-empty string", "found ['sku_price_id']"),
    ('{id: [api], meter: api_requests, model: per_unit, unit_price: "1"}', "id must be a string",
     "found ['api']"),
    ('{id: api, meter: api_requests, model: per_unit, unit_price: "1", 1: x, foo: y}',
     "unknown properties [1, 'foo'] for model per_unit", "valid properties are"),
]


@pytest.mark.parametrize(("charge", "rule", "found"), WRONG_TYPE_CHARGES)
def test_charge_wrong_types_reported(tmp_path, settings, charge, rule, found):
    problems = plan_problems(tmp_path, settings, plan_with(charge))

    assert len(problems) == 1, problems
    assert problems[0].startswith("plans.p.charges[0]")
    assert rule in problems[0]
    assert found in problems[0]


def test_plan_mixed_unknown_keys_reported(tmp_path, settings):
    charge = '{id: api, meter: api_requests, model: per_unit, unit_price: "1"}'
    problems = plan_problems(tmp_path, settings, plan_with(charge, extra="    1: x\n    foo: y\n"))

    assert problems == [f"plans.p: unknown keys [1, 'foo']; valid keys are ['billing_period', 'charges', "
                        f"'currency', 'discounts', 'minimum_commitment', 'name']"]


def test_tier_mixed_unknown_keys_reported(tmp_path, settings):
    charge = '{id: t, meter: api_requests, model: graduated, tiers: [{up_to: null, unit_price: "1", 1: x, foo: y}]}'
    problems = plan_problems(tmp_path, settings, plan_with(charge))

    assert len(problems) == 1, problems
    assert "tiers[0]: unknown keys [1, 'foo']" in problems[0]


def test_plan_discounts_string_reported_once(tmp_path, settings):
    charge = '{id: api, meter: api_requests, model: per_unit, unit_price: "1"}'
    problems = plan_problems(tmp_path, settings, plan_with(charge, extra="    discounts: abc\n"))

    assert problems == ["plans.p.discounts: expected a list, found 'abc'"]


# Price books --------------------------------------------------------------------

LIST_PRICE_PLAN = plan_with(
    "{id: list, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, price_book: book.csv}")
DIRECTORY_PLAN = plan_with(
    "{id: list, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, price_book: .}")


def test_price_book_directory_reported(tmp_path, settings):
    problems = plan_problems(tmp_path, settings, DIRECTORY_PLAN)

    assert problems == [f"price book {tmp_path} is not a regular file (a directory or device); name a CSV file"]


def test_price_book_not_utf8_reported(tmp_path, settings):
    path = write_plans(tmp_path, LIST_PRICE_PLAN)
    (tmp_path / "book.csv").write_bytes(BOOK_HEADER.encode() + b"sku-\xff,1,USD\n")

    with pytest.raises(ConfigError) as raised:
        load_plans(path, settings.meters)

    assert raised.value.problems == [f"price book {tmp_path / 'book.csv'}: not valid UTF-8 (byte 0xff at offset 37); "
                                     f"save the file as UTF-8"]


def test_price_book_keeps_quoted_line_breaks(tmp_path, settings):
    book = BOOK_HEADER + '"sku\u2028a",0.25,USD\r\n"sku\nb",1.5,USD\n"sku,c",2,USD\n'
    path = write_plans(tmp_path, LIST_PRICE_PLAN, book)

    charge = load_plans(path, settings.meters)["p"].charges[0]

    assert charge.model.prices == {"sku\u2028a": Decimal("0.25"), "sku\nb": Decimal("1.5"), "sku,c": Decimal("2")}


def test_price_book_line_numbers_count_record_lines(tmp_path, settings):
    book = BOOK_HEADER + '"sku\nb",1.5,USD\nsku-c,abc,USD\n'

    problems = plan_problems(tmp_path, settings, LIST_PRICE_PLAN, book)

    assert problems == ["price book book.csv:4: unit_price must be a decimal string such as \"0.10\", found 'abc'"]


@pytest.mark.parametrize(("book", "expected"), [
    (BOOK_HEADER, "has no prices; add one row per SKU below the header"),
    (BOOK_HEADER + "\n\n", "has no prices; add one row per SKU below the header"),
    ("", "is empty; expected the header sku_price_id,unit_price,currency and one row per price"),
])
def test_price_book_without_prices_reported(tmp_path, settings, book, expected):
    problems = plan_problems(tmp_path, settings, LIST_PRICE_PLAN, book)

    assert problems == [f"price book {tmp_path / 'book.csv'} {expected}"]


@pytest.mark.parametrize(("row", "expected"), [
    ("sku-a,1,USD,extra", "book.csv:2: the row has more values than the 3 header columns; quote values that "
                          "contain commas"),
    ("sku-a,1", "book.csv:2: the row has fewer values than the 3 header columns"),
    ("sku-a,1e400,USD", "book.csv:2: unit_price must have at most 26 digits before the decimal point"),
    ("sku-a,0.0000000000001,USD", "book.csv:2: unit_price must have at most 12 digits after the decimal point"),
    ("sku-a,-1,USD", "book.csv:2: unit_price must be a decimal >= 0, found '-1'"),
    ("sku-a,NaN,USD", "book.csv:2: unit_price must be a decimal string"),
])
def test_price_book_row_problems(tmp_path, settings, row, expected):
    problems = plan_problems(tmp_path, settings, LIST_PRICE_PLAN, BOOK_HEADER + row + "\n")

    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_price_book_optional_column_may_be_short(tmp_path, settings):
    book = "sku_price_id,unit_price,currency,description\nsku-a,0.25,USD\nsku-b,1.5,USD,Storage\n"
    path = write_plans(tmp_path, LIST_PRICE_PLAN, book)

    charge = load_plans(path, settings.meters)["p"].charges[0]

    assert charge.model.prices == {"sku-a": Decimal("0.25"), "sku-b": Decimal("1.5")}


def test_price_book_byte_order_mark_accepted(tmp_path, settings):
    path = write_plans(tmp_path, LIST_PRICE_PLAN)
    (tmp_path / "book.csv").write_bytes(b"\xef\xbb\xbf" + PRICE_BOOK.encode())

    charge = load_plans(path, settings.meters)["p"].charges[0]

    assert charge.model.prices == {"sku-a": Decimal("0.25"), "sku-b": Decimal("1.5")}


def test_price_book_problems_reported_once(tmp_path, settings):
    charges = ("{id: one, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, price_book: x.csv}\n"
               "      - {id: two, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, "
               "price_book: x.csv}")

    problems = plan_problems(tmp_path, settings, plan_with(charges))

    assert problems == [f"price book {tmp_path / 'x.csv'} does not exist"]


# Decimal magnitude ---------------------------------------------------------------

@pytest.mark.parametrize(("value", "rule"), [
    ("1e999999", "must have at most 26 digits before the decimal point (DECIMAL(38, 12))"),
    ("1e400", "must have at most 26 digits before the decimal point (DECIMAL(38, 12))"),
    ("1" + "0" * 26, "must have at most 26 digits before the decimal point (DECIMAL(38, 12))"),
    (10 ** 26, "must have at most 26 digits before the decimal point (DECIMAL(38, 12))"),
    ("1e-999999", "must have at most 12 digits after the decimal point (DECIMAL(38, 12))"),
    ("0.0000000000001", "must have at most 12 digits after the decimal point (DECIMAL(38, 12))"),
])
def test_decimal_magnitude_rejected(value, rule):
    number, problems = decimal_problems(value)

    assert number is None
    assert len(problems) == 1
    assert problems[0].startswith(f"plans.p.charges[0] (api): unit_price {rule}, found ")


@pytest.mark.parametrize(("value", "expected"), [
    ("9" * 26, Decimal("9" * 26)),
    ("0.000000000001", Decimal("0.000000000001")),
    ("1.500000000000000000", Decimal("1.5")),
    ("1E+3", Decimal(1000)),
    ("-0", Decimal(0)),
    (" 0.10 ", Decimal("0.10")),
    (7, Decimal(7)),
])
def test_decimal_within_bounds_accepted(value, expected):
    number, problems = decimal_problems(value)

    assert problems == []
    assert number == expected
    assert number.as_tuple().exponent >= -12


@pytest.mark.parametrize(("value", "found"), [
    (True, "found boolean True"),
    (False, "found boolean False"),
    (0.5, "found float 0.5"),
    ("NaN", "found 'NaN'"),
    ("Infinity", "found 'Infinity'"),
    ("\uff11", "found '\uff11'"),
    ("1_000", "found '1_000'"),
    ([1], "found [1]"),
])
def test_decimal_wrong_form_rejected(value, found):
    number, problems = decimal_problems(value)

    assert number is None
    assert len(problems) == 1
    assert "unit_price must be a decimal string such as" in problems[0]
    assert problems[0].endswith(found)


def test_huge_package_size_fraction_rejected(tmp_path, settings):
    charge = '{id: pk, meter: api_requests, model: package, amount: "5", package_size: "1e-999999"}'

    problems = plan_problems(tmp_path, settings, plan_with(charge))

    assert problems == ["plans.p.charges[0] (pk): package_size must have at most 12 digits after the decimal "
                        "point (DECIMAL(38, 12)), found '1e-999999'"]


# Tier bounds ------------------------------------------------------------------------

@pytest.mark.parametrize(("tier", "expected"), [
    ('{up_to: abc, unit_price: "1"}', "up_to must be a decimal string such as \"0.10\", found 'abc'"),
    ('{up_to: 1.5, unit_price: "1"}', "up_to must be a decimal string such as \"1.5\" in quotes, found float 1.5"),
    ('{up_to: "0", unit_price: "1"}', "up_to must be greater than 0, found '0'"),
    ('{upto: "10", unit_price: "1"}', "unknown keys ['upto']; valid keys are ['flat_fee', 'unit_price', 'up_to']; "
                                      "did you mean up_to?"),
])
def test_invalid_up_to_reported_once(tmp_path, settings, tier, expected):
    charge = f'{{id: g, meter: api_requests, model: graduated, tiers: [{tier}, {{up_to: null, unit_price: "1"}}]}}'

    problems = plan_problems(tmp_path, settings, plan_with(charge))

    assert problems == [f"plans.p.charges[0] (g).tiers[0]: {expected}"]


def test_missing_up_to_still_reported():
    problems: list[str] = []

    read_tiers({"tiers": [{"unit_price": "1", "foo": "x"}, {"unit_price": "2"}]}, "c", problems)

    assert problems == ["c.tiers[0]: unknown keys ['foo']; valid keys are ['flat_fee', 'unit_price', 'up_to']",
                        "c.tiers[0]: only the last tier may be unbounded; set up_to"]


# Subscriptions --------------------------------------------------------------------

BASE_SUBSCRIPTION = {"plan": "basic", "subscription_start": "2026-01-01"}


@pytest.mark.parametrize(("attributes", "expected"), [
    ({"plan": ["basic"], "subscription_start": "2026-01-01"},
     "tenants.yaml: tenant t1: subscriptions[0]: plan must be one of"),
    ({"plan": {"basic": 1}, "subscription_start": "2026-01-01"},
     "tenants.yaml: tenant t1: subscriptions[0]: plan must be one of"),
    ({"subscriptions": "basic"},
     "tenants.yaml: tenant t1: subscriptions must be a non-empty list of {plan, start, end} terms, found 'basic'"),
    ({"subscriptions": []},
     "tenants.yaml: tenant t1: subscriptions must be a non-empty list of {plan, start, end} terms, found []"),
    ({**BASE_SUBSCRIPTION, "discounts": "abc"}, "tenants.yaml: tenant t1: discounts: expected a list of discounts, "
                                                "found 'abc'"),
    ({**BASE_SUBSCRIPTION, "tax_percent": "1000"}, "tenants.yaml: tenant t1: tax_percent must be from 0 to 100, "
                                                   "found '1000'"),
    ({**BASE_SUBSCRIPTION, "tax_percent": True}, "tenants.yaml: tenant t1: tax_percent must be a decimal string "
                                                 "such as \"0.10\", found boolean True"),
    ({**BASE_SUBSCRIPTION, "anchor_day": 2.9}, "tenants.yaml: tenant t1: anchor_day must be an integer from 1 to 31, "
                                               "found 2.9"),
    ({**BASE_SUBSCRIPTION, "anchor_day": True}, "tenants.yaml: tenant t1: anchor_day must be an integer from 1 to 31, "
                                                "found True"),
    ({**BASE_SUBSCRIPTION, "anchor_day": "\uff13"}, "tenants.yaml: tenant t1: anchor_day must be an integer from 1 "
                                                    "to 31, found '\uff13'"),
    ({**BASE_SUBSCRIPTION, "billing_timezone": "localtime"}, "tenants.yaml: tenant t1: billing_timezone must be an "
                                                             "IANA time zone such as Europe/Berlin, found 'localtime'"),
    ({**BASE_SUBSCRIPTION, "billing_timezone": ["UTC"]}, "tenants.yaml: tenant t1: billing_timezone must be an IANA "
                                                         "time zone such as Europe/Berlin, found ['UTC']"),
    ({**BASE_SUBSCRIPTION, "billing_timezone": "posix/Europe/Berlin"}, "billing_timezone must be an IANA time zone"),
])
def test_subscription_wrong_input_reported_once(tmp_path, settings, attributes, expected):
    problems = subscription_problems(tmp_path, settings, attributes)

    assert len(problems) == 1, problems
    assert problems[0].startswith(expected) or expected in problems[0]


@pytest.mark.parametrize(("anchor", "expected"), [(15, 15), ("15", 15), (31, 31)])
def test_subscription_anchor_day_accepted(tmp_path, settings, anchor, expected):
    catalog = catalog_for(tmp_path, settings.meters)
    attributes = {**BASE_SUBSCRIPTION, "anchor_day": anchor, "tax_percent": "100", "billing_timezone": "Asia/Tokyo"}

    subscription = subscriptions_from_records({"t1": attributes}, catalog, source="tenants.yaml")["t1"]

    assert subscription.anchor_day == expected
    assert subscription.tax_percent == Decimal(100)
    assert subscription.timezone == "Asia/Tokyo"


# Grace period -------------------------------------------------------------------------

@pytest.mark.parametrize("hours", [-100.0, -0.5, float("nan"), float("inf"), float("-inf"), 1e12, MAX_GRACE_HOURS + 1])
def test_grace_hours_option_rejected(settings, hours):
    with pytest.raises(BillingError) as raised:
        grace_period(settings, hours)

    assert str(raised.value) == (f"--grace-hours must be a finite number of hours from 0 to {MAX_GRACE_HOURS}, "
                                 f"found {hours!r}")


@pytest.mark.parametrize(("hours", "expected"), [(0.0, timedelta(0)), (0.5, timedelta(minutes=30)),
                                                 (MAX_GRACE_HOURS, timedelta(hours=MAX_GRACE_HOURS))])
def test_grace_hours_option_accepted(settings, hours, expected):
    assert grace_period(settings, hours) == expected


@pytest.mark.parametrize(("configured", "rule"), [
    ("abc", "must be a number of hours"),
    (True, "must be a number of hours"),
    ([48], "must be a number of hours"),
    (-1, f"must be a finite number of hours from 0 to {MAX_GRACE_HOURS}"),
    ("nan", f"must be a finite number of hours from 0 to {MAX_GRACE_HOURS}"),
    (10 ** 400, f"must be a finite number of hours from 0 to {MAX_GRACE_HOURS}"),
])
def test_grace_hours_setting_rejected(settings, configured, rule):
    broken = replace(settings, billing={**settings.billing, "grace_hours": configured})

    with pytest.raises(ConfigError) as raised:
        grace_period(broken, None)

    assert raised.value.source == str(settings.source)
    assert raised.value.problems[0].startswith(f"billing.grace_hours {rule}, found ")


@pytest.mark.parametrize(("configured", "expected"), [("24", timedelta(hours=24)), (0, timedelta(0))])
def test_grace_hours_setting_accepted(settings, configured, expected):
    configured_settings = replace(settings, billing={**settings.billing, "grace_hours": configured})

    assert grace_period(configured_settings, None) == expected


def test_write_invoices_keeps_zero_grace(settings, monkeypatch):
    received = {}

    def fake_finalize(spark, settings, period, scope, grace, now):
        received["grace"] = grace
        return []

    monkeypatch.setattr(invoices, "write_documents", lambda spark, settings, documents: [])
    monkeypatch.setattr(invoices, "finalize_invoices", fake_finalize)
    run = SimpleNamespace(period="2026-11", documents=(), closed=(),
                          versions=SimpleNamespace(silver=1, gold=1))
    configured = replace(settings, billing={**settings.billing, "grace_hours": 48})

    write_invoices(None, configured, run, finalize=True, grace=timedelta(0), tenant_ids=["t1"])

    assert received["grace"] == timedelta(0)


def test_write_invoices_rejects_negative_grace(settings, monkeypatch):
    monkeypatch.setattr(invoices, "write_documents", lambda spark, settings, documents: [])
    run = SimpleNamespace(period="2026-11", documents=(), closed=(), versions=SimpleNamespace(silver=1, gold=1))

    with pytest.raises(BillingError, match=r"grace must not be negative, found -1 day, 23:00:00"):
        write_invoices(None, settings, run, finalize=True, grace=timedelta(hours=-1), tenant_ids=["t1"])


def test_rounding_setting_rejected():
    with pytest.raises(ConfigError) as raised:
        rounding_mode({"rounding": "ROUND_SIDEWAYS"}, "conf/local.yaml")

    assert raised.value.source == "conf/local.yaml"
    assert raised.value.problems[0].startswith("billing.rounding must be one of ['ROUND_HALF_UP'")
    assert raised.value.problems[0].endswith("found 'ROUND_SIDEWAYS'")


# Commands reject bad input before Spark starts ------------------------------------------

@pytest.fixture
def no_session(monkeypatch):
    """Make building or finding a Spark session fail the test."""
    import pipelines.session

    def fail(*args, **kwargs):
        raise AssertionError("session built")

    monkeypatch.setattr(pipelines.session, "get_or_build_session", fail)
    monkeypatch.setattr(pipelines.session, "build_local_session", fail)


def run_cli(tmp_path, capsys, *argv: str) -> tuple[int, str]:
    settings_args = ["--set", f"lake.root={tmp_path / 'lake'}", "--set", f"exports.root={tmp_path / 'exports'}"]
    code = cli.main([*settings_args, *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["invoice", "--period", "2026-13"], "--period must be YYYY-MM (for example 2026-11), found '2026-13'"),
    (["invoice", "--period", "9999-12"], "--period must be a month from 0002-01 to 9998-12, found '9999-12'"),
    (["invoice", "--period", "2026-11", "--tenant", "no-such-tenant"], "--tenant: unknown tenants ['no-such-tenant']"),
    (["invoice", "--period", "2026-11", "--finalize", "--grace-hours", "-100"],
     "--grace-hours must be a finite number of hours from 0 to 8760, found -100.0"),
    (["invoice", "--period", "2026-11", "--finalize", "--grace-hours", "nan"], "--grace-hours must be a finite"),
    (["--set", "billing.grace_hours=abc", "invoice", "--period", "2026-11", "--finalize"],
     "billing.grace_hours must be a number of hours, found 'abc'"),
    (["--set", "billing.rounding=ROUND_SIDEWAYS", "invoice", "--period", "2026-11"],
     "billing.rounding must be one of"),
    (["invoice", "--period", "2026-11", "--dry-run", "--price-book", "/nonexistent/book.csv"],
     "price book /nonexistent/book.csv does not exist"),
    (["export", "--period", "2026-13"], "--period must be YYYY-MM (for example 2026-11), found '2026-13'"),
    (["export", "--period", "2026-11", "--to", "s3://"], "destination 's3://': expected s3://bucket/prefix"),
    (["export", "--period", "2026-11", "--to", "gs://bucket/exports"],
     "destination 'gs://bucket/exports': only local folders and s3://bucket/prefix are supported"),
    (["export", "--period", "2026-11", "--to", ""], "the export destination is empty"),
    (["audit", "tenant", "acme", "--period", "2026-13"], "--period must be YYYY-MM (for example 2026-11)"),
    (["audit", "tenant", "acme", "--period", "2026-11", "--plans", "/nonexistent/plans.yaml"],
     "--plans /nonexistent/plans.yaml: file not found"),
    (["audit", "invoice", "some-id", "--price-book", "/nonexistent/book.csv"],
     "--price-book /nonexistent/book.csv: file not found"),
    (["audit", "history", "gold.invoices", "--limit", "0"], "--limit must be at least 1"),
    (["reconcile", "--period", "2026-1"], "--period must be YYYY-MM (for example 2026-11), found '2026-1'"),
])
def test_command_rejects_before_session(tmp_path, capsys, no_session, argv, message):
    code, stderr = run_cli(tmp_path, capsys, *argv)

    assert code == 2
    assert "session built" not in stderr
    assert message in stderr


def test_export_destination_below_file_rejected(tmp_path, capsys, no_session):
    blocker = tmp_path / "report.txt"
    blocker.write_text("not a folder")

    code, stderr = run_cli(tmp_path, capsys, "export", "--period", "2026-11", "--to", str(blocker / "exports"))

    assert code == 2
    assert f"{blocker} is a file, not a folder; choose another folder" in stderr


def test_valid_invoice_arguments_reach_session(tmp_path, capsys, no_session):
    # The checks must let valid input through: the first thing after them is the session.
    with pytest.raises(AssertionError, match="session built"):
        run_cli(tmp_path, capsys, "invoice", "--period", "2026-11", "--finalize", "--grace-hours", "0")
