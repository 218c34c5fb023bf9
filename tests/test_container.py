"""docker-compose.yml and the Dockerfile, read as `docker compose` would (no Docker
engine runs here): a stack that bills its renewals, tells the sandbox where to post,
runs unprivileged and installs the locked tree."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_is_a_complete_stack() -> None:
    services = _compose()["services"]
    app = services["app"]
    env = app["environment"]
    for dependency in app["depends_on"]:
        assert dependency in services
    assert int(env["BILLING_INTERVAL_SECONDS"]) > 0  # renewals are billed without a cron
    assert env["PUBLIC_URL"].startswith("http://") and "0.0.0.0" not in env["PUBLIC_URL"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://")
    assert set(services) == {"app", "postgres", "redis"}


@pytest.mark.skipif(not shutil.which("docker"), reason="no docker client")
def test_docker_compose_accepts_the_file() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("docker has no compose plugin here")
    subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, check=True)


def test_the_image_installs_the_lock_and_runs_unprivileged() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any("--require-hashes -r requirements/run.txt" in line for line in lines)
    copied = " ".join(line for line in lines if line.startswith("COPY "))
    for module in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "py-modules"
    ]:
        assert f"{module}.py" in copied


def test_the_license_matches_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert "Version 2.0" in (ROOT / "LICENSE").read_text()[:300]
