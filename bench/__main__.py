"""`make bench`: run every benchmark and print its figures (ratios against a baseline
measured in the same run; absolute numbers drift on a shared machine, ratios hold)."""

from __future__ import annotations

import asyncio
import sys

from bench import (
    analytics_mrr,
    billing_run,
    credits,
    exports,
    invoice_pdf,
    live_fanout,
    plans_list,
    provider_webhooks,
    query_limits,
    royalties,
    usage_billing,
    usage_ingest,
    web_panels,
)

BENCHMARKS = {
    "plans": plans_list.run,
    "billing": billing_run.run,
    "pdf": invoice_pdf.run,
    "webhooks": provider_webhooks.run,
    "credits": credits.run,
    "limits": query_limits.run,
    "usage": usage_ingest.run,  # options: see bench/usage_ingest.py
    "usage-billing": usage_billing.run,
    "royalties": royalties.run,  # options: see bench/royalties.py
    "mrr": analytics_mrr.run,  # options: see bench/analytics_mrr.py
    "exports": exports.run,  # options: see bench/exports.py
    "web": web_panels.run,  # options: see bench/web_panels.py (Chromium)
    "fanout": live_fanout.run,  # options: see bench/live_fanout.py
}


def _option_value(args: list[str], i: int) -> bool:
    return i > 0 and args[i - 1].startswith("--") and "=" not in args[i - 1]


def main() -> None:
    # Names; options such as `--events 1000000` belong to a benchmark, which reads them.
    args = sys.argv[1:]
    chosen = [
        a for i, a in enumerate(args) if not a.startswith("-") and not _option_value(args, i)
    ] or list(BENCHMARKS)
    for name in chosen:
        result = asyncio.run(BENCHMARKS[name]())
        print(f"\n[{name}] {result.pop('benchmark')}")
        for key, value in result.items():
            print(f"  {key:28} {value}")


if __name__ == "__main__":
    main()
