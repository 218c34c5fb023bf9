"""Payments, payment settings, refunds and outbound webhooks: thin adapters."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.payments import methods, operations, paying, queries, settings
from domain.webhooks import delivery, endpoints
from resolvers.common import mutate, paged, query, to_data
from schema import payments as t
from schema.common import Connection
from schema.customers import PaymentProvider
from schema.payloads import CustomerResult, CustomerSuccess


async def payment_settings(info: Info) -> t.PaymentSettings:
    async def run() -> Any:
        return t.settings_view(await settings.get_payment_settings(info.context.caller))

    return await query(run)


async def payment(info: Info, id: strawberry.ID) -> t.Payment | None:
    return await query(lambda: operations.get_payment(info.context.caller, id))


async def payment_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    invoice_id: strawberry.ID | None = None,
    customer_id: strawberry.ID | None = None,
    status: t.PaymentStatus | None = None,
) -> Connection[t.Payment]:
    return await paged(
        info,
        operations.list_payments,
        first,
        after,
        invoice_id=invoice_id,
        customer_id=customer_id,
        status=status.value if status else None,
    )


async def provider_event_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    outcome: t.ProviderEventOutcome | None = None,
) -> Connection[t.ProviderEvent]:
    return await paged(
        info,
        queries.list_provider_events,
        first,
        after,
        outcome=outcome.value if outcome else None,
    )


async def webhook_endpoint_list(
    info: Info, first: int | None = None, after: str | None = None
) -> Connection[t.WebhookEndpoint]:
    return await paged(info, endpoints.list_endpoints, first, after)


async def webhook_delivery_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    endpoint_id: strawberry.ID | None = None,
    event_id: strawberry.ID | None = None,
    status: t.WebhookDeliveryStatus | None = None,
) -> Connection[t.WebhookDelivery]:
    return await paged(
        info,
        endpoints.list_deliveries,
        first,
        after,
        endpoint_id=endpoint_id,
        event_id=event_id,
        status=status.value if status else None,
    )


async def webhook_event_list(
    info: Info, first: int | None = None, after: str | None = None, type: str | None = None
) -> Connection[t.WebhookEvent]:
    return await paged(info, endpoints.list_events, first, after, type_=type)


# -- mutations -----------------------------------------------------------------------------


async def update_payment_settings(
    info: Info, input: t.PaymentSettingsInput
) -> t.PaymentSettingsResult:
    return await mutate(
        settings.update_payment_settings(info.context.caller, to_data(input)),
        lambda tenant: t.PaymentSettingsSuccess(settings=t.settings_view(tenant)),
    )


async def set_customer_payment_provider(
    info: Info, customer_id: strawberry.ID, provider: PaymentProvider | None
) -> CustomerResult:
    return await mutate(
        settings.set_customer_provider(
            info.context.caller, customer_id, provider.value if provider else None
        ),
        lambda row: CustomerSuccess(customer=row),
    )


async def attach_payment_method(
    info: Info, customer_id: strawberry.ID, token: str, make_default: bool = True
) -> t.PaymentMethodResult:
    return await mutate(
        methods.attach_payment_method(
            info.context.caller, customer_id, token, make_default=make_default
        ),
        lambda row: t.PaymentMethodSuccess(payment_method=row),
    )


async def set_default_payment_method(info: Info, id: strawberry.ID) -> t.PaymentMethodResult:
    return await mutate(
        methods.set_default_payment_method(info.context.caller, id),
        lambda row: t.PaymentMethodSuccess(payment_method=row),
    )


async def detach_payment_method(info: Info, id: strawberry.ID) -> t.PaymentMethodResult:
    return await mutate(
        methods.detach_payment_method(info.context.caller, id),
        lambda row: t.PaymentMethodSuccess(payment_method=row),
    )


async def pay_invoice(
    info: Info, invoice_id: strawberry.ID, payment_method_id: strawberry.ID | None = None
) -> t.PaymentResult:
    return await mutate(
        paying.pay_invoice(info.context.caller, invoice_id, payment_method_id),
        lambda row: t.PaymentSuccess(payment=row),
    )


async def record_payment(
    info: Info, input: t.RecordPaymentInput, idempotency_key: str | None = None
) -> t.PaymentResult:
    return await mutate(
        operations.record_payment(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        lambda row: t.PaymentSuccess(payment=row),
    )


async def refund_payment(
    info: Info, input: t.RefundPaymentInput, idempotency_key: str | None = None
) -> t.RefundResult:
    return await mutate(
        operations.refund_payment_and_reload(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        lambda pair: t.RefundSuccess(refund=pair[0], payment=pair[1]),
    )


async def complete_sandbox_action(
    info: Info, payment_id: strawberry.ID, succeed: bool = True
) -> t.PaymentResult:
    return await mutate(
        operations.complete_sandbox_action(info.context.caller, payment_id, succeed),
        lambda row: t.PaymentSuccess(payment=row),
    )


async def create_webhook_endpoint(
    info: Info, input: t.WebhookEndpointInput
) -> t.CreateWebhookEndpointResult:
    return await mutate(
        endpoints.create_endpoint(info.context.caller, to_data(input)),
        lambda pair: t.CreateWebhookEndpointSuccess(endpoint=pair[0], secret=pair[1]),
    )


async def update_webhook_endpoint(
    info: Info, id: strawberry.ID, input: t.UpdateWebhookEndpointInput
) -> t.WebhookEndpointResult:
    return await mutate(
        endpoints.update_endpoint(info.context.caller, id, to_data(input)),
        lambda row: t.WebhookEndpointSuccess(endpoint=row),
    )


async def delete_webhook_endpoint(info: Info, id: strawberry.ID) -> t.WebhookEndpointResult:
    return await mutate(
        endpoints.delete_endpoint(info.context.caller, id),
        lambda row: t.WebhookEndpointSuccess(endpoint=row),
    )


async def replay_webhook_event(
    info: Info, event_id: strawberry.ID, endpoint_id: strawberry.ID | None = None
) -> t.ReplayResult:
    return await mutate(
        delivery.replay_event(info.context.caller, event_id, endpoint_id),
        lambda n: t.ReplaySuccess(queued=n),
    )


async def replay_failed_webhooks(info: Info, endpoint_id: strawberry.ID) -> t.ReplayResult:
    return await mutate(
        delivery.replay_failed(info.context.caller, endpoint_id),
        lambda n: t.ReplaySuccess(queued=n),
    )
