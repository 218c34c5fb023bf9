"""Tally server: the Starlette app and its lifespan.

python server.py serve | migrate | seed-demo | bill | verify-ledger | create-tenant |
    create-api-key  (the command line is in cli.py)
"""

from __future__ import annotations

import asyncio
import logging
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
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from tortoise import Tortoise
from tortoise.connection import get_connection

from api import (
    documents,
    exports_http,
    gc_pauses,
    royalty_documents_http,
    royalty_http,
    usage_http,
    web_http,
)
from api.gc_pauses import GcPauses
from api.graphql_app import GRAPHIQL_ASSETS, TallyGraphQL
from api.kpi_report_http import kpi_report_document
from api.provider_webhooks import provider_webhook
from api.schema import build_schema
from db.config import connection_name, tortoise_config
from domain import clock, secrets_box
from domain.events.bus import EventBus, build_bus
from domain.payments import aftermath, mails
from domain.payments.providers import sandbox, stripe_provider
from domain.settings import Settings
from domain.webhooks.delivery import deliver_due

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


def create_app(
    settings: Settings | None = None, *, manage_db: bool = True, settle_gc: bool = False
) -> Starlette:
    """`manage_db=False` when the caller (tests, benchmarks) has opened the database;
    `settle_gc` (the `serve` command) freezes the start-up heap (api/gc_pauses.py)."""
    settings = settings or Settings.from_env()
    secrets_box.configure(settings.secret_key)
    bus = build_bus(settings.redis_url)
    graphql = TallyGraphQL(
        build_schema(),
        bus=bus,
        send_buffer=settings.live_send_buffer,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        allowed_origins=settings.allowed_origins,
    )
    pauses = GcPauses()

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
        if settle_gc:
            log.info("gc: %d start-up objects frozen", gc_pauses.settle())
        pauses.install()  # after settling: its own collection is start-up, not load
        try:
            yield
        finally:
            pauses.remove()
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
        live = graphql.live.stats()
        text = (
            metrics.render()
            + pauses.render()
            + "# TYPE tally_live_groups gauge\n"
            + f"tally_live_groups {live.groups}\n"
            + "# TYPE tally_live_subscribers gauge\n"
            + f"tally_live_subscribers {live.members}\n"
            + "# TYPE tally_live_slow_closed_total counter\n"
            + f"tally_live_slow_closed_total {live.slow_closed}\n"
            + "# TYPE tally_live_slow_abandoned_total counter\n"
            + f"tally_live_slow_abandoned_total {live.slow_abandoned}\n"
        )
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    metrics = Metrics()
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/webhooks/{provider}/{tenant}", provider_webhook, methods=["POST"]),
            Route("/invoices/{id}.pdf", documents.invoice_document),
            Route("/credit-notes/{id}.pdf", documents.credit_note_document),
            Route("/v1/events", usage_http.ingest, methods=["POST"]),
            Route("/v1/reads", royalty_http.record, methods=["POST"]),
            Route("/v1/exports/usage-events.{format}", usage_http.export_usage_events),
            Route("/v1/exports/usage-periods.{format}", usage_http.export_usage_periods),
            Route("/v1/kpi-reports/{month}.pdf", kpi_report_document),
            Route(
                "/v1/royalty-statements/{id}.{format}",
                royalty_documents_http.royalty_statement_document,
            ),
            Route("/exports/{name}", exports_http.export),
            *web_http.routes(),  # the customer portal and the admin console
            Route("/health", health),
            Route("/metrics", metrics_endpoint),
            # GraphiQL's scripts and styles, served here rather than from a CDN.
            Mount("/graphiql-assets", StaticFiles(directory=GRAPHIQL_ASSETS)),
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
    app.state.live = graphql.live
    return app


async def worker_loop(http: httpx.AsyncClient, settings: Settings, bus: EventBus) -> None:
    """Outbound webhooks and dunning mail, after commit (the outboxes' worker), credit
    expiries, allowances and expired holds, and the monthly KPI reports."""
    from domain.credits import schedule
    from domain.reports.kpi_schedule import send_due_kpi_reports

    passes = 0
    while True:
        try:
            scan = passes % max(int(60 / max(settings.worker_interval, 0.1)), 1) == 0
            passes += 1
            await schedule.run_due(bus=bus, find_missing=scan)
            await deliver_due(http)
            if scan:  # about once a minute: last month's KPI report, once, on the 1st
                await send_due_kpi_reports(clock.now())
            await mails.send_pending(settings.smtp_url, settings.mail_from)
            if scan:  # about once a minute: refunds the provider has not taken yet
                await aftermath.send_due_refunds()
        except Exception:
            log.exception("worker pass failed; retrying")
        await asyncio.sleep(settings.worker_interval)


async def open_database(url: str) -> None:
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


# -- command line ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """`python server.py serve | migrate | …`: the command line lives in cli.py."""
    from cli import main as cli_main

    cli_main(argv)


if __name__ == "__main__":
    main()
