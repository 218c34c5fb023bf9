"""`GET /exports/{kind}.{csv|json|xlsx}` (issue 17) through the app's real route, the
content side: each format opened with a stock parser (csv, json, openpyxl) and
compared cell by cell with rows made through the domain; formula escaping; empty
exports; batches read and streamed; Excel's row limit. The request side (filters,
errors, who may export, tenants) is in test_exports_requests.py."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime
from typing import Any

import httpx
import openpyxl
import pytest

from db.analytics_models import MrrMovement
from db.credit_models import CreditEntry
from db.invoice_models import Invoice
from db.models import Customer, Subscription
from db.querylog import count_statements
from domain import clock
from domain.credits.admin import grant_credits
from domain.reports import exports, xlsx
from tests.api.exports_world import (
    FORMULA_NAME,
    ExportWorld,
    build_world,
    by_id,
    get_export,
    iso,
    naive,
    read_csv,
    read_json,
    read_xlsx,
    utc,
)


@pytest.fixture
async def world(db: str) -> ExportWorld:
    return await build_world()


async def test_invoices_in_every_format_match_the_rows(
    client: httpx.AsyncClient, world: ExportWorld
) -> None:
    invoices = {
        i.public_id: i for i in await Invoice.filter(tenant_id=world.tenant.id).order_by("id")
    }
    assert len(invoices) == 4  # EUR (paid), the subscription's first, JPY, KWD
    customers = dict(await Customer.all().values_list("id", "public_id"))
    subscriptions = dict(await Subscription.all().values_list("id", "public_id"))
    money = [
        "subtotal_minor",
        "discount_minor",
        "tax_minor",
        "total_minor",
        "amount_paid_minor",
        "amount_credited_minor",
        "amount_due_minor",
    ]
    instants = ["period_start", "period_end", "finalized_at", "due_at", "paid_at", "created_at"]
    rows = by_id(read_csv(await get_export(client, world.key, "invoices.csv")))
    assert list(rows) == list(invoices)  # in key order; the other tenant's is not there
    for public_id, invoice in invoices.items():
        row = rows[public_id]
        assert row["customer_id"] == customers[invoice.customer_id]
        assert row["subscription_id"] == subscriptions.get(invoice.subscription_id, "")
        assert (row["number"], row["status"], row["currency"]) == (
            invoice.number,
            invoice.status,
            invoice.currency,
        )
        for name in money:
            assert row[name] == str(getattr(invoice, name)), name
        for name in instants:
            assert row[name] == iso(getattr(invoice, name)), name
    assert rows[world.invoices["EUR"].public_id]["status"] == "paid"
    assert rows[world.invoices["JPY"].public_id]["customer_id"] == world.evil.public_id

    documents = by_id(read_json(await get_export(client, world.key, "invoices.json")))
    assert set(documents) == set(invoices)
    for public_id, invoice in invoices.items():
        document = documents[public_id]
        for name in money:
            assert document[name] == getattr(invoice, name)  # integers, minor units
        assert document["currency"] == invoice.currency
        assert document["created_at"] == iso(invoice.created_at)
        assert document["voided_at"] is None

    head, cells = read_xlsx(await get_export(client, world.key, "invoices.xlsx"))
    assert head[:7] == [
        "id",
        "number",
        "customer_id",
        "subscription_id",
        "status",
        "billing_reason",
        "currency",
    ]
    assert "total" in head and "total_minor" not in head  # major units in the workbook
    sheet = {row[0].value: dict(zip(head, row, strict=True)) for row in cells}
    assert set(sheet) == set(invoices)
    decimals = {"EUR": ("#,##0.00", 2), "JPY": ("#,##0", 0), "KWD": ("#,##0.000", 3)}
    for public_id, invoice in invoices.items():
        row = sheet[public_id]
        fmt, exp = decimals[invoice.currency]
        for name in money:
            cell = row[name.removesuffix("_minor")]
            assert cell.data_type == "n" and cell.number_format == fmt, (name, fmt)
            assert cell.value == pytest.approx(getattr(invoice, name) / 10**exp, abs=1e-9)
        created = row["created_at"]
        assert created.is_date and isinstance(created.value, datetime)
        # Excel keeps milliseconds: compare to the millisecond.
        assert abs(created.value - naive(invoice.created_at)).total_seconds() < 0.001
        assert row["status"].data_type == "s" and row["status"].value == invoice.status
        assert row["voided_at"].value is None
    jpy = sheet[world.invoices["JPY"].public_id]["total"]
    assert jpy.value == world.invoices["JPY"].total_minor  # 5,000 yen (no tax outside the EU)
    kwd = sheet[world.invoices["KWD"].public_id]["subtotal"]
    assert kwd.value == pytest.approx(12.345)


async def test_credit_ledger_payments_and_customers(
    client: httpx.AsyncClient, world: ExportWorld
) -> None:
    entries = await CreditEntry.filter(tenant_id=world.tenant.id).order_by("id")
    rows = read_csv(await get_export(client, world.analyst, "credit-ledger.csv"))  # an analyst key
    assert [r["id"] for r in rows] == [e.public_id for e in entries]  # in ledger order
    for row, entry in zip(rows, entries, strict=True):
        assert row["kind"] == entry.kind
        assert (row["amount"], row["balance_after"]) == (
            str(entry.amount),
            str(entry.balance_after),
        )
        assert row["created_at"] == iso(entry.created_at)
    ada = next(r for r in rows if r["customer_id"] == world.ada.public_id)
    # Free text a spreadsheet would run is escaped in CSV only.
    assert (ada["reason"], ada["author"]) == ("'=1+1 welcome", "'@ops")
    ledger = read_json(
        await get_export(client, world.key, "credit-ledger.json", customer=world.ada.public_id)
    )
    assert [(e["amount"], e["reason"], e["author"]) for e in ledger] == [
        (100, "=1+1 welcome", "@ops")
    ]
    head, cells = read_xlsx(await get_export(client, world.key, "credit-ledger.xlsx"))
    reason = head.index("reason")
    assert cells[0][reason].value == "=1+1 welcome" and cells[0][reason].data_type == "s"
    assert cells[0][head.index("amount")].data_type == "n"

    payment = world.payment
    (row,) = read_csv(await get_export(client, world.key, "payments.csv"))
    assert (row["id"], row["invoice_id"], row["status"], row["method"]) == (
        payment.public_id,
        world.invoices["EUR"].public_id,
        "succeeded",
        "bank_transfer",
    )
    assert (row["amount_minor"], row["currency"]) == (str(payment.amount_minor), "EUR")
    assert row["succeeded_at"] == iso(payment.succeeded_at)

    customers = by_id(read_csv(await get_export(client, world.key, "customers.csv")))
    assert customers[world.evil.public_id]["name"] == "'" + FORMULA_NAME
    assert customers[world.ada.public_id]["external_id"] == "ada-1"
    assert customers[world.ada.public_id]["delinquent"] == "false"
    assert (
        by_id(read_json(await get_export(client, world.key, "customers.json")))[
            world.evil.public_id
        ]["name"]
        == FORMULA_NAME
    )
    head, cells = read_xlsx(await get_export(client, world.key, "customers.xlsx"))
    names = {row[0].value: row[head.index("name")] for row in cells}
    assert names[world.evil.public_id].value == FORMULA_NAME
    assert names[world.evil.public_id].data_type == "s"  # text, never a formula
    flags = {row[0].value: row[head.index("delinquent")] for row in cells}
    assert flags[world.ada.public_id].value is False and flags[world.ada.public_id].data_type == "b"


async def test_subscriptions_usage_statements_and_mrr_movements(
    client: httpx.AsyncClient, world: ExportWorld
) -> None:
    sub = world.subscription
    (row,) = read_json(await get_export(client, world.key, "subscriptions.json"))
    assert (row["id"], row["customer_id"], row["status"]) == (
        sub.public_id,
        world.ada.public_id,
        sub.status,
    )
    assert (row["unit_amount_minor"], row["currency"], row["quantity"]) == (2_999, "EUR", 1)
    assert row["started_at"] == iso(sub.started_at) and row["cancel_at_period_end"] is False

    events = read_json(await get_export(client, world.key, "usage.json"))
    assert [(e["transaction_id"], e["metric"], e["customer_id"]) for e in events] == [
        ("-tx-1", "calls", world.ada.public_id),
        ("tx-2", "calls", world.ada.public_id),
    ]
    assert events[1]["properties"] == {"route": "/search", "n": 2}  # a JSON object
    usage_csv = read_csv(await get_export(client, world.key, "usage.csv"))
    assert usage_csv[0]["transaction_id"] == "'-tx-1"
    assert json.loads(usage_csv[1]["properties"]) == {"route": "/search", "n": 2}

    statement = world.statement
    (row,) = read_csv(await get_export(client, world.key, "royalty-statements.csv"))
    assert (row["id"], row["period"], row["payee_name"], row["currency"]) == (
        statement.public_id,
        "2026-10",
        "Ann Author",
        "EUR",
    )
    assert row["earnings_minor"] == str(statement.earnings_minor)
    assert row["payable_minor"] == str(statement.payable_minor)
    october = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
    assert (
        len(read_csv(await get_export(client, world.key, "royalty-statements.csv", **october))) == 1
    )
    after = {"from": "2026-10-01T00:00:01Z"}  # October starts before: not in the window
    assert read_csv(await get_export(client, world.key, "royalty-statements.csv", **after)) == []

    # Whatever the subscription's creation logged, and the rows the world added.
    logged = await MrrMovement.filter(tenant_id=world.tenant.id).order_by("id")
    moves = read_csv(await get_export(client, world.key, "mrr-movements.csv"))
    assert len(moves) == len(logged) >= 2
    for move, row in zip(moves, logged, strict=True):
        assert (move["currency"], move["cause"], move["kind"]) == (
            row.currency,
            row.cause,
            row.kind or "",
        )
        assert move["occurred_at"] == iso(row.occurred_at)
        assert move["subscription_id"] == sub.public_id
        assert move["customer_id"] == world.ada.public_id
        assert move["customer_mrr_after_minor"] == str(row.customer_mrr_after)
    assert ("KWD", "12345", "new") in [
        (m["currency"], m["subscription_mrr_after_minor"], m["kind"]) for m in moves
    ]
    head, cells = read_xlsx(
        await get_export(client, world.key, "mrr-movements.xlsx", currency="KWD")
    )
    (kwd,) = cells
    after_cell = kwd[head.index("subscription_mrr_after")]
    assert (after_cell.value, after_cell.number_format) == (pytest.approx(12.345), "#,##0.000")
    assert kwd[head.index("occurred_at")].value == datetime(2026, 11, 2)
    assert kwd[head.index("customers_delta")].value == 1


async def test_an_empty_export_is_a_header_an_empty_array_or_a_header_row(
    client: httpx.AsyncClient, world: ExportWorld
) -> None:
    nothing = {"currency": "USD"}
    csv_response = await get_export(client, world.key, "payments.csv", **nothing)
    assert csv_response.status_code == 200
    assert csv_response.text.startswith("id,invoice_id,invoice_number,customer_id,status,")
    assert csv_response.text.endswith("created_at\r\n") and csv_response.text.count("\r\n") == 1
    assert read_json(await get_export(client, world.key, "payments.json", **nothing)) == []
    head, cells = read_xlsx(await get_export(client, world.key, "payments.xlsx", **nothing))
    assert head[0] == "id" and "amount" in head and cells == []


async def _chunks_and_reads(app: Any, path: str, key: str) -> tuple[list[bytes], int, int]:
    """The body messages the app sends, how many ledger reads had run when the first
    went out, and how many in all (a raw ASGI call: no client buffering in between)."""
    chunks: list[bytes] = []
    reads_at_first = -1
    done = asyncio.Event()
    with count_statements() as statements:

        def reads() -> int:
            return sum(1 for s in statements if "FROM credit_entry t" in s)

        requests = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            if requests:
                return requests.pop()
            await done.wait()  # the client stays until the whole body is sent
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal reads_at_first
            if message["type"] == "http.response.body" and message.get("body"):
                if reads_at_first < 0:
                    reads_at_first = reads()
                chunks.append(message["body"])

        path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"tally.test"), (b"authorization", f"Bearer {key}".encode())],
            "server": ("tally.test", 80),
            "client": ("127.0.0.1", 1234),
        }
        await app(scope, receive, send)
        done.set()
        return chunks, reads_at_first, reads()


async def test_a_large_export_is_read_in_batches_and_streamed(
    app: Any, world: ExportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nine more grants through the domain (the ledger stays true to its wallets: the
    # suite's verify-ledger test reads every wallet of the database).
    for n in range(1, 10):
        with clock.frozen_at(utc(2026, 12, 1, 0, 0, n)):
            await grant_credits(world.admin, world.ada.public_id, n, reason=f"bulk {n}")
    monkeypatch.setattr(exports, "BATCH", 2)  # 11 rows: five batches of 2, then 1
    for fmt in ("csv", "json"):
        chunks, at_first, total = await _chunks_and_reads(
            app, f"/exports/credit-ledger.{fmt}", world.key
        )
        assert total == 6, fmt
        # The first bytes went out with the first batch (while the next was read).
        assert at_first <= 2, fmt
        assert len(chunks) >= 6, fmt
        body = b"".join(chunks)
        count = len(json.loads(body)) if fmt == "json" else body.count(b"\r\n") - 1
        assert count == 11, fmt
    chunks, _, total = await _chunks_and_reads(app, "/exports/credit-ledger.xlsx", world.key)
    assert total == 6
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(chunks))).worksheets[0]
    assert sheet.max_row == 12


async def test_the_reader_pages_on_the_key(world: ExportWorld) -> None:
    opened = await Invoice.filter(tenant_id=world.tenant.id, status="open").order_by("id")
    assert len(opened) == 3
    export = await exports.open_export(world.admin, "invoices", [("status", "open")], batch=2)
    assert export.sql.endswith("ORDER BY t.id LIMIT 2")
    with count_statements() as statements:
        pages = [rows async for rows in export.batches()]
    assert [len(p) for p in pages] == [2, 1]
    assert len(statements) == 2  # a short page is the last: no empty read after it
    assert [row[0] for page in pages for row in page] == [i.public_id for i in opened]


async def test_past_excels_row_limit_the_rows_go_on_to_another_sheet(
    client: httpx.AsyncClient, world: ExportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = await CreditEntry.filter(tenant_id=world.tenant.id).order_by("id")
    assert len(entries) == 2
    monkeypatch.setattr(xlsx, "MAX_ROWS", 2)  # a header and one row per sheet
    response = await get_export(client, world.key, "credit-ledger.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["export", "export (2)"]
    for sheet, entry in zip(book.worksheets, entries, strict=True):
        (head, row) = sheet.iter_rows(values_only=True)
        assert head[0] == "id" and row[0] == entry.public_id
