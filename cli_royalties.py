"""The royalty and ledger commands of `python server.py`: `calculate-royalties` runs a
month for every tenant (or one) with a progress bar, `verify-ledger` proves every
credit wallet's and royalty payee's balance equals its ledger's sum."""

from __future__ import annotations

import sys
import time

from cli import CommandError, progress_bar
from domain import clock
from domain.errors import BillingError


async def verify_ledger() -> int:
    """Every credit wallet's and royalty payee's balance against its ledger: 1 on a
    mismatch."""
    from domain.credits.schedule import verify_ledger
    from domain.royalties import ledger as royalty_ledger

    checked, bad = await verify_ledger()
    for m in bad:
        print(
            f"MISMATCH wallet {m.wallet_id} ({m.customer}): stored {m.stored}, "
            f"ledger {m.ledger}, lots {m.lots}"
        )
    print(f"{checked} wallets checked, {len(bad)} mismatched")
    payees, wrong = await royalty_ledger.verify_ledger()
    for w in wrong:
        print(
            f"MISMATCH payee {w.payee} {w.figure}: stored {w.stored_minor}, ledger {w.ledger_minor}"
        )
    print(f"{payees} royalty payees checked, {len(wrong)} mismatched")
    return 1 if bad or wrong else 0


async def calculate_royalties(period: str, tenant: str | None) -> int:
    """Every tenant's (or one tenant's) royalty run for `period`, with a progress bar."""
    from db.models import Tenant
    from db.royalty_models import Payee
    from domain.royalties.period_guard import PeriodNotEnded
    from domain.royalties.run import run_period
    from domain.royalties.settings import RoyaltyPeriod

    month = RoyaltyPeriod.parse(period)
    if month.end > clock.now():  # the same for every tenant: one error line
        raise PeriodNotEnded(f"{month} has not ended yet", field="period")
    query = Tenant.filter(public_id=tenant) if tenant else Tenant.all()
    ids = await query.order_by("id").values_list("id", "public_id")
    if tenant and not ids:
        raise CommandError(f"no tenant {tenant}")
    with_payees = set(await Payee.all().distinct().values_list("tenant_id", flat=True))
    interactive = sys.stderr.isatty()
    failed = 0
    for tenant_id, public_id in ids:
        if tenant_id not in with_payees:
            continue
        started = time.perf_counter()

        def progress(done: int, total: int, started: float = started) -> None:
            line = progress_bar(done, total, started, "payees")
            sys.stderr.write(line if interactive else line.lstrip("\r") + "\n")
            sys.stderr.flush()

        try:
            report = await run_period(tenant_id, month, progress=progress, quiet_gc=True)
        except BillingError as exc:  # this tenant's (a missing rate): the others still run
            print(f"{public_id} {month}: {exc.code}: {exc.message}", file=sys.stderr)
            failed += 1
            continue
        if interactive:
            sys.stderr.write("\n")
        done = "already complete" if report.already_complete else "completed"
        print(
            f"{public_id} {report.period}: {done} in {time.perf_counter() - started:.2f} s, "
            f"{report.payees} payees, {report.statements_created} statements written"
        )
    return 1 if failed else 0
