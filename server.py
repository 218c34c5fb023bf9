"""Tally server: the Starlette app, its lifespan and the command line.

python server.py serve | migrate | seed-demo | bill | verify-ledger | create-tenant |
    create-api-key
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from tortoise import Tortoise
from tortoise.connection import get_connection

from db.config import connection_name, tortoise_config
from domain import secrets_box
from domain.events.bus import EventBus, build_bus
from domain.payments import mails
from domain.payments.providers import sandbox, stripe_provider
from domain.settings import Settings
from domain.webhooks.delivery import deliver_due
from resolvers import documents
from resolvers.http import TallyGraphQL
from resolvers.provider_webhooks import provider_webhook
from schema import build_schema

log = logging.getLogger("tally")


# -- health and metrics --------------------------------------------------------------------
class Metrics:
    """Request counts and time per route, in the Prometheus text format."""

    ROUTES = ("/graphql", "/health", "/metrics")

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.seconds: Counter[str] = Counter()

    def record(self, path: str, status: int, seconds: float) -> None:
        route = path if path in self.ROUTES else "other"
        if path.startswith("/webhooks/"):
            route = "/webhooks"
        self.requests[(route, status)] += 1
        self.seconds[route] += seconds

    def render(self) -> str:
        lines = ["# TYPE tally_http_requests_total counter"]
        for (path, status), count in sorted(self.requests.items()):
            lines.append(f'tally_http_requests_total{{path="{path}",status="{status}"}} {count}')
        lines.append("# TYPE tally_http_request_seconds_total counter")
        for path, seconds in sorted(self.seconds.items()):
            lines.append(f'tally_http_request_seconds_total{{path="{path}"}} {seconds:.6f}')
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            self.metrics.record(scope["path"], status, time.perf_counter() - started)


async def database_ok(url: str) -> bool:
    try:
        await get_connection(connection_name(url)).execute_query("SELECT 1")
        return True
    except Exception:
        return False


def create_app(settings: Settings | None = None, *, manage_db: bool = True) -> Starlette:
    """`manage_db=False` when the caller (tests, benchmarks) has opened the database."""
    settings = settings or Settings.from_env()
    secrets_box.configure(settings.secret_key)
    bus = build_bus(settings.redis_url)
    graphql = TallyGraphQL(
        build_schema(),
        bus=bus,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        allowed_origins=settings.allowed_origins,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await open_database(settings.database_url)
        try:
            await bus.start()
        except Exception:  # Redis down at boot: serve anyway, /health says 503
            log.exception("event bus did not start")
        stripe_provider.configure_client(stripe_provider.build_client(settings.stripe_api_base))
        http = httpx.AsyncClient(timeout=15)
        own_url = settings.public_url or f"http://{settings.host}:{settings.port}"

        async def to_self(tenant: str, body: bytes, headers: dict[str, str]) -> None:
            await http.post(f"{own_url}/webhooks/sandbox/{tenant}", content=body, headers=headers)

        if manage_db:  # tests wire the sandbox to their own client
            sandbox.configure_sender(to_self)
        tasks = []
        if settings.billing_interval > 0:
            from domain.billing.run import scheduler_loop

            tasks.append(asyncio.create_task(scheduler_loop(settings.billing_interval, bus)))
        if settings.worker_interval > 0:
            tasks.append(asyncio.create_task(worker_loop(http, settings, bus)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await sandbox.flush()
            await http.aclose()
            await bus.close()
            if manage_db:
                await Tortoise.close_connections()

    async def health(request: Request) -> JSONResponse:
        db = await database_ok(settings.database_url)
        redis = None if settings.redis_url is None else await bus.healthy()
        ok = db and redis is not False
        body = {
            "status": "ok" if ok else "unavailable",
            "database": "ok" if db else "down",
            "redis": "not configured" if redis is None else ("ok" if redis else "down"),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    metrics = Metrics()
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/webhooks/{provider}/{tenant}", provider_webhook, methods=["POST"]),
            Route("/invoices/{id}.pdf", documents.invoice_document),
            Route("/credit-notes/{id}.pdf", documents.credit_note_document),
            Route("/health", health),
            Route("/metrics", metrics_endpoint),
        ],
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            # Browser frontends on other origins: only the ones configured.
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Accept", "Accept-Language"],
                max_age=600,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.bus = bus
    return app


async def worker_loop(http: httpx.AsyncClient, settings: Settings, bus: EventBus) -> None:
    """Outbound webhooks and dunning mail, after commit (the outboxes' worker), and
    credit expiries, allowances and expired holds."""
    from domain.credits import schedule

    passes = 0
    while True:
        try:
            scan = passes % max(int(60 / max(settings.worker_interval, 0.1)), 1) == 0
            passes += 1
            await schedule.run_due(bus=bus, find_missing=scan)
            await deliver_due(http)
            await mails.send_pending(settings.smtp_url, settings.mail_from)
        except Exception:
            log.exception("worker pass failed; retrying")
        await asyncio.sleep(settings.worker_interval)


async def open_database(url: str) -> None:
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


# -- command line ------------------------------------------------------------------------------
async def _migrate(url: str) -> None:
    from tortoise.migrations.api.migrate import migrate

    await migrate(config=tortoise_config(url))
    await Tortoise.close_connections()


async def _with_db(url: str, action: Any) -> Any:
    secrets_box.configure(Settings.from_env().secret_key)
    await open_database(url)
    try:
        return await action()
    finally:
        await Tortoise.close_connections()


def _print_keys(tenant_id: str, pairs: list[tuple[str, str]]) -> None:
    print(f"tenant: {tenant_id}")
    for role, key in pairs:
        print(f"{role} API key (shown once): {key}")
    print(
        "\nIn GraphiQL (http://127.0.0.1:8000/graphql) open the Headers tab and paste:\n"
        f'  {{"Authorization": "Bearer {pairs[0][1]}"}}'
    )


async def _seed(url: str) -> None:
    from domain.demo import DEMO_TENANT, seed_demo

    result = await _with_db(url, seed_demo)
    if result is None:
        from db.models import Tenant

        async def find() -> Any:
            return await Tenant.get(name=DEMO_TENANT)

        tenant = await _with_db(url, find)
        print(
            f"Demo data already loaded (tenant {tenant.public_id}). For a new key run:\n"
            f"  .venv/bin/python server.py create-api-key --tenant {tenant.public_id} --role admin"
        )
        return
    _print_keys(
        result.tenant.public_id, [("admin", result.admin_key), ("service", result.service_key)]
    )


async def _create_tenant(url: str, args: argparse.Namespace) -> None:
    from domain.tenancy.access import Role
    from domain.tenancy.api_keys import issue_key
    from domain.tenancy.tenants import create_tenant

    async def run() -> tuple[str, str]:
        tenant = await create_tenant(
            name=args.name,
            country=args.country,
            default_currency=args.currency,
            default_locale=args.locale,
            test_mode=args.test_mode,
        )
        key = await issue_key(tenant_id=tenant.id, role=Role.ADMIN, name="initial admin")
        return tenant.public_id, key.secret

    tenant_id, secret = await _with_db(url, run)
    _print_keys(tenant_id, [("admin", secret)])


async def _create_key(url: str, args: argparse.Namespace) -> None:
    from datetime import timedelta

    from db.models import Customer, Tenant
    from domain import clock
    from domain.tenancy.access import Role
    from domain.tenancy.api_keys import issue_key

    async def run() -> str:
        tenant = await Tenant.get_or_none(public_id=args.tenant)
        if tenant is None:
            raise SystemExit(f"no tenant {args.tenant}")
        customer_id = None
        if args.customer:
            customer = await Customer.get_or_none(tenant_id=tenant.id, public_id=args.customer)
            if customer is None:
                raise SystemExit(f"no customer {args.customer} in {args.tenant}")
            customer_id = customer.id
        expires = clock.now() + timedelta(days=args.expires_days) if args.expires_days else None
        issued = await issue_key(
            tenant_id=tenant.id,
            role=Role(args.role),
            name=args.name or f"{args.role} key",
            customer_id=customer_id,
            expires_at=expires,
        )
        return issued.secret

    print(f"{args.role} API key (shown once): {await _with_db(url, run)}")


async def _verify_ledger() -> int:
    from domain.credits.schedule import verify_ledger

    checked, bad = await verify_ledger()
    for m in bad:
        print(
            f"MISMATCH wallet {m.wallet_id} ({m.customer}): stored {m.stored}, "
            f"ledger {m.ledger}, lots {m.lots}"
        )
    print(f"{checked} wallets checked, {len(bad)} mismatched")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="tally", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve GraphQL on HOST:PORT")
    commands.add_parser("migrate", help="apply database migrations (a no-op when up to date)")
    commands.add_parser("seed-demo", help="load the demo tenant, catalog and customers once")
    bill = commands.add_parser("bill", help="invoice every subscription whose period has ended")
    bill.add_argument("--batch-size", type=int, default=500)
    tenant = commands.add_parser("create-tenant", help="create a tenant and its first admin key")
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--country", required=True, help="ISO 3166-1 alpha-2")
    tenant.add_argument("--currency", required=True, help="ISO 4217 default currency")
    tenant.add_argument("--locale", default="en", choices=["en", "fr", "de", "es", "ar"])
    tenant.add_argument("--test-mode", action="store_true")
    commands.add_parser(
        "verify-ledger", help="prove every credit wallet's balance equals its ledger's sum"
    )
    key = commands.add_parser("create-api-key", help="issue an API key for a tenant")
    key.add_argument("--tenant", required=True, help="tenant id (ten_…)")
    key.add_argument("--role", required=True, choices=["admin", "service", "customer"])
    key.add_argument("--customer", help="customer id (cus_…) for a customer token")
    key.add_argument("--name")
    key.add_argument("--expires-days", type=int)
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    url = settings.database_url
    try:
        if args.command == "serve":
            import uvicorn

            uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
        elif args.command == "migrate":
            asyncio.run(_migrate(url))
        elif args.command == "seed-demo":
            asyncio.run(_seed(url))
        elif args.command == "bill":
            from domain.billing.report import bill_with_progress

            async def bill_then_send() -> int:
                from domain.credits import schedule

                failures = await bill_with_progress(args.batch_size, settings.redis_url)
                await schedule.run_due()
                # One pass of the outboxes, so a cron'd `bill` alone keeps partners told.
                async with httpx.AsyncClient(timeout=15) as http:
                    await deliver_due(http)
                await mails.send_pending(settings.smtp_url, settings.mail_from)
                return failures

            failures = asyncio.run(_with_db(url, bill_then_send))
            raise SystemExit(1 if failures else 0)
        elif args.command == "verify-ledger":
            raise SystemExit(asyncio.run(_with_db(url, _verify_ledger)))
        elif args.command == "create-tenant":
            asyncio.run(_create_tenant(url, args))
        elif args.command == "create-api-key":
            asyncio.run(_create_key(url, args))
    except Exception as exc:  # a clear message instead of a traceback for operator errors
        from domain.errors import BillingError

        if isinstance(exc, BillingError):
            sys.exit(f"error: {exc.message}" + (f" ({exc.field})" if exc.field else ""))
        raise


if __name__ == "__main__":
    main()
