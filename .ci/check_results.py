"""Fail CI unless both passes ran tests, none failed, and no test needing a service
was skipped where that service should be there (a skipped service test would hide
that the service was never used): Redis in either pass, PostgreSQL in the PostgreSQL
pass. A PostgreSQL-only test skipped on the SQLite pass runs on the other one."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SERVICE_SKIPS = {"sqlite": ("Redis",), "postgres": ("PostgreSQL", "Redis")}


def check(path: Path, *, backend: str) -> list[str]:
    if not path.exists():
        return [f"{path}: missing — the {backend} pass did not run"]
    problems: list[str] = []
    suites = ET.parse(path).getroot()
    total = failed = 0
    for case in suites.iter("testcase"):
        total += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        skipped = case.find("skipped")
        if skipped is not None:
            message = skipped.get("message", "")
            if any(s in message for s in SERVICE_SKIPS[backend]):
                problems.append(f"{backend}: {case.get('name')} skipped: {message}")
    if total == 0:
        problems.append(f"{backend}: no test ran")
    if failed:
        problems.append(f"{backend}: {failed} test(s) failed")
    print(f"{backend}: {total} tests, {failed} failed")
    return problems


def main() -> int:
    sqlite, postgres = (Path(p) for p in sys.argv[1:3])
    problems = check(sqlite, backend="sqlite") + check(postgres, backend="postgres")
    for problem in problems:
        print("CI check failed:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
