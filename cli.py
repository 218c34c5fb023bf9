"""Tally's command line: serve, migrate, seed-demo, bill, verify-ledger, create-tenant,
create-api-key. `python server.py COMMAND` and the `tally` script both land here.

An operator's mistake (a bad PORT, an unsupported DATABASE_URL, a database that does
not answer, a wrong flag value) ends with one `error: …` line naming the variable or
the flag, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from tortoise import Tortoise
from tortoise.exceptions import OperationalError

from db.config import tortoise_config
from domain import clock, secrets_box
from domain.billing.run import RunSummary, count_due, run_billing
from domain.errors import BillingError
from domain.events.bus import EventBus, build_bus
from domain.money import format_money
from domain.payments import aftermath, mails
from domain.settings import ConfigError, Settings
from domain.webhooks.delivery import deliver_due

ENVIRONMENT = """environment:
  DATABASE_URL              sqlite://tally.sqlite3 (default) or postgres://user:pass@host:5432/db
  REDIS_URL                 redis://host:6379/0: live events across server processes
  HOST, PORT                where `serve` listens (127.0.0.1, 8000)
  TALLY_SECRET_KEY          encrypts stored secrets; set it in production
  ALLOWED_ORIGINS           comma-separated browser origins (CORS, WebSocket)
  SMTP_URL, MAIL_FROM       outgoing mail (smtp://user:pass@host:587?starttls=1)
  BILLING_INTERVAL_SECONDS  run the billing run inside `serve` every N seconds (0: off)
  WORKER_INTERVAL_SECONDS   outbox, dunning and credit worker inside `serve` (2; 0: off)
  PUBLIC_URL                where the sandbox provider posts its webhooks
  STRIPE_API_BASE           another Stripe API base (a local fake in tests)
  LIVE_SEND_BUFFER_BYTES    live messages a WebSocket may leave unread, then close 4408 (524288)
  WS_DEFLATE                1: permessage-deflate on WebSockets (0, off: see PERFORMANCE.md)"""

# Domain errors name API fields; on the command line the same value came from a flag.
FLAGS = {
    "name": "--name",
    "country": "--country",
    "defaultCurrency": "--currency",
    "currency": "--currency",
    "defaultLocale": "--locale",
    "locale": "--locale",
    "role": "--role",
    "customerId": "--customer",
    "tenantId": "--tenant",
    "expiresAt": "--expires-days",
    "period": "--period",
    "month": "--month",
}


class CommandError(Exception):
    """An operator error: printed as one line, exit status 1."""


def _where(url: str) -> str:
    """The database's address without its password."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return url
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}{parts.path}"


async def open_database(url: str) -> None:
    try:
        await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    except (OSError, TimeoutError) as exc:
        raise CommandError(f"the database at {_where(url)} is unreachable: {exc}") from None


async def _migrate(url: str) -> None:
    from tortoise.migrations.api.migrate import migrate

    from domain.analytics.rebuild import backfill

    try:
        await migrate(config=tortoise_config(url))
        await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
        for report in await backfill():  # subscriptions older than the MRR log
            if report.written:
                print(
                    f"MRR log back-filled for tenant {report.tenant_id}: {report.rebuilt_rows} rows"
                )
    except (OSError, TimeoutError) as exc:
        raise CommandError(f"the database at {_where(url)} is unreachable: {exc}") from None
    finally:
        await Tortoise.close_connections()


async def _with_db(settings: Settings, action: Any) -> Any:
    secrets_box.configure(settings.secret_key)
    await open_database(settings.database_url)
    try:
        return await action()
    finally:
        await Tortoise.close_connections()


def _print_keys(settings: Settings, tenant_id: str, pairs: list[tuple[str, str]]) -> None:
    print(f"tenant: {tenant_id}")
    for role, key in pairs:
        print(f"{role} API key (shown once): {key}")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = f"http://{host}:{settings.port}"
    print(
        f"\nIn GraphiQL ({base}/graphql) open the Headers tab and paste:\n"
        f'  {{"Authorization": "Bearer {pairs[0][1]}"}}'
        f"\nAdmin console: {base}/admin (sign in with the admin key)"
    )
    if any(role.startswith("customer") for role, _ in pairs):
        print(f"Customer portal: {base}/portal (sign in with the customer token)")


async def _seed(settings: Settings) -> None:
    from db.models import Tenant
    from domain.demo import DEMO_TENANT, seed_demo

    result = await _with_db(settings, seed_demo)
    if result is None:

        async def find() -> Any:
            return await Tenant.get(name=DEMO_TENANT)

        tenant = await _with_db(settings, find)
        print(
            f"Demo data already loaded (tenant {tenant.public_id}). For a new key run:\n"
            f"  .venv/bin/python server.py create-api-key --tenant {tenant.public_id} --role admin"
        )
        return
    keys = [
        ("admin", result.admin_key),
        ("service", result.service_key),
        ("customer (Amina, the portal)", result.customer_key),
    ]
    _print_keys(settings, result.tenant.public_id, keys)


async def _create_tenant(settings: Settings, args: argparse.Namespace) -> None:
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

    tenant_id, secret = await _with_db(settings, run)
    _print_keys(settings, tenant_id, [("admin", secret)])


async def _create_key(settings: Settings, args: argparse.Namespace) -> None:
    from db.models import Customer, Tenant
    from db.royalty_models import Payee
    from domain import clock
    from domain.tenancy.access import Role
    from domain.tenancy.api_keys import issue_key

    async def run() -> str:
        tenant = await Tenant.get_or_none(public_id=args.tenant)
        if tenant is None:
            raise CommandError(f"no tenant {args.tenant} (--tenant)")
        customer_id = payee_id = None
        if args.customer:
            customer = await Customer.get_or_none(tenant_id=tenant.id, public_id=args.customer)
            if customer is None:
                raise CommandError(f"no customer {args.customer} in {args.tenant} (--customer)")
            customer_id = customer.id
        if args.payee:
            payee = await Payee.get_or_none(tenant_id=tenant.id, public_id=args.payee)
            if payee is None:
                raise CommandError(f"no payee {args.payee} in {args.tenant} (--payee)")
            payee_id = payee.id
        expires = clock.now() + timedelta(days=args.expires_days) if args.expires_days else None
        issued = await issue_key(
            tenant_id=tenant.id,
            role=Role(args.role),
            name=args.name or f"{args.role} key",
            customer_id=customer_id,
            payee_id=payee_id,
            expires_at=expires,
        )
        return issued.secret

    print(f"{args.role} API key (shown once): {await _with_db(settings, run)}")


async def _bill(settings: Settings, batch_size: int) -> int:
    from domain.credits import schedule
    from domain.reports.kpi_schedule import send_due_kpi_reports

    failures = await bill_with_progress(batch_size, settings.redis_url)
    await schedule.run_due()
    await send_due_kpi_reports(clock.now())  # last month's KPI report, once, to the outbox
    # One pass of the outboxes, so a cron'd `bill` alone keeps partners told.
    async with httpx.AsyncClient(timeout=15) as http:
        await deliver_due(http)
    await mails.send_pending(settings.smtp_url, settings.mail_from)
    await aftermath.send_due_refunds()  # refunds the provider has not taken yet
    return failures


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="tally",
        description="Tally: a GraphQL billing API server.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=ENVIRONMENT,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    command("serve", "serve GraphQL on HOST:PORT")
    command("migrate", "apply database migrations (a no-op when up to date)")
    command("seed-demo", "load the demo tenant, catalog and customers once")
    bill = command("bill", "invoice every subscription whose period has ended")
    bill.add_argument("--batch-size", type=int, default=500)
    tenant = command("create-tenant", "create a tenant and its first admin key")
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--country", required=True, help="ISO 3166-1 alpha-2")
    tenant.add_argument("--currency", required=True, help="ISO 4217 default currency")
    tenant.add_argument("--locale", default="en", choices=["en", "fr", "de", "es", "ar"])
    tenant.add_argument("--test-mode", action="store_true")
    command(
        "verify-ledger",
        "prove every credit wallet's and royalty payee's balance equals its ledger's sum",
    )
    royalties = command("calculate-royalties", "run the royalties of a month, once per payee")
    royalties.add_argument("--period", required=True, help="the month, YYYY-MM")
    royalties.add_argument("--tenant", help="one tenant (ten_…); default: every tenant")
    rebuild = command(
        "rebuild-analytics",
        "compute the MRR movement log again from subscription history and compare",
    )
    rebuild.add_argument("--tenant", help="one tenant (ten_…); default: every tenant")
    rebuild.add_argument(
        "--write", action="store_true", help="replace the log with the rebuilt one"
    )
    stats = command("stats", "print a month's KPIs (MRR, customers, cash, receivables, cohorts)")
    stats.add_argument("--tenant", help="one tenant (ten_…); default: every tenant")
    stats.add_argument("--month", help="YYYY-MM (UTC); default: the last complete month")
    key = command("create-api-key", "issue an API key for a tenant")
    key.add_argument("--tenant", required=True, help="tenant id (ten_…)")
    key.add_argument(
        "--role", required=True, choices=["admin", "service", "customer", "payee", "analyst"]
    )
    key.add_argument("--customer", help="customer id (cus_…) for a customer token")
    key.add_argument("--payee", help="payee id (pye_…) for a payee token")
    key.add_argument("--name")
    key.add_argument("--expires-days", type=int)
    return root


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        import uvicorn

        from api.graphql_ws import SLOW_CLOSE_WAIT
        from server import create_app

        uvicorn.run(
            create_app(settings, settle_gc=settings.gc_settle),
            host=settings.host,
            port=settings.port,
            ws_per_message_deflate=settings.ws_deflate,
            # A socket whose client reads nothing never finishes closing: stop
            # waiting for it (docs/LIVE.md), or the lifespan's cleanup never runs.
            timeout_graceful_shutdown=int(SLOW_CLOSE_WAIT) + 5,
        )
        return 0
    if args.command == "migrate":
        asyncio.run(_migrate(settings.database_url))
    elif args.command == "seed-demo":
        asyncio.run(_seed(settings))
    elif args.command == "bill":
        failures = asyncio.run(_with_db(settings, lambda: _bill(settings, args.batch_size)))
        return 1 if failures else 0
    elif args.command == "verify-ledger":
        import cli_royalties

        return asyncio.run(_with_db(settings, cli_royalties.verify_ledger))
    elif args.command == "calculate-royalties":
        import cli_royalties

        return asyncio.run(
            _with_db(settings, lambda: cli_royalties.calculate_royalties(args.period, args.tenant))
        )
    elif args.command == "rebuild-analytics":
        import cli_analytics

        return asyncio.run(
            _with_db(settings, lambda: cli_analytics.rebuild_analytics(args.tenant, args.write))
        )
    elif args.command == "stats":
        import cli_analytics

        return asyncio.run(_with_db(settings, lambda: cli_analytics.stats(args.tenant, args.month)))
    elif args.command == "create-tenant":
        asyncio.run(_create_tenant(settings, args))
    elif args.command == "create-api-key":
        asyncio.run(_create_key(settings, args))
    return 0


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Tortoise logs "Tortoise-ORM shutdown" at INFO on every close: noise for a CLI.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"error: {exc}")
    try:
        sys.exit(run(args, settings))
    except CommandError as exc:
        sys.exit(f"error: {exc}")
    except BillingError as exc:
        flag = FLAGS.get(exc.field or "", exc.field)
        sys.exit(f"error: {exc.message}" + (f" ({flag})" if flag else ""))
    except OperationalError as exc:
        sys.exit(f"error: the database refused the command ({exc}); has `migrate` run?")
    except asyncpg.PostgresError as exc:  # wrong user, password or database name
        sys.exit(f"error: the database at {_where(settings.database_url)} refused: {exc}")
    except (OSError, TimeoutError) as exc:  # a lazily opened connection that failed
        sys.exit(f"error: the database at {_where(settings.database_url)} is unreachable: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)


# -- `bill`: a progress bar on stderr, then a summary ----------------------------------
BAR_WIDTH = 30


def progress_bar(done: int, total: int, started: float, what: str = "subscriptions") -> str:
    share = 1.0 if total == 0 else min(done / total, 1.0)
    filled = int(share * BAR_WIDTH)
    rate = done / max(time.perf_counter() - started, 1e-9)
    return f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {what}  {rate:,.0f}/s"


def summary_text(summary: RunSummary, seconds: float) -> str:
    lines = [
        f"Billing run at {summary.at.isoformat()} finished in {seconds:.2f} s",
        f"  subscriptions billed: {summary.subscriptions}",
        f"  invoices created:     {summary.invoices}",
    ]
    for currency, total in sorted(summary.totals.items()):
        lines.append(f"  total {currency}:            {format_money(total, currency, 'en')}")
    lines.append(f"  payments sent:        {summary.payments_sent}")
    lines.append(f"  failures:             {len(summary.failures)}")
    lines += [f"    {sub}: {error}" for sub, error in summary.failures]
    return "\n".join(lines)


async def bill_with_progress(batch_size: int, redis_url: str | None = None) -> int:
    """With REDIS_URL set, the invoices are announced to the servers' subscribers."""
    bus = build_bus(redis_url) if redis_url else None
    if bus is not None:
        await bus.start()
    try:
        return await _bill_run(batch_size, bus)
    finally:
        if bus is not None:
            await bus.close()


async def _bill_run(batch_size: int, bus: EventBus | None) -> int:
    at = clock.now()
    total = await count_due(at)
    started = time.perf_counter()
    interactive = sys.stderr.isatty()

    def progress(summary: RunSummary) -> None:
        done = summary.subscriptions + len(summary.failures)
        if interactive:
            sys.stderr.write(progress_bar(done, total, started))
        else:
            sys.stderr.write(progress_bar(done, total, started).lstrip("\r") + "\n")
        sys.stderr.flush()

    summary = await run_billing(
        at=at, batch_size=batch_size, progress=progress, bus=bus, trigger="cli"
    )
    if interactive:
        sys.stderr.write("\n")
    print(summary_text(summary, time.perf_counter() - started))
    return len(summary.failures)
