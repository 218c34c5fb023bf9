"""A built wheel is a complete Tally: it carries the PDF fonts (once it did not, and
invoices from an installed wheel came out in Helvetica with the Arabic lost)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RENDER = """
import sys
from datetime import datetime, timezone
import domain
from domain.invoicing.pdf import Document, render_html, render_pdf

assert domain.__file__.startswith(sys.argv[1]), domain.__file__  # the wheel's copy
doc = Document(
    kind="invoice", number="F-1", status="open", locale="ar", currency="EUR",
    issued_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    customer={"name": "\u0634\u0631\u0643\u0629"},
    memo="\u0627\u0634\u062a\u0631\u0627\u0643 \u20ac",
    totals=[("total", 1000)],
)
sys.stdout.buffer.write(render_pdf(render_html(doc)))
"""


def test_the_installed_wheel_renders_invoices_in_dejavu(tmp_path: Path) -> None:
    dist, site, source = tmp_path / "dist", tmp_path / "site", tmp_path / "source"
    # A copy of the checkout, so no earlier build/ folder can lend the wheel its files.
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "tests", "bench"),
    )
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("tally-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for font in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE-DejaVu.txt"):
        assert f"domain/invoicing/fonts/{font}" in names
    # GraphiQL's assets, served from the package (no CDN), with their licences.
    assets = ROOT / "api" / "static" / "graphiql"
    for path in assets.rglob("*"):
        if path.is_file():
            assert path.relative_to(ROOT).as_posix() in names

    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    rendered = subprocess.run(
        [sys.executable, "-c", RENDER, str(site)],
        cwd=tmp_path,  # not the checkout: only the wheel's files are importable as `domain`
        env=env,
        capture_output=True,
        check=True,
    )
    assert rendered.stdout.startswith(b"%PDF")
    assert b"DejaVuSans" in rendered.stdout
