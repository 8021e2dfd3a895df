"""The web app in a real browser: Debian's Chromium driven by Playwright, against the e2e session's local cloud.

The local cloud serves the built app (`frontend/dist`) on a free port. The APIs' CORS for the
`local` stage allows the app's canonical local origin, http://127.0.0.1:4568 (what `make local`
serves), so each browser context opens the app under that origin and Playwright forwards those
requests to the free port: the browser's CORS checks against the gateway and the edge are the real
ones. Playwright cannot download its own browsers here; /usr/bin/chromium comes from apt
(scripts/setup.sh).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from localcloud.users import sign_in
from tests.e2e.conftest import RunningCloud

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AIRLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The app is opened under its canonical origin with responses fulfilled by Playwright, which
    # have no IP address: Chromium would treat the page as public and refuse its calls to the
    # loopback gateway and edge (Local Network Access). `make local` serves it from 127.0.0.1 for real.
    "--disable-features=LocalNetworkAccessChecks",
]
APP_ORIGIN = "http://127.0.0.1:4568"  # the local stage's app origin (services/common/params.yml appOrigins)
PASSWORD = "Browser-Passw0rd!"  # noqa: S105  # local pool only
SCREENSHOTS = os.environ.get("AIRLINE_SCREENSHOTS")
WAIT_MS = 20_000  # for an element or an answer: generous, the suite shares 2 cores with the local cloud
expect.set_options(timeout=WAIT_MS)  # a folder: save the main screens there (make screenshots)


def app_served_url(cloud: RunningCloud) -> str:
    for line in cloud.output:
        match = re.match(r"web app: (http://\S+?)/?(\s|$)", line)
        if match:
            return match.group(1)
    raise AssertionError("the local cloud did not serve the web app:\n" + "\n".join(cloud.output[-20:]))


def ensure_built() -> None:
    """`make test` builds the app first; a bare pytest run builds it here when it is missing."""
    if (ROOT / "frontend" / "dist" / "index.html").is_file():
        return
    subprocess.run(["npm", "run", "build"], cwd=ROOT / "frontend", check=True, capture_output=True)


@pytest.fixture(scope="session")
def app(cloud: RunningCloud) -> str:
    ensure_built()
    return app_served_url(cloud)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh as root (apt-get install chromium)")
    with sync_playwright() as driver:
        driver.selectors.set_test_id_attribute("data-test")
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Playwright gives every launch a fresh temporary profile (the --user-data-dir the flags need).
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield chromium
    chromium.close()


@dataclass
class Browsing:
    """Opens fresh browser contexts (a separate customer each: own storage) on the app."""

    browser: Browser
    served: str
    contexts: list[BrowserContext]

    def open(self, path: str = "/", *, mobile: bool = False) -> Page:
        options: dict[str, Any] = {"base_url": APP_ORIGIN, "locale": "en-GB", "timezone_id": "UTC"}
        if mobile:
            options |= {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
        context = self.browser.new_context(**options)
        context.set_default_timeout(WAIT_MS)
        context.route(f"{APP_ORIGIN}/**", self._forward)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(path)
        return page

    def _forward(self, route: Route) -> None:
        """The app's origin -> the port the local cloud serves it on (status, headers and body as served)."""
        request = route.request
        served = requests.request(
            request.method, self.served + request.url.removeprefix(APP_ORIGIN), headers=request.headers, timeout=30
        )
        headers = {k: v for k, v in served.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        with contextlib.suppress(PlaywrightError):  # the test closed its context while an asset was on its way
            route.fulfill(status=served.status_code, headers=headers, body=served.content)


@pytest.fixture
def browsing(browser: Browser, app: str) -> Iterator[Browsing]:
    session = Browsing(browser, app, [])
    yield session
    for context in session.contexts:
        context.close()


def unique_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@browser.example.com"


def existing_user(cloud: RunningCloud, email: str, *, admin: bool = False) -> str:
    """A confirmed user of the local pool (as an admin confirms it); returns the e-mail."""
    pool_id, client_id = cloud.pool()
    sign_in(cloud.edge_url, pool_id, client_id, email, password=PASSWORD, admin=admin)
    return email


def sign_in_ui(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/signin")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")  # the keyboard submits the form
    page.get_by_role("heading", name="Search flights").wait_for()


def random_airport() -> str:
    """A route of this test run's own (three letters no seed uses), so tests never see each other's flights."""
    return "Q" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))


def tomorrow() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))


def create_flight(
    cloud: RunningCloud, *, origin: str, destination: str, amount: int, seats: int = 50
) -> dict[str, Any]:
    """A flight made through the catalog API with an Admin token (what the Admin screen does)."""
    admin = cloud.user("browser-staff", admin=True)
    number = f"QB{secrets.randbelow(9000) + 1000}"
    answer = requests.post(
        f"{cloud.api('catalog')}/flights",
        headers={"Authorization": f"Bearer {admin.access}"},
        json={
            "flightNumber": number,
            "departureAirportCode": origin,
            "arrivalAirportCode": destination,
            "departureTime": f"{tomorrow()}T09:30:00Z",
            "arrivalTime": f"{tomorrow()}T12:45:00Z",
            "ticketPrice": {"amount": amount, "currency": "EUR"},
            "seatCapacity": seats,
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    flight: dict[str, Any] = answer.json()
    return flight


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
