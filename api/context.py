"""Per-request context: who is calling, their tenant, DataLoaders, locale, event bus."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from db.models import ApiKey, Customer, Tenant
from domain.catalog.plans import PlanRecord, plans_by_ids
from domain.customers.service import customers_by_ids
from domain.events.bus import EventBus
from domain.invoicing import queries
from domain.invoicing import service as invoice_service
from domain.money import display_locale
from domain.payments import queries as payment_queries
from domain.subscriptions.previews import preview_next_invoices
from domain.tenancy.access import Principal
from domain.tenancy.api_keys import Authenticated
from domain.usage.charges import charges_of_plans
from domain.usage.metrics import metrics_by_ids
from domain.validation import SUPPORTED_LOCALES


class Loaders:
    """Built per HTTP request (and per subscription on a WebSocket): caches never
    outlive the request that filled them. Each loader is made on first use, so a
    request that needs none (a credit check, a consumption) pays for none."""

    def __init__(self, principal: Principal | None) -> None:
        self._principal = principal

    @cached_property
    def plan_by_id(self) -> DataLoader[int, PlanRecord | None]:
        return DataLoader(self._plans)

    @cached_property
    def customer_by_id(self) -> DataLoader[int, Customer | None]:
        return DataLoader(self._customers)

    @cached_property
    def invoice_lines(self) -> DataLoader[int, list[Any]]:
        return DataLoader(queries.lines_by_invoice)

    @cached_property
    def invoice_by_id(self) -> DataLoader[int, Any]:
        return DataLoader(lambda ids: queries.invoices_by_ids(self._tenant_id, ids))

    @cached_property
    def subscription_by_id(self) -> DataLoader[int, Any]:
        return DataLoader(lambda ids: queries.subscriptions_by_ids(self._tenant_id, ids))

    @cached_property
    def customer_now(self) -> DataLoader[int, Any]:
        return DataLoader(invoice_service.customer_times)

    @cached_property
    def upcoming_invoice(self) -> DataLoader[Any, Any]:
        """A subscription's next invoice; one preview for a whole page of them."""
        return DataLoader(preview_next_invoices, cache_key_fn=lambda sub: sub.id)

    @cached_property
    def customer_balances(self) -> DataLoader[int, list[Any]]:
        return DataLoader(queries.balances_by_customer)

    @cached_property
    def credit_notes_by_invoice(self) -> DataLoader[int, list[Any]]:
        return DataLoader(lambda ids: queries.credit_notes_by_invoice(self._tenant_id, ids))

    @cached_property
    def payments_by_invoice(self) -> DataLoader[int, list[Any]]:
        return DataLoader(lambda ids: payment_queries.payments_by_invoice(self._tenant_id, ids))

    @cached_property
    def payment_methods(self) -> DataLoader[int, list[Any]]:
        return DataLoader(payment_queries.methods_by_customer)

    @cached_property
    def blocks_credits(self) -> DataLoader[int, bool]:
        return DataLoader(payment_queries.credits_blocking)

    @cached_property
    def charges_by_plan(self) -> DataLoader[int, list[Any]]:
        return DataLoader(lambda ids: charges_of_plans(self._tenant_id, ids))

    @cached_property
    def metric_by_id(self) -> DataLoader[int, Any]:
        return DataLoader(self._metrics)

    @property
    def _tenant_id(self) -> int:
        assert self._principal is not None
        return self._principal.tenant_id

    async def _plans(self, ids: list[int]) -> list[PlanRecord | None]:
        return await plans_by_ids(self._tenant_id, ids)

    async def _customers(self, ids: list[int]) -> list[Customer | None]:
        return await customers_by_ids(self._tenant_id, ids)

    async def _metrics(self, ids: list[int]) -> list[Any]:
        return await metrics_by_ids(self._tenant_id, ids)


@dataclass
class Context:
    request: Request | WebSocket
    response: Any
    bus: EventBus
    principal: Principal | None = None
    tenant: Tenant | None = None
    api_key: ApiKey | None = None
    locale: str = "en"
    loaders: Loaders = field(default_factory=lambda: Loaders(None))
    connection_params: dict[str, Any] | None = None

    def sign_in(self, auth: Authenticated, accept_language: str | None) -> None:
        self.principal = auth.principal
        self.tenant = auth.tenant
        self.api_key = auth.api_key
        self.locale = pick_locale(accept_language, auth.tenant.default_locale)
        display_locale.set(self.locale)
        self.loaders = Loaders(auth.principal)

    def detached(self) -> Context:
        """This caller's context for a live group (api/live_groups.py), which outlives
        the connection that started it: fresh loaders, no response to write to."""
        return replace(self, response=None, loaders=Loaders(self.principal))

    @property
    def base_url(self) -> str:
        """Where links to this server point: PUBLIC_URL when set (behind a proxy the
        request's Host is the proxy's business), else the request's own."""
        return public_base_url(self.request)

    @property
    def caller(self) -> Principal:
        if self.principal is None:  # the transport authenticates before any resolver runs
            raise RuntimeError("unauthenticated context reached a resolver")
        return self.principal


def public_base_url(request: Request | WebSocket) -> str:
    settings = getattr(request.app.state, "settings", None)
    public = getattr(settings, "public_url", "") or ""
    return public.rstrip("/") or str(request.base_url).rstrip("/")


def pick_locale(
    accept_language: str | None, default: str, supported: Collection[str] = SUPPORTED_LOCALES
) -> str:
    """The first of the header's languages that is `supported`, else `default`."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in supported:
            return tag
    return default
