"""Revenue analytics (issue 17): the MRR movement log and each customer's running MRR.

`MrrMovement` is append-only: one row per subscription whose monthly recurring
revenue changed, written in the same transaction as the change (domain/analytics/
movement_log.py). Its `kind` classifies the CUSTOMER's move in that currency (new,
expansion, contraction, churn, reactivation), so that any past interval is a sum over
an index range, and `terms` keeps what the MRR was computed from, so that
`rebuild-analytics` can compute the log again and compare. `CustomerMrr` is the
running total per customer and currency the classification reads, one row updated
by one atomic statement (concurrent changes of one customer serialize on it).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class MrrMovement(Model):
    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="mrr_movements")
    customer = fields.ForeignKeyField("tally.Customer", related_name="mrr_movements")
    subscription = fields.ForeignKeyField("tally.Subscription", related_name="mrr_movements")
    currency = fields.CharField(max_length=3)
    occurred_at = fields.DatetimeField()
    # What happened: created | changed | paused | resumed | canceled | trial_converted |
    # coupon_expired | past_due | unpaid | recovered (domain/analytics/movement_log.py)
    cause = fields.CharField(max_length=24)
    # The customer's move in this currency: new | expansion | contraction | churn |
    # reactivation (a row is written only when the MRR moved, so it always has one).
    kind = fields.CharField(max_length=16, null=True)
    subscription_mrr_before = fields.BigIntField()
    subscription_mrr_after = fields.BigIntField()
    customer_mrr_before = fields.BigIntField()
    customer_mrr_after = fields.BigIntField()
    # +1 on the row that makes the customer paying (new, reactivation), -1 on the row
    # that makes it stop (churn), 0 otherwise: paying customers = the running sum.
    customers_delta = fields.SmallIntField(default=0)
    # What the subscription's MRR was computed from after the change (status, interval,
    # prices, quantity, recurring add-ons, coupon): the history `rebuild-analytics` reads.
    terms = fields.JSONField()

    class Meta:
        table = "mrr_movement"
        indexes = (
            ("tenant_id", "currency", "occurred_at"),
            ("tenant_id", "customer_id", "occurred_at"),
            ("subscription_id", "occurred_at"),
        )


class CustomerMrr(Model):
    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="customer_mrr")
    customer = fields.ForeignKeyField("tally.Customer", related_name="mrr")
    currency = fields.CharField(max_length=3)
    mrr_minor = fields.BigIntField(default=0)
    # How many times the customer went from 0 to paying in this currency: the first is
    # new, later ones are reactivations.
    starts = fields.IntField(default=0)

    class Meta:
        table = "customer_mrr"
        unique_together = (("customer", "currency"),)


class MrrDaily(Model):
    """The log summed per UTC day, currency and kind, written with each movement (same
    transaction): a series of two years reads a few thousand of these rows instead of
    every movement. `rebuild-analytics` checks it against the log."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="mrr_daily")
    currency = fields.CharField(max_length=3)
    day = fields.DateField()
    kind = fields.CharField(max_length=16, default="")  # "" for rows whose kind is null
    amount_minor = fields.BigIntField(default=0)  # the sum of subscription MRR changes
    customers = fields.IntField(default=0)  # the sum of customers_delta
    movements = fields.IntField(default=0)

    class Meta:
        table = "mrr_daily"
        unique_together = (("tenant", "currency", "day", "kind"),)
