"""Schema assembly: Query, Mutation, Subscription and the execution extensions."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from domain.currencies import EXPONENTS
from domain.errors import BillingError
from resolvers import catalog, customers, tenancy
from schema import payloads as p
from schema.common import BIGINT_SCALAR, BigInt
from schema.execution import FastExecutionContext
from schema.limits import limits

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000


@strawberry.type
class Currency:
    code: str
    exponent: int = strawberry.field(
        description="ISO 4217 minor-unit digits (JPY 0, EUR 2, KWD 3)."
    )


@strawberry.type
class Query:
    viewer = strawberry.field(resolver=tenancy.viewer, description="Who is calling.")
    tenant = strawberry.field(resolver=tenancy.tenant)
    api_keys = strawberry.field(resolver=tenancy.api_key_list)
    plan = strawberry.field(resolver=catalog.plan, description="By id or by code.")
    plans = strawberry.field(resolver=catalog.plan_list)
    add_on = strawberry.field(resolver=catalog.add_on)
    add_ons = strawberry.field(resolver=catalog.add_on_list)
    coupon = strawberry.field(resolver=catalog.coupon)
    coupons = strawberry.field(resolver=catalog.coupon_list)
    customer = strawberry.field(resolver=customers.customer, description="By id or externalId.")
    customers = strawberry.field(resolver=customers.customer_list)

    @strawberry.field(description="Every ISO 4217 currency Tally accepts, with its exponent.")
    def currencies(self) -> list[Currency]:
        return [Currency(code=c, exponent=e) for c, e in sorted(EXPONENTS.items())]


@strawberry.type
class Mutation:
    update_tenant: p.TenantResult = strawberry.mutation(resolver=tenancy.update_tenant)
    create_api_key: p.CreateApiKeyResult = strawberry.mutation(resolver=tenancy.create_api_key)
    revoke_api_key: p.ApiKeyResult = strawberry.mutation(resolver=tenancy.revoke_api_key)
    create_plan: p.PlanResult = strawberry.mutation(resolver=catalog.create_plan)
    update_plan: p.PlanResult = strawberry.mutation(resolver=catalog.update_plan)
    archive_plan: p.PlanResult = strawberry.mutation(resolver=catalog.archive_plan)
    create_add_on: p.AddOnResult = strawberry.mutation(resolver=catalog.create_add_on)
    update_add_on: p.AddOnResult = strawberry.mutation(resolver=catalog.update_add_on)
    archive_add_on: p.AddOnResult = strawberry.mutation(resolver=catalog.archive_add_on)
    create_coupon: p.CouponResult = strawberry.mutation(resolver=catalog.create_coupon)
    update_coupon: p.CouponResult = strawberry.mutation(resolver=catalog.update_coupon)
    archive_coupon: p.CouponResult = strawberry.mutation(resolver=catalog.archive_coupon)
    create_customer: p.CustomerResult = strawberry.mutation(resolver=customers.create_customer)
    update_customer: p.CustomerResult = strawberry.mutation(resolver=customers.update_customer)
    archive_customer: p.CustomerResult = strawberry.mutation(resolver=customers.archive_customer)


@strawberry.type
class Subscription:
    tenant_events = strawberry.subscription(resolver=tenancy.tenant_events)


def should_mask_error(error: GraphQLError) -> bool:
    """Mask only the unexpected: parse, validation, auth and domain errors stay readable."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, GraphQLError | BillingError)


def build_schema(*, max_depth: int = MAX_DEPTH, fast: bool = True) -> strawberry.Schema:
    """`fast=False` gives graphql-core's stock execution (tests compare the two)."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={BigInt: BIGINT_SCALAR}),
        execution_context_class=FastExecutionContext if fast else None,
        extensions=[
            limits(max_depth, MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaskErrors(should_mask_error=should_mask_error),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )
