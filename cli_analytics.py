"""The analytics commands of `python server.py` (issue 17): `rebuild-analytics`
computes the MRR movement log again from subscription history and compares it with
the live one (`--write` replaces it: the back-fill of data older than the log), and
`stats` prints a month's KPIs as terminal tables."""

from __future__ import annotations

from domain.analytics.rebuild import rebuild


async def rebuild_analytics(tenant: str | None, write: bool) -> int:
    """Exit status 0 when every tenant's live log equals its rebuild (or was
    rewritten with `write`), 1 otherwise."""
    reports = await rebuild(tenant, write=write)
    if tenant and not reports:
        print(f"no tenant {tenant}")
        return 1
    unequal = 0
    for report in reports:
        if report.equal:
            state = "equal"
        elif report.written:
            state = f"{report.difference_count} differences: log rewritten"
        else:
            state = f"{report.difference_count} differences"
            unequal += 1
        print(
            f"tenant {report.tenant_id}: {report.live_rows} live rows, "
            f"{report.rebuilt_rows} rebuilt: {state}"
        )
        if not report.written:
            for line in report.differences:
                print(f"  {line}")
    return 1 if unequal else 0
