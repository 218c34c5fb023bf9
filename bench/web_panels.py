"""The web panels (issue 18) in Chromium against a real `serve` process with the demo
data (SQLite, in-process bus): what each page weighs and how long it takes to show
its data, and how long a partner's `consumeCredits` takes to move the portal's
balance on screen, against the bare subscription push (Python `gql` over
graphql-transport-ws) of the same event, measured in the same run.

    .venv/bin/python -m bench web [--events 30]

Needs Debian's Chromium (/usr/bin/chromium) and the test dependencies (Playwright).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.harness import free_port

ROOT = Path(__file__).resolve().parents[1]
PORTAL_PAGES = ("overview", "usage", "invoices", "payment-methods", "plan", "credits")
ADMIN_PAGES = ("kpis", "customers", "operations", "exports")
CONSUME = """mutation($r: String!) { consumeCredits(customerId: "user-1001", module: "rag",
  action: "ask", requestId: $r) { __typename } }"""
FOLLOW = 'subscription { creditBalance(customerId: "user-1001") { balance } }'


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench web", add_help=False)
    parser.add_argument("--events", type=int, default=30)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known


def _prepare(tmp: str) -> tuple[dict[str, str], dict[str, str]]:
    """`migrate` and `seed-demo` in a fresh directory: the environment and the keys
    seed-demo printed (admin, service, customer)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{tmp}/bench.sqlite3",
        "PORT": str(free_port()),
        "TALLY_SECRET_KEY": "bench-secret-key-0123456789",
    }
    env.pop("REDIS_URL", None)
    python = sys.executable
    subprocess.run(
        [python, "server.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    seeded = subprocess.run(
        [python, "server.py", "seed-demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    keys = {
        m[0].split()[0]: m[1]
        for m in re.findall(r"^(.+?) API key \(shown once\): (\S+)$", seeded, re.M)
    }
    return env, keys


@contextlib.asynccontextmanager
async def demo_server() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A `serve` process over the demo data; yields its base URL and the keys."""
    with tempfile.TemporaryDirectory() as tmp:
        env, keys = await asyncio.to_thread(_prepare, tmp)
        server = await asyncio.create_subprocess_exec(
            sys.executable, "server.py", "serve", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{env['PORT']}"
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(200):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{base}/health")).status_code == 200:
                            break
                    await asyncio.sleep(0.05)
            yield base, keys
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 10)


async def _measure(page: Any, action: Any, ready: str) -> tuple[float, int, int]:
    """Milliseconds until `ready` is visible, bytes and requests the browser fetched."""
    sizes: list[int] = []

    async def on_response(response: Any) -> None:
        with contextlib.suppress(Exception):
            sizes.append(len(await response.body()))

    page.on("response", on_response)
    started = time.perf_counter()
    await action()
    await page.locator(ready).wait_for()
    elapsed = (time.perf_counter() - started) * 1000
    await page.wait_for_load_state("networkidle")
    page.remove_listener("response", on_response)
    return elapsed, sum(sizes), len(sizes)


async def _sign_in(page: Any, base: str, panel: str, label: str, token: str) -> None:
    await page.goto(f"{base}/{panel}/sign-in")
    await page.get_by_label(label).fill(token)
    await page.get_by_role("button", name=re.compile("Sign in")).click()
    await page.wait_for_url(re.compile(f"{base}/{panel}"))


async def _pages(
    browser: Any, base: str, keys: dict[str, str]
) -> list[tuple[str, float, int, int]]:
    rows = []
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    # The baseline page: GraphiQL, served by the same process.
    rows.append(("GraphiQL (baseline)",) + await _measure(
        page, lambda: page.goto(f"{base}/graphql"), '[data-testid="graphiql-container"]'))  # fmt: skip
    for panel, label, key, pages in (
        ("portal", "Customer token", keys["customer"], PORTAL_PAGES),
        ("admin", "API key", keys["admin"], ADMIN_PAGES),
    ):
        await _sign_in(page, base, panel, label, key)
        for name in pages:
            ready = (
                f'main[data-page="{name}"][data-ready="true"]'
                if panel == "portal"
                else f'main[data-route="{name}"]:not([aria-busy]):not(:has([aria-busy]))'
            )
            url = f"{base}/{panel}#{name}"

            async def go(url: str = url) -> None:
                await page.goto("about:blank")
                await page.goto(url)

            rows.append((f"/{panel}#{name}",) + await _measure(page, go, ready))
    await context.close()
    return rows


async def _live(
    browser: Any, base: str, keys: dict[str, str], events: int
) -> tuple[list[float], list[float]]:
    """Per event, ms from sending consumeCredits: to the portal's new balance on
    screen, to the same event's push at a bare gql subscriber, to the HTTP answer."""
    from gql import Client, gql
    from gql.transport.websockets import WebsocketsTransport

    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await _sign_in(page, base, "portal", "Customer token", keys["customer"])
    await page.locator('main[data-page="overview"][data-ready="true"]').wait_for()
    transport = WebsocketsTransport(
        url=base.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {keys['admin']}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    pushes: asyncio.Queue[float] = asyncio.Queue()
    browser_ms: list[float] = []
    bare_ms: list[float] = []
    http_ms: list[float] = []
    async with Client(transport=transport) as session, httpx.AsyncClient(base_url=base) as http:

        async def follow() -> None:
            async for _ in session.subscribe(gql(FOLLOW)):
                pushes.put_nowait(time.perf_counter())

        follower = asyncio.create_task(follow())
        headers = {"Authorization": f"Bearer {keys['service']}"}
        for i in range(events + 3):  # the first three warm up (and prove both feeds live)
            # The page notes when #balance changes (its own clock, epoch ms: the same
            # system clock as ours), so Playwright's polling is not in the figure.
            await page.evaluate(
                """() => { window.shownAt = null; const node = document.getElementById('balance');
                const seen = new MutationObserver(() => { window.shownAt = performance.timeOrigin + performance.now(); seen.disconnect(); });
                seen.observe(node, {childList: true, characterData: true, subtree: true}); }"""
            )
            while not pushes.empty():
                pushes.get_nowait()
            sent, sent_epoch = time.perf_counter(), time.time() * 1000
            response = await http.post("/graphql", json={"query": CONSUME, "variables": {"r": f"bench-{i}-{time.time_ns()}"}}, headers=headers)  # fmt: skip
            answered = time.perf_counter()
            assert response.status_code == 200, response.text
            shown_epoch = await (
                await page.wait_for_function("() => window.shownAt", timeout=5_000)
            ).json_value()
            pushed = await asyncio.wait_for(pushes.get(), 5)
            if i >= 3:
                http_ms.append((answered - sent) * 1000)
                browser_ms.append(shown_epoch - sent_epoch)
                bare_ms.append((pushed - sent) * 1000)
        follower.cancel()
    await context.close()
    return browser_ms, bare_ms, http_ms


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def run() -> dict[str, Any]:
    from playwright.async_api import async_playwright

    opts = options()
    async with demo_server() as (base, keys), async_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        rows = await _pages(browser, base, keys)
        browser_ms, bare_ms, http_ms = await _live(browser, base, keys, opts.events)
        await browser.close()
    print(f"{'page':<28} {'ready ms':>9} {'KB':>7} {'requests':>9}")
    for name, ms, size, count in rows:
        print(f"{name:<28} {ms:>9.0f} {size / 1024:>7.1f} {count:>9}")
    heaviest = max(r[2] for r in rows[1:])
    print(f"heaviest panel page: {heaviest / 1024:.1f} KB (budget 300 KB)")
    print("from sending consumeCredits:")
    for label, values in (
        ("portal balance on screen", browser_ms),
        ("bare gql push", bare_ms),
        ("the HTTP answer", http_ms),
    ):
        print(
            f"{label:<26} median {statistics.median(values):6.1f} ms  "
            f"p95 {_pct(values, 0.95):6.1f} ms  max {max(values):6.1f} ms  ({len(values)} events)"
        )
    ratio = statistics.median(browser_ms) / max(statistics.median(bare_ms), 0.01)
    return {
        "benchmark": "web panels in Chromium (demo data, one serve process)",
        "heaviest_page_kb": round(heaviest / 1024, 1),
        "screen_update_median_ms": round(statistics.median(browser_ms), 1),
        "screen_update_p95_ms": round(_pct(browser_ms, 0.95), 1),
        "bare_push_median_ms": round(statistics.median(bare_ms), 1),
        "ratio_screen_to_push": round(ratio, 2),
    }
