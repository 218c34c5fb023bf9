"""What each export is made of: its table, its columns (with the SQL that reads them
and the type of cell they become), its filters and its natural time.

Rows carry public ids (`cus_…`, read through a join), never internal keys; money is
integer minor units named `…_minor`, beside the row's `currency`. The statement of a
kind is built in `exports.py`: `SELECT <columns>, t.id FROM <table> t <joins> WHERE
t.tenant_id = $1 AND <filters> AND t.id > $n ORDER BY t.id LIMIT <batch>`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.analytics.mrr import Kind as MovementKind
from domain.credits.ledger_writer import CREDITS_ENTRY_KINDS
from domain.customers.service import STATUSES as CUSTOMER_STATUSES
from domain.invoicing.service import STATUSES as INVOICE_STATUSES
from domain.royalties.queries import STATUSES as STATEMENT_STATUSES
from domain.subscriptions.service import STATUSES as SUBSCRIPTION_STATUSES

# As schema/payments.py's PaymentStatus, which the GraphQL filter takes.
PAYMENT_STATUSES = ("pending", "processing", "requires_action", "succeeded", "failed", "canceled")


class Cell(enum.Enum):
    """How a value is written. TEXT is free text a caller or user typed (a name, a
    reason, a request id): the only cells escaped against CSV formula injection.
    CODE is text Tally writes or validates (ids, statuses, currency codes)."""

    TEXT = "text"
    CODE = "code"
    INT = "int"
    MONEY = "money"  # integer minor units of the row's `currency`
    DATETIME = "datetime"
    BOOL = "bool"
    JSON = "json"  # a JSON document, as text


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql: str
    cell: Cell


class By(enum.Enum):
    """How a filter's value is read and matched."""

    PUBLIC_ID = "public_id"  # a prefixed id of another table, looked up in the tenant
    METRIC_CODE = "metric_code"  # a billable metric's code, looked up in the tenant
    CHOICE = "choice"  # one of `choices`, case-insensitive
    CURRENCY = "currency"  # an ISO 4217 code
    COUNTRY = "country"  # an ISO 3166 alpha-2 code
    CODE = "code"  # a free code (a credit module, an MRR cause), matched exactly
    PERIOD = "period"  # a month, YYYY-MM


@dataclass(frozen=True, slots=True)
class Filter:
    param: str  # the query parameter
    by: By
    sql: str  # the column compared
    choices: tuple[str, ...] = ()
    table: str = ""  # By.PUBLIC_ID: where the id is looked up
    id_kind: str = ""  # By.PUBLIC_ID: domain/ids.py's kind, for its prefix


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    table: str
    columns: tuple[Column, ...]
    filters: tuple[Filter, ...]
    # `from`/`to` compare this column (an instant), or, with `time_is_period`, a
    # YYYY-MM period by its first instant.
    time: str
    time_is_period: bool = False
    joins: str = ""

    @property
    def params(self) -> tuple[str, ...]:
        return ("from", "to", *(f.param for f in self.filters))


def _c(name: str, cell: Cell, sql: str | None = None) -> Column:
    return Column(name, sql or f"t.{name}", cell)


def _id(param: str, table: str, id_kind: str, column: str | None = None) -> Filter:
    return Filter(param, By.PUBLIC_ID, column or f"t.{param}_id", table=table, id_kind=id_kind)


T, C, N, M, D, B = Cell.TEXT, Cell.CODE, Cell.INT, Cell.MONEY, Cell.DATETIME, Cell.BOOL
_CUSTOMER = "JOIN customer c ON c.id = t.customer_id"
_CURRENCY = Filter("currency", By.CURRENCY, "t.currency")
_CUSTOMER_FILTER = _id("customer", "customer", "customer")

CUSTOMERS = Kind(
    "customers",
    "customer",
    (
        _c("id", C, "t.public_id"),
        _c("external_id", T),
        _c("name", T),
        _c("email", T),
        _c("country", C),
        _c("currency", C),
        _c("locale", C),
        _c("timezone", C),
        _c("tax_id", T),
        _c("payment_terms_days", N),
        _c("status", C),
        _c("delinquent", B),
        _c("created_at", D),
        _c("archived_at", D),
    ),
    (
        Filter("status", By.CHOICE, "t.status", CUSTOMER_STATUSES),
        _CURRENCY,
        Filter("country", By.COUNTRY, "t.country"),
    ),
    time="t.created_at",
)

SUBSCRIPTIONS = Kind(
    "subscriptions",
    "subscription",
    (
        _c("id", C, "t.public_id"),
        _c("customer_id", C, "c.public_id"),
        _c("plan_id", C, "p.public_id"),
        _c("plan_code", T, "p.code"),
        _c("status", C),
        _c("currency", C),
        _c("unit_amount_minor", M),
        _c("quantity", N),
        _c("mrr_minor", M),
        _c("started_at", D),
        _c("current_period_start", D),
        _c("current_period_end", D),
        _c("trial_end", D),
        _c("cancel_at_period_end", B),
        _c("canceled_at", D),
        _c("ended_at", D),
        _c("created_at", D),
    ),
    (
        _CUSTOMER_FILTER,
        _id("plan", "plan", "plan"),
        Filter("status", By.CHOICE, "t.status", SUBSCRIPTION_STATUSES),
        _CURRENCY,
    ),
    time="t.created_at",
    joins=f"{_CUSTOMER} JOIN plan p ON p.id = t.plan_id",
)

INVOICES = Kind(
    "invoices",
    "invoice",
    (
        _c("id", C, "t.public_id"),
        _c("number", T),
        _c("customer_id", C, "c.public_id"),
        _c("subscription_id", C, "s.public_id"),
        _c("status", C),
        _c("billing_reason", C),
        _c("currency", C),
        _c("subtotal_minor", M),
        _c("discount_minor", M),
        _c("tax_minor", M),
        _c("total_minor", M),
        _c("amount_paid_minor", M),
        _c("amount_credited_minor", M),
        _c("amount_due_minor", M),
        _c("period_start", D),
        _c("period_end", D),
        _c("finalized_at", D),
        _c("due_at", D),
        _c("paid_at", D),
        _c("voided_at", D),
        _c("created_at", D),
    ),
    (
        _CUSTOMER_FILTER,
        _id("subscription", "subscription", "subscription"),
        Filter("status", By.CHOICE, "t.status", INVOICE_STATUSES),
        _CURRENCY,
    ),
    time="t.created_at",
    joins=f"{_CUSTOMER} LEFT JOIN subscription s ON s.id = t.subscription_id",
)

PAYMENTS = Kind(
    "payments",
    "payment",
    (
        _c("id", C, "t.public_id"),
        _c("invoice_id", C, "i.public_id"),
        _c("invoice_number", T, "i.number"),
        _c("customer_id", C, "c.public_id"),
        _c("status", C),
        _c("provider", C),
        _c("method", C),
        _c("attempt", N),
        _c("amount_minor", M),
        _c("refunded_minor", M),
        _c("currency", C),
        _c("failure_code", T),
        _c("reference", T),
        _c("dispute_status", C),
        _c("succeeded_at", D),
        _c("failed_at", D),
        _c("created_at", D),
    ),
    (
        _CUSTOMER_FILTER,
        _id("invoice", "invoice", "invoice"),
        Filter("status", By.CHOICE, "t.status", PAYMENT_STATUSES),
        _CURRENCY,
    ),
    time="t.created_at",
    joins=f"{_CUSTOMER} JOIN invoice i ON i.id = t.invoice_id",
)

# Credits are units of the tenant's own, not money: plain integers.
CREDIT_LEDGER = Kind(
    "credit-ledger",
    "credit_entry",
    (
        _c("id", C, "t.public_id"),
        _c("customer_id", C, "c.public_id"),
        _c("kind", C),
        _c("amount", N),
        _c("balance_after", N),
        _c("module", T),
        _c("action", T),
        _c("quantity", N),
        _c("request_id", T),
        _c("reason", T),
        _c("author", T),
        _c("local_day", C),
        _c("created_at", D),
    ),
    (
        _CUSTOMER_FILTER,
        Filter("kind", By.CHOICE, "t.kind", CREDITS_ENTRY_KINDS),
        Filter("module", By.CODE, "t.module"),
    ),
    time="t.created_at",
    joins=_CUSTOMER,
)

USAGE = Kind(
    "usage",
    "usage_event",
    (
        _c("transaction_id", T),
        _c("customer_id", C, "c.public_id"),
        _c("subscription_id", C, "s.public_id"),
        _c("metric", T, "m.code"),
        _c("timestamp", D),
        _c("properties", Cell.JSON),
        _c("received_at", D, "t.created_at"),
    ),
    (
        _CUSTOMER_FILTER,
        _id("subscription", "subscription", "subscription"),
        Filter("metric", By.METRIC_CODE, "t.metric_id"),
    ),
    time="t.timestamp",
    joins=(
        f"{_CUSTOMER} JOIN subscription s ON s.id = t.subscription_id "
        "JOIN billable_metric m ON m.id = t.metric_id"
    ),
)

ROYALTY_STATEMENTS = Kind(
    "royalty-statements",
    "royalty_statement",
    (
        _c("id", C, "t.public_id"),
        _c("payee_id", C, "p.public_id"),
        _c("payee_name", T, "p.name"),
        _c("period", C),
        _c("status", C),
        _c("currency", C),
        _c("language", C),
        _c("opening_minor", M),
        _c("earnings_minor", M),
        _c("returns_minor", M),
        _c("adjustments_minor", M),
        _c("reserve_withheld_minor", M),
        _c("reserve_released_minor", M),
        _c("recouped_minor", M),
        _c("advance_remaining_minor", M),
        _c("payable_minor", M),
        _c("closing_minor", M),
        _c("approved_at", D),
        _c("paid_at", D),
        _c("created_at", D),
    ),
    (
        _id("payee", "payee", "payee"),
        Filter("period", By.PERIOD, "t.period"),
        Filter("status", By.CHOICE, "t.status", STATEMENT_STATUSES),
        _CURRENCY,
    ),
    time="t.period",
    time_is_period=True,
    joins="JOIN royalty_payee p ON p.id = t.payee_id",
)

# The movement log has no public id of its own: a row is its subscription and instant.
MRR_MOVEMENTS = Kind(
    "mrr-movements",
    "mrr_movement",
    (
        _c("occurred_at", D),
        _c("customer_id", C, "c.public_id"),
        _c("subscription_id", C, "s.public_id"),
        _c("currency", C),
        _c("cause", C),
        _c("kind", C),
        _c("subscription_mrr_before_minor", M, "t.subscription_mrr_before"),
        _c("subscription_mrr_after_minor", M, "t.subscription_mrr_after"),
        _c("customer_mrr_before_minor", M, "t.customer_mrr_before"),
        _c("customer_mrr_after_minor", M, "t.customer_mrr_after"),
        _c("customers_delta", N),
    ),
    (
        _CUSTOMER_FILTER,
        _id("subscription", "subscription", "subscription"),
        _CURRENCY,
        Filter("kind", By.CHOICE, "t.kind", tuple(k.value for k in MovementKind)),
        Filter("cause", By.CODE, "t.cause"),
    ),
    time="t.occurred_at",
    joins=f"{_CUSTOMER} JOIN subscription s ON s.id = t.subscription_id",
)

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        CUSTOMERS,
        SUBSCRIPTIONS,
        INVOICES,
        PAYMENTS,
        CREDIT_LEDGER,
        USAGE,
        ROYALTY_STATEMENTS,
        MRR_MOVEMENTS,
    )
}
