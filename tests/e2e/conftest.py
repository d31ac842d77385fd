"""Browser tests: both services under real gunicorn, driven by Debian's Chromium via Playwright.

No browser is downloaded: Playwright launches /usr/bin/chromium (`apt-get install chromium`,
which `.ci/run` does). The tests skip with a message when it or Playwright is missing.

Screenshots: with MEDTRIAGE_SCREENSHOTS=1 the tests write them to documentation/screenshots/
(overwriting), for the documentation; otherwise they are not taken, so a plain test run leaves
the work tree clean.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.gunicorn import Gunicorn, start
from testkit.net import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("MEDTRIAGE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOT_DIR = REPO / "documentation" / "screenshots"
PASSWORD = "a long passphrase for tests"


@dataclass
class Services:
    inference: str
    users: str


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, or a skip (checked before any service starts or model trains)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests skipped: {CHROMIUM} not found (install Debian's chromium: "
            "apt-get install chromium)"
        )
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def services(chromium, trained_store, tmp_path_factory) -> Iterator[Services]:
    """The user service and the inference service, each on a free port with its own SQLite DB.

    The inference service verifies tokens with the user service's JWKS (USERS_SERVICE_URL),
    and each links to the other through the public URLs, as a browser would follow them.
    Both are on 127.0.0.1, so the user service's token cookie reaches the inference service.
    """
    root = tmp_path_factory.mktemp("e2e-services")
    users_port, inference_port = free_port(), free_port()
    users_url = f"http://127.0.0.1:{users_port}"
    inference_url = f"http://127.0.0.1:{inference_port}"
    users_env = {
        "USERS_PORT": str(users_port),
        "USERS_HOST": "127.0.0.1",
        "USERS_DATA_DIR": str(root / "users"),
        "USERS_DATABASE_URL": f"sqlite:///{root / 'users.db'}",
        "USERS_WORKERS": "1",
        "USERS_THREADS": "4",
        # Cheap hashing: the tests are about pages, not argon2 cost.
        "USERS_ARGON2_TIME_COST": "1",
        "USERS_ARGON2_MEMORY_COST": "1024",
        "USERS_ARGON2_PARALLELISM": "1",
        "INFERENCE_SERVICE_URL": inference_url,
        "INFERENCE_PUBLIC_URL": inference_url,
        "USERS_PUBLIC_URL": users_url,
    }
    inference_env = {
        "INFERENCE_PORT": str(inference_port),
        "INFERENCE_HOST": "127.0.0.1",
        "MEDTRIAGE_DATA_DIR": str(root / "inference"),
        "INFERENCE_DATABASE_URL": f"sqlite:///{root / 'inference.db'}",
        # Screenshots for the documentation use the fully trained model when one is given.
        "ARTIFACT_STORE": os.environ.get("MEDTRIAGE_E2E_STORE") or trained_store,
        "MODEL_VERSION": "latest",
        "MODEL_CACHE_DIR": str(root / "model-cache"),
        "MODEL_POLL_SECONDS": "0",
        "INFERENCE_SECRET_KEY": "e2e-browser-tests",
        "INFERENCE_WORKERS": "1",
        "INFERENCE_THREADS": "4",
        "USERS_SERVICE_URL": users_url,
        "USERS_PUBLIC_URL": users_url,
        "INFERENCE_PUBLIC_URL": inference_url,
    }
    (root / "users").mkdir()
    (root / "inference").mkdir()
    started: list[Gunicorn] = []
    try:
        started.append(start("users", users_env, root / "users.log", users_port))
        started.append(start("inference", inference_env, root / "inference.log", inference_port))
        for service in started:
            service.wait_ready(timeout=180)
        yield Services(inference=inference_url, users=users_url)
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture(scope="session")
def browser(chromium):
    """Debian's Chromium, headless; closed (with its processes) at the end of the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _local_only(route) -> None:
    """Nothing leaves the machine: only 127.0.0.1 (and inline data) is fetched."""
    url = route.request.url
    if url.startswith(("http://127.0.0.1:", "data:", "about:")):
        route.continue_()
    else:
        route.abort("blockedbyclient")


@pytest.fixture
def make_context(browser):
    """new_context(**options) -> a fresh profile (no cookies), closed after the test."""
    made = []

    def new_context(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(20_000)
        ctx.route("**/*", _local_only)
        made.append(ctx)
        return ctx

    yield new_context
    for ctx in made:
        ctx.close()


@pytest.fixture
def context(make_context):
    """A fresh profile at desktop size, with the pages' Content-Security-Policy enforced."""
    return make_context()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(scope="session")
def screenshots_enabled() -> bool:
    on = os.environ.get("MEDTRIAGE_SCREENSHOTS", "") not in ("", "0")
    if on:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return on


@pytest.fixture
def shot(screenshots_enabled):
    """shot(page, "name") saves documentation/screenshots/name.png when screenshots are on."""

    def take(page, name: str, full_page: bool = True) -> None:
        if screenshots_enabled:
            path = SCREENSHOT_DIR / f"{name}.png"
            tmp = path.with_suffix(".tmp.png")
            page.screenshot(path=str(tmp), full_page=full_page, animations="disabled")
            shutil.move(tmp, path)

    return take
