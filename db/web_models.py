"""Tables of the web panels (issue 18): one-time customer portal links."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class PortalLink(Model):
    """A sign-in link to the customer portal: valid 15 minutes, used once. Only the
    SHA-256 of its secret is kept."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="portal_links")
    customer = fields.ForeignKeyField("tally.Customer", related_name="portal_links")
    created_by = fields.ForeignKeyField("tally.ApiKey", related_name="portal_links")
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "portal_link"
