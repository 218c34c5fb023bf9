"""The royalty benchmark's world and its set-based SQL baseline (bench/royalties.py
runs them).

One tenant (EUR, no royalty settings: pool rate 100 %, threshold 100.00 EUR), loaded
with COPY straight into the tables, not through the domain:

- payees in EUR with no threshold of their own; works owned in blocks (payee p owns
  works [p x works / payees, ...)), 20 % of them with a second contributor (a random
  other payee) at "50"/"50", the others one payee at "100", shares effective long
  before the period; a contract per (work, contributor): SALE 70 %, SUBSCRIPTION_READ
  50 %, both on net receipts, flat, no reserve;
- one-off sales: paid invoices (1-3 lines each, VAT 20 % exclusive, no discount), one
  work per line, quantity 1, 0.99-29.99 EUR, works drawn Zipf-like (s = 1.15) by id,
  so the payees of the last works earn less than the 100 EUR threshold and carry;
- subscription revenue: paid subscription invoices (one plan line each, no work) of
  as many subscriptions on one plan;
- reads: `royalty_read` rows of count 1, works drawn Zipf-like (s = 1.0) in a shuffled
  order, so the pool's largest remainder has parts of every size to settle.

Everything is timestamped inside the period. The generator is seeded: the same sizes
give the same rows.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import asyncpg
import orjson

from domain.royalties.settings import RoyaltyPeriod

PERIOD = RoyaltyPeriod(2026, 10)
NOW = datetime(2026, 11, 2, 6, tzinfo=UTC)  # the run happens after the period ended
BEFORE = datetime(2026, 1, 15, 9, tzinfo=UTC)  # when payees, works and contracts were made
SHARES_FROM = date(2026, 1, 1)
SEED = 16
SALE_ZIPF = 1.15
READ_ZIPF = 1.0
SECOND_CONTRIBUTOR = 0.2
VAT_BP = 2000
RULES = orjson.dumps(
    {
        "SALE": {"rate": "70", "basis": "NET_RECEIPTS"},
        "SUBSCRIPTION_READ": {"rate": "50", "basis": "NET_RECEIPTS"},
    }
).decode()


@dataclass(frozen=True, slots=True)
class Sizes:
    payees: int = 1_000
    works: int = 10_000
    sales: int = 200_000  # work-tagged invoice lines
    subscription_invoices: int = 2_000
    reads: int = 800_000
    customers: int = 300

    def scaled(self, factor: float) -> Sizes:
        def n(value: int, least: int) -> int:
            return max(least, round(value * factor))

        return replace(
            self,
            payees=n(self.payees, 3),
            works=n(self.works, 6),
            sales=n(self.sales, 20),
            subscription_invoices=n(self.subscription_invoices, 2),
            reads=n(self.reads, 20),
            customers=n(self.customers, 2),
        )


@dataclass(frozen=True, slots=True)
class World:
    tenant_id: int
    sizes: Sizes
    sale_invoices: int
    collected_minor: int  # subscription revenue net of tax, EUR: the pool at 100 %
    sales_net_minor: int
    rows: int  # everything COPY loaded


def _zipf_cumulative(count: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) ** exponent for rank in range(count)))


def _draw(rng: random.Random, cumulative: Sequence[float], k: int) -> list[int]:
    total = cumulative[-1]
    return [bisect.bisect_left(cumulative, rng.random() * total) for _ in range(k)]


def _tax(subtotal: int) -> int:
    return (2 * subtotal * VAT_BP + 10_000) // 20_000  # half up


async def _ids(conn: asyncpg.Connection, table: str, count: int) -> list[int]:
    """`count` ids drawn from the table's own sequence (safe beside other writers)."""
    rows = await conn.fetch(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)",
        count,
    )
    return [r[0] for r in rows]


async def _copy(conn: asyncpg.Connection, table: str, columns: str, rows: list[tuple]) -> int:
    await conn.copy_records_to_table(table, records=rows, columns=columns.split())
    return len(rows)


def _invoice(
    *,
    id_: int,
    reason: str,
    subtotal: int,
    paid_at: datetime,
    customer_id: int,
    subscription_id: int | None,
    tenant_id: int,
) -> tuple:
    tax = _tax(subtotal)
    total = subtotal + tax
    breakdown = [
        {
            "rate_bp": VAT_BP,
            "inclusive": False,
            "taxable_minor": subtotal,
            "tax_minor": tax,
            "name": "TVA",
            "country": "FR",
        }
    ]
    finalized = paid_at - timedelta(minutes=20)
    return (
        id_,
        f"in_bench{id_:012d}",
        finalized,
        paid_at,
        f"BENCH-{id_:010d}",
        "paid",
        reason,
        "EUR",
        "en",
        subtotal,
        0,
        tax,
        total,
        0,
        total,
        0,
        0,
        orjson.dumps(breakdown).decode(),
        "domestic",
        False,
        orjson.dumps({"name": f"Reader {customer_id}", "country": "FR"}).decode(),
        '{"name": "Bench Editions", "country": "FR"}',
        "",
        finalized,
        finalized + timedelta(days=30),
        paid_at,
        customer_id,
        subscription_id,
        tenant_id,
    )


INVOICE_COLUMNS = (
    "id public_id created_at updated_at number status billing_reason currency locale "
    "subtotal_minor discount_minor tax_minor total_minor credit_applied_minor "
    "amount_paid_minor amount_credited_minor amount_due_minor tax_breakdown tax_reason "
    "reverse_charge customer_snapshot seller_snapshot memo finalized_at due_at paid_at "
    "customer_id subscription_id tenant_id"
)
LINE_COLUMNS = (
    "invoice_id position kind description quantity unit_amount_minor amount_minor "
    "discount_minor tax_inclusive tax_rate_bp period_start period_end work_id work_use"
)


async def build(conn: asyncpg.Connection, tenant_id: int, sizes: Sizes) -> World:
    """Load the world into a migrated database (other tenants' rows may be there)."""
    rng = random.Random(SEED)
    start, end = PERIOD.start, PERIOD.end
    span = (end - start).total_seconds() - 7_200

    def in_period() -> datetime:  # 1 h clear of both ends
        return start + timedelta(seconds=3_600 + rng.random() * span)

    loaded = 0
    payees = await _ids(conn, "royalty_payee", sizes.payees)
    loaded += await _copy(
        conn,
        "royalty_payee",
        "id public_id created_at updated_at tenant_id name email kind language "
        "payout_currency payout_method",
        [
            (pk, f"pye_bench{pk:012d}", BEFORE, BEFORE, tenant_id, f"Author {p}",
             f"author{p}@example.com", "author", "en", "EUR", "manual")
            for p, pk in enumerate(payees)
        ],
    )  # fmt: skip
    works = await _ids(conn, "royalty_work", sizes.works)
    loaded += await _copy(
        conn,
        "royalty_work",
        "id public_id created_at updated_at tenant_id code title",
        [
            (pk, f"wrk_bench{pk:012d}", BEFORE, BEFORE, tenant_id, f"W{w:06d}", f"Work {w}")
            for w, pk in enumerate(works)
        ],
    )
    shares, contracts = [], []
    for w, work in enumerate(works):
        first = w * sizes.payees // sizes.works
        owners = [(payees[first], "100")]
        if sizes.payees > 1 and rng.random() < SECOND_CONTRIBUTOR:
            second = rng.randrange(sizes.payees - 1)
            second += second >= first  # any payee but the first
            owners = [(payees[first], "50"), (payees[second], "50")]
        for payee, share in owners:
            shares.append((work, payee, share, "author", SHARES_FROM, BEFORE))
            contracts.append(
                (f"ctr_bench{tenant_id}x{len(contracts):08d}", BEFORE, BEFORE, tenant_id, work,
                 payee, RULES)
            )  # fmt: skip
    loaded += await _copy(
        conn,
        "royalty_work_share",
        "work_id payee_id share role effective_from created_at",
        shares,
    )
    loaded += await _copy(
        conn,
        "royalty_contract",
        "public_id created_at updated_at tenant_id work_id payee_id rules",
        contracts,
    )
    customers = await _ids(conn, "customer", sizes.customers)
    loaded += await _copy(
        conn,
        "customer",
        "id public_id created_at updated_at tenant_id name email address_line1 address_line2 "
        "city postal_code state country locale currency timezone metadata search_text status",
        [
            (pk, f"cus_bench{pk:012d}", BEFORE, BEFORE, tenant_id, f"Reader {c}",
             f"reader{c}@example.com", "", "", "Paris", "75001", "", "FR", "en", "EUR", "UTC",
             "{}", f"reader {c}", "active")
            for c, pk in enumerate(customers)
        ],
    )  # fmt: skip
    [plan_id] = await _ids(conn, "plan", 1)
    loaded += await _copy(
        conn,
        "plan",
        "id public_id created_at updated_at tenant_id code name description interval_months "
        "trial_days monthly_credits features tax_behavior status",
        [(plan_id, f"pln_bench{plan_id:012d}", BEFORE, BEFORE, tenant_id, "reader", "Reader", "",
          1, 0, 0, "[]", "exclusive", "active")],
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO plan_price (plan_id, currency, amount_minor) VALUES ($1, 'EUR', 999)", plan_id
    )

    # Subscriptions and their paid invoices in the period (one plan line, no work), then
    # the one-off sales: 1-3 work lines per paid invoice, works Zipf-like by id.
    subscription_ids = await _ids(conn, "subscription", sizes.subscription_invoices)
    sold = _draw(rng, _zipf_cumulative(sizes.works, SALE_ZIPF), sizes.sales)
    per_invoice, counted = [], 0
    while counted < sizes.sales:
        per_invoice.append(min(rng.choice((1, 1, 2, 3)), sizes.sales - counted))
        counted += per_invoice[-1]
    invoice_ids = iter(await _ids(conn, "invoice", len(subscription_ids) + len(per_invoice)))
    subscriptions, invoices, lines = [], [], []
    collected = sales_net = 0
    month = timedelta(days=31)
    for s, sub_id in enumerate(subscription_ids):
        customer = customers[s % len(customers)]
        amount = rng.choice((499, 999, 1499, 1999)) + rng.randrange(0, 100)
        paid_at = in_period()
        invoice_id = next(invoice_ids)
        subscriptions.append(
            (sub_id, f"sub_bench{sub_id:012d}", BEFORE, BEFORE, "active", "EUR", amount, 1, "[]",
             BEFORE, BEFORE, paid_at, paid_at + month, False, customer, plan_id, tenant_id)
        )  # fmt: skip
        invoices.append(
            _invoice(id_=invoice_id, reason="subscription_cycle", subtotal=amount,
                     paid_at=paid_at, customer_id=customer, subscription_id=sub_id,
                     tenant_id=tenant_id)
        )  # fmt: skip
        lines.append(
            (invoice_id, 0, "plan", "Reader", 1, amount, amount, 0, False, VAT_BP, paid_at,
             paid_at + month, None, None)
        )  # fmt: skip
        collected += amount
    position = 0
    for count in per_invoice:
        paid_at = in_period()
        customer = customers[rng.randrange(len(customers))]
        invoice_id = next(invoice_ids)
        subtotal = 0
        for index in range(count):
            w = sold[position + index]
            price = rng.randint(99, 2_999)
            lines.append(
                (invoice_id, index, "one_off", f"Work {w}", 1, price, price, 0, False, VAT_BP,
                 None, None, works[w], "SALE")
            )  # fmt: skip
            subtotal += price
        invoices.append(
            _invoice(id_=invoice_id, reason="manual", subtotal=subtotal, paid_at=paid_at,
                     customer_id=customer, subscription_id=None, tenant_id=tenant_id)
        )  # fmt: skip
        sales_net += subtotal
        position += count
    loaded += await _copy(
        conn,
        "subscription",
        "id public_id created_at updated_at status currency unit_amount_minor quantity add_ons "
        "started_at billing_anchor current_period_start current_period_end "
        "cancel_at_period_end customer_id plan_id tenant_id",
        subscriptions,
    )
    loaded += await _copy(conn, "invoice", INVOICE_COLUMNS, invoices)
    loaded += await _copy(conn, "invoice_line", LINE_COLUMNS, lines)
    del invoices, lines

    # Reads: count 1 each, works Zipf-like in a shuffled order.
    order = list(works)
    rng.shuffle(order)
    reads = []
    for n, rank in enumerate(_draw(rng, _zipf_cumulative(sizes.works, READ_ZIPF), sizes.reads)):
        at = in_period()
        reads.append((tenant_id, order[rank], None, 1, at, f"bench-{tenant_id}-{n}", at))
    loaded += await _copy(
        conn,
        "royalty_read",
        "tenant_id work_id customer_id count occurred_at request_id created_at",
        reads,
    )
    await conn.execute(
        "ANALYZE royalty_payee, royalty_work, royalty_work_share, royalty_contract, customer, "
        "subscription, invoice, invoice_line, royalty_read"
    )
    return World(tenant_id, sizes, len(per_invoice), collected, sales_net, loaded)


# -- the baseline ------------------------------------------------------------------------
