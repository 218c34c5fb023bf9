"""`make bench`: run every benchmark and print its figures (ratios against a baseline
measured in the same run; absolute numbers drift on a shared machine, ratios hold)."""

from __future__ import annotations

import asyncio
import sys

from bench import billing_run, credits, invoice_pdf, plans_list, provider_webhooks, query_limits

BENCHMARKS = {
    "plans": plans_list.run,
    "billing": billing_run.run,
    "pdf": invoice_pdf.run,
    "webhooks": provider_webhooks.run,
    "credits": credits.run,
    "limits": query_limits.run,
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        result = asyncio.run(BENCHMARKS[name]())
        print(f"\n[{name}] {result.pop('benchmark')}")
        for key, value in result.items():
            print(f"  {key:28} {value}")


if __name__ == "__main__":
    main()
