"""Fail CI unless both passes ran tests, none failed, and no test needing a service
was skipped where that service should be there (a skipped service test would hide
that the service was never used): Redis in either pass, PostgreSQL in the PostgreSQL
pass. A PostgreSQL-only test skipped on the SQLite pass runs on the other one. The
browser tests (tests/browser) run in the SQLite pass only: there, at least one must
have passed and none may have been skipped."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SERVICE_SKIPS = {"sqlite": ("Redis",), "postgres": ("PostgreSQL", "Redis")}
BROWSER_TESTS = "tests.browser."  # junit classnames of the tests under tests/browser/


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
    if backend == "sqlite":
        problems += check_browser_tests(suites)
    if failed:
        problems.append(f"{backend}: {failed} test(s) failed")
    print(f"{backend}: {total} tests, {failed} failed")
    return problems


def check_browser_tests(suites: ET.Element) -> list[str]:
    """The SQLite pass ran the browser tests in Chromium: none skipped, one passed."""
    problems: list[str] = []
    passed = 0
    for case in suites.iter("testcase"):
        if not case.get("classname", "").startswith(BROWSER_TESTS):
            continue
        skipped = case.find("skipped")
        if skipped is not None:
            problems.append(
                f"sqlite: browser test {case.get('name')} skipped: {skipped.get('message', '')}"
            )
        elif case.find("failure") is None and case.find("error") is None:
            passed += 1
    if passed == 0:
        problems.append("sqlite: no browser test (tests/browser) passed")
    print(f"sqlite: {passed} browser tests passed")
    return problems


def main() -> int:
    sqlite, postgres = (Path(p) for p in sys.argv[1:3])
    problems = check(sqlite, backend="sqlite") + check(postgres, backend="postgres")
    for problem in problems:
        print("CI check failed:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
