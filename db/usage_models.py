"""Usage metering (issue 15): billable metrics, the plan charges that price them,
the append-only event log and the running aggregates that reading usage uses
instead of the log.

Decimal quantities (GB, summed amounts, time-weighted levels) are stored as decimal
text: exact on both SQLite and PostgreSQL, and merged in Python with `Decimal`, so
one code path serves both databases. The event log has no foreign-key constraints:
rows are only ever inserted by the ingestion path, which has resolved every id, and
a constraint check per row and per key was a third of a bulk insert's cost.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from db.models import TimestampedModel


class BillableMetric(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="billable_metrics")
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    # COUNT | SUM | MAX | UNIQUE_COUNT | LATEST | TIME_WEIGHTED_SUM
    aggregation = fields.CharField(max_length=24)
    field_name = fields.CharField(max_length=64, null=True)  # the property read
    dimensions = fields.JSONField(default=list)  # property names that split the metric
    conversion = fields.JSONField(null=True)  # domain/usage/units.py
    time_unit = fields.CharField(max_length=8, default="hour")  # TIME_WEIGHTED_SUM: hour | day
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "billable_metric"
        unique_together = (("tenant", "code"),)


class Charge(TimestampedModel):
    """A plan's price for a metric: a pricing model with its terms per currency."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="charges")
    plan = fields.ForeignKeyField("tally.Plan", related_name="charges")
    metric = fields.ForeignKeyField("tally.BillableMetric", related_name="charges")
    model = fields.CharField(max_length=16)  # PER_UNIT | PACKAGE | GRADUATED | VOLUME | PERCENTAGE
    prices = fields.JSONField()  # {"EUR": {terms as domain/usage/charge_terms.py reads them}}
    filters = fields.JSONField(default=dict)  # {"direction": ["input"]}
    invoice_display_name = fields.CharField(max_length=200)
    position = fields.IntField(default=0)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "usage_charge"
        indexes = (("plan_id", "metric_id"),)


class UsageEvent(Model):
    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.BigIntField()
    transaction_id = fields.CharField(max_length=128)
    customer_id = fields.BigIntField()
    subscription_id = fields.BigIntField()
    metric_id = fields.BigIntField()
    timestamp = fields.DatetimeField()
    properties = fields.JSONField(default=dict)
    # What makes a resend with the same transaction id the same event (a duplicate)
    # or another one (a conflict): a hash of its canonical body.
    body_hash = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()

    class Meta:
        table = "usage_event"
        unique_together = (("tenant_id", "transaction_id"),)
        # A customer's events in time order (exports, listings), keyset by (time, id).
        indexes = (("customer_id", "timestamp", "id"),)


class UsagePeriod(Model):
    """One subscription's usage period: where late events find their period, and
    what was billed for it (so a late event is billed as the difference)."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.BigIntField()
    subscription_id = fields.BigIntField()
    start = fields.DatetimeField()
    end = fields.DatetimeField()
    currency = fields.CharField(max_length=3)
    status = fields.CharField(max_length=8, default="open")  # open | billed
    invoice_id = fields.BigIntField(null=True)
    billed = fields.JSONField(default=dict)  # {charge public id: amount billed, minor}
    # Set by a late event landing after the period was billed; cleared when the
    # difference is billed.
    changed = fields.BooleanField(default=False)
    # Spending alert thresholds (minor units) already reached in this period.
    alerts_sent = fields.JSONField(default=list)
    # The plan's usage terms it closed on: late events re-price it with these.
    terms = fields.JSONField(null=True)

    class Meta:
        table = "usage_period"
        unique_together = (("subscription_id", "start"),)


class UsageAggregate(Model):
    """The running aggregate of one charge for one period and dimension group."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.BigIntField()
    subscription_id = fields.BigIntField()
    charge_id = fields.BigIntField()
    period_start = fields.DatetimeField()
    group_key = fields.CharField(max_length=255, default="")  # canonical JSON of the dims
    events = fields.BigIntField(default=0)
    total = fields.CharField(max_length=100, default="0")  # Σ value (SUM, percentage amount)
    maximum = fields.CharField(max_length=100, null=True)
    latest_at = fields.DatetimeField(null=True)
    latest_value = fields.CharField(max_length=100, null=True)
    latest_tx = fields.CharField(max_length=128, null=True)  # tie-break for equal times
    # TIME_WEIGHTED_SUM: Σ v·(t - period start) in seconds (values are level changes).
    weighted = fields.CharField(max_length=100, default="0")
    fees = fields.CharField(max_length=100, default="0")  # Σ per-event percentage fees
    uniques = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "usage_aggregate"
        unique_together = (("subscription_id", "charge_id", "period_start", "group_key"),)


class UsageUniqueValue(Model):
    """The distinct values an UNIQUE_COUNT aggregate has seen (its count is theirs)."""

    id = fields.BigIntField(primary_key=True)
    aggregate_id = fields.BigIntField()
    value = fields.CharField(max_length=255)

    class Meta:
        table = "usage_unique_value"
        unique_together = (("aggregate_id", "value"),)


class Incident(TimestampedModel):
    """An outage the tenant records (SLA credits are computed from them)."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="incidents")
    title = fields.CharField(max_length=200)
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField()
    customer_ids = fields.JSONField(default=list)  # internal ids; empty: every customer

    class Meta:
        table = "usage_incident"
        indexes = (("tenant_id", "started_at"),)


class SpendingAlert(TimestampedModel):
    """A threshold on a subscription's running usage amount (per period)."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="spending_alerts")
    # null: every customer of the tenant (a tenant-wide threshold)
    customer = fields.ForeignKeyField("tally.Customer", related_name="spending_alerts", null=True)
    subscription = fields.ForeignKeyField(
        "tally.Subscription", related_name="spending_alerts", null=True
    )
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)

    class Meta:
        table = "spending_alert"
        indexes = (("tenant_id", "customer_id"),)
