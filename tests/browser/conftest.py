"""Fixtures of the browser tests: the app under the local host with its sandbox (e-conomic stand-in,
SMTP sink) on free ports and a private Azurite, a tenant seeded as `python -m devhost.seed` does, and
Debian's chromium driven by playwright.

Chromium is the system package (`/usr/bin/chromium`, installed by `.ci/run`); playwright's own browser
download is never used. Without it the tests fail in CI (`CI` set) and are skipped, loudly, elsewhere.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devhost.processes import REPO_ROOT, Azurite, free_port, run_azurite, run_devhost
from devhost.sandbox import APP_SECRET_TOKEN, GRANT_TOKEN
from devhost.seed import Seeded, seed
from shared.container import build
from tests.support.app import app_env_for

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = REPO_ROOT / ".artifacts" / "browser"
LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these chromium keeps calling home (updates, sync, field trials) on a closed network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SANDBOX_PREFIXES = ("ECONOMIC_BASE_URL", "ECONOMIC_APP_SECRET_TOKEN", "ECONOMIC_GRANT_TOKEN_DEMO", "SMTP_")


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass(frozen=True)
class Workbench:
    base_url: str
    economic_url: str
    mail_dir: Path
    env: dict[str, str]
    demo: Seeded

    @property
    def url(self) -> str:
        return f"{self.base_url}/workbench"

    def economic_headers(self) -> dict[str, str]:
        return {"X-AppSecretToken": APP_SECRET_TOKEN, "X-AgreementGrantToken": GRANT_TOKEN}


def _sandbox_settings() -> dict[str, str]:
    values: dict[str, str] = json.loads((REPO_ROOT / "local.settings.example.json").read_text())["Values"]
    return {name: value for name, value in values.items() if name.startswith(SANDBOX_PREFIXES)}


@pytest.fixture(scope="package")
def browser_azurite() -> Iterator[Azurite]:
    # Its own Azurite: app hosts of other test modules poll `economic-export` too and would take the job.
    with run_azurite() as instance:
        yield instance


@pytest.fixture(scope="package")
def workbench(browser_azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    _require_chromium()
    economic_port = free_port()
    smtp_port = free_port()
    while smtp_port == economic_port:
        smtp_port = free_port()
    mail_dir = tmp_path_factory.mktemp("mail")
    env = app_env_for(
        browser_azurite,
        **{
            **_sandbox_settings(),
            "ECONOMIC_BASE_URL": f"http://127.0.0.1:{economic_port}",
            "SMTP_PORT": str(smtp_port),
            "SANDBOX_ECONOMIC_PORT": str(economic_port),
            "SANDBOX_SMTP_PORT": str(smtp_port),
            "SANDBOX_MAIL_DIR": str(mail_dir),
        },
    )
    demo = seed(build(env), "demo")
    with run_devhost(env=env, extra_args=["--sandbox"]) as host:
        host.wait_for_log("point at the sandbox.")
        yield Workbench(host.base_url, f"http://127.0.0.1:{economic_port}", mail_dir, env, demo)


@pytest.fixture
def own_tenant(workbench: Workbench) -> Seeded:
    """A tenant of its own, seeded like `demo` (no e-conomic agreement: the sandbox's is demo's), so a
    test does not depend on what another did to `demo`."""
    return seed(build(workbench.env), "wb-" + uuid.uuid4().hex[:10])


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        # A refused API call (400, 412...) is logged by chromium itself; the page shows those. Anything
        # else (a script error, a Content-Security-Policy refusal) is a problem.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.problems = problems
    yield page
    context.close()


class Shots:
    """Numbered screenshots of one test in .artifacts/browser/<test>/NN-step.png."""

    def __init__(self, name: str) -> None:
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, page: Any, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)
