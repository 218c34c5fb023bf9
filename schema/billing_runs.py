"""The billing runs as the console shows them (issue 18)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from schema.common import Money, money


@strawberry.type(description="What one billing run did for this tenant.")
class BillingRun:
    run_id: str = strawberry.field(description="The same for every tenant the run billed.")
    trigger: str = strawberry.field(description="scheduler (serve), cli (`bill`) or api.")
    started_at: datetime
    finished_at: datetime
    billed_at: datetime = strawberry.field(description="The instant it billed up to.")
    subscriptions: int
    invoices: int
    failures: int
    repeats: int = strawberry.field(
        description="Runs folded into this one: they only failed, the same way."
    )

    @strawberry.field(description="Invoiced by the run, per currency.")
    def totals(self, root: strawberry.Parent[Any]) -> list[Money]:
        return [money(v, c) for c, v in sorted((root.totals or {}).items())]

    @strawberry.field(description="The subscriptions it could not bill and why (first 20).")
    def errors(self, root: strawberry.Parent[Any]) -> list[BillingRunError]:
        return [BillingRunError(subscription_id=s, message=m) for s, m in root.errors or []]


@strawberry.type
class BillingRunError:
    subscription_id: strawberry.ID
    message: str


@strawberry.type(description="The tenant's billing: what awaits a run, and the last runs.")
class BillingStatus:
    due_now: int = strawberry.field(
        description="Subscriptions whose period has ended, awaiting a run (test clocks apart)."
    )
    next_due_at: datetime | None = strawberry.field(description="The next period end.")
    runs: list[BillingRun] = strawberry.field(description="The last runs, newest first.")
