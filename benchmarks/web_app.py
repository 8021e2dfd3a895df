"""Budgets of the web app: initial JavaScript (gzipped) and time to interactive of the search page.

Bundle: the JavaScript the browser loads before the first screen (the entry script of
frontend/dist/index.html and its modulepreloads), gzipped at level 9, against the whole build's
JavaScript gzipped the same way (the baseline: everything the app could ever load).

Time to interactive: a local cloud on free ports (`python -m localcloud up`), a signed-in customer
in Debian's Chromium (Playwright), then N fresh page loads (cache disabled) of
`/?from=..&to=..&date=..`, timed from navigation start until the results list is on screen (the
app mounted, config.json read, the Cognito session restored, the search answered). The baseline,
measured side by side in the same run and browser, is the sign-in page of the same app (same
bundle, no session and no API call). Prints figures only, never asserts.
Usage: .venv/bin/python -m benchmarks.web_app [--samples 7]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import describe

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "frontend" / "dist"


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def initial_javascript() -> tuple[list[Path], int, int]:
    html = (DIST / "index.html").read_text()
    names = re.findall(r'(?:src|href)="/(assets/[^"]+\.js)"', html)
    initial = [DIST / n for n in dict.fromkeys(names)]
    everything = sorted((DIST / "assets").glob("*.js"))
    return initial, sum(gz(p) for p in initial), sum(gz(p) for p in everything)


def start_cloud() -> tuple[subprocess.Popen[str], dict[str, str]]:
    from localcloud.edge import free_port

    edge, gateway = free_port(), free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "localcloud", "up", "--port", str(edge), "--gateway-port", str(gateway)),
            *("--app-port", "4568", "--no-schedules"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: dict[str, str] = {"edge": f"http://127.0.0.1:{edge}", "gateway": f"http://127.0.0.1:{gateway}"}
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("web app: "):
                found["app"] = line.split()[2].rstrip("/")
            if line.startswith("ready in"):
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(600) or "app" not in found:
        process.kill()
        raise SystemExit("the local cloud did not start (is port 4568 free?)")
    return process, found


def seed_flight(urls: dict[str, str]) -> tuple[str, str, str]:
    import requests

    from localcloud.users import find_pool, sign_in

    pool_id, client_id = find_pool(urls["edge"])
    admin = sign_in(urls["edge"], pool_id, client_id, "bench-staff@example.com", admin=True)
    date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    for number in ("BW1001", "BW1002", "BW1003"):
        requests.post(
            f"{urls['gateway']}/catalog/flights",
            headers={"Authorization": f"Bearer {admin.access}"},
            json={
                "flightNumber": number,
                "departureAirportCode": "QBX",
                "arrivalAirportCode": "QBY",
                "departureTime": f"{date}T0{number[-1]}:00:00Z",
                "arrivalTime": f"{date}T1{number[-1]}:00:00Z",
                "ticketPrice": {"amount": 9900, "currency": "EUR"},
                "seatCapacity": 100,
            },
            timeout=30,
        ).raise_for_status()
    sign_in(urls["edge"], pool_id, client_id, "bench-customer@example.com")
    return "QBX", "QBY", date


def time_to_interactive(urls: dict[str, str], samples: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    from localcloud.users import DEFAULT_PASSWORD
    from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

    origin, destination, date = seed_flight(urls)
    app = urls["app"]
    search_ms: list[float] = []
    signin_ms: list[float] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        signed_in = browser.new_context()
        page = signed_in.new_page()
        page.goto(f"{app}/signin")
        page.get_by_label("E-mail").fill("bench-customer@example.com")
        page.get_by_label("Password").fill(DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Search flights").wait_for()
        anonymous = browser.new_context()
        for _ in range(samples):
            for context, path, ready, out in (
                (anonymous, "/signin", "button[type=submit]", signin_ms),
                (signed_in, f"/?from={origin}&to={destination}&date={date}", "[data-test=flight]", search_ms),
            ):
                tab = context.new_page()
                cdp = context.new_cdp_session(tab)
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                tab.goto(f"{app}{path}")
                tab.wait_for_selector(ready)
                out.append(float(tab.evaluate("performance.now()")))
                tab.close()
        browser.close()
    return search_ms, signin_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args(argv)
    if not (DIST / "index.html").is_file():
        raise SystemExit("frontend/dist is missing: run `make app`")
    print(f"machine: {describe()}")
    initial, initial_gz, all_gz = initial_javascript()
    print(f"initial JavaScript: {initial_gz / 1024:.1f} KiB gzipped in {len(initial)} files")
    print(f"  baseline, all JavaScript of the build: {all_gz / 1024:.1f} KiB gzipped ({initial_gz / all_gz:.2f}x)")
    process, urls = start_cloud()
    try:
        search_ms, signin_ms = time_to_interactive(urls, args.samples)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
    search, signin = statistics.median(search_ms), statistics.median(signin_ms)
    print(f"time to interactive, search page with results: median {search:.0f} ms, max {max(search_ms):.0f} ms")
    print(f"  baseline, sign-in page (same bundle, no API): median {signin:.0f} ms (search = {search / signin:.2f}x)")
    print(f"  {args.samples} cold loads each (no cache), headless Chromium on loopback; load after: {os.getloadavg()}")
    summary: dict[str, Any] = {
        "initial_js_gzip_bytes": initial_gz,
        "search_tti_ms": round(search),
        "signin_ms": round(signin),
    }
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
