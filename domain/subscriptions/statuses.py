"""Which subscription statuses entitle a customer to its plan: the plan's modules,
its monthly credit allowance and its daily credit limit.

The lowest module of the subscriptions context (it imports nothing), so that the
credits context can read the rule without depending on the rest of subscriptions.
"""

from __future__ import annotations

from collections.abc import Iterable

# A past-due subscription still entitles: dunning decides, through the customer's
# standing, whether a delinquent customer may spend credits. A canceled one entitles
# only until it has ended (see domain/credits/lots.py, SubTerms.entitled_at).
ENTITLED_STATUSES: tuple[str, ...] = ("trialing", "active", "past_due")


def sql_list(statuses: Iterable[str]) -> str:
    """`('a', 'b')` for an `IN` clause of hand-written SQL (constants only, never input)."""
    return "(" + ", ".join(f"'{status}'" for status in statuses) + ")"
