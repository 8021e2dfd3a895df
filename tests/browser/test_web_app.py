"""A customer and an Admin use the web app in Chromium, against the local cloud (real SRP, CORS, APIs)."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Browsing,
    create_flight,
    existing_user,
    random_airport,
    screenshot,
    sign_in_ui,
    tomorrow,
    unique_email,
)
from tests.e2e.conftest import RunningCloud

# The same groups as tests/e2e (module mark here, folder mark from tests/conftest.py): one cloud per session.
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]

FINAL = 60_000  # ms: the booking workflow on moto takes ~1-4 s; generous for a loaded CI machine


def search(page: Page, origin: str, destination: str) -> None:
    page.get_by_role("tab", name="Search").click()
    page.get_by_label("From (airport code)").fill(origin)
    page.get_by_label("To (airport code)").fill(destination)
    page.get_by_label("Date").fill(tomorrow())
    page.get_by_role("button", name="Search", exact=True).click()


def book(page: Page, flight_number: str, card_label: str) -> None:
    page.get_by_role("link", name=re.compile(f"^Book {flight_number}")).click()
    page.get_by_role("radio", name=card_label).click()
    page.get_by_role("button", name=re.compile(r"^Pay .* and book$")).click()


def points(page: Page) -> int:
    page.get_by_role("tab", name="My points").click()
    return int(page.get_by_test_id("points").inner_text().replace(",", ""))


def wait_for_points(page: Page, expected: int) -> None:
    """Loyalty is fed by events through SNS and SQS: refresh until the points arrive."""
    page.get_by_role("tab", name="My points").click()
    deadline = time.monotonic() + FINAL / 1000
    while True:
        shown = page.get_by_test_id("points")
        shown.wait_for()
        if int(shown.inner_text().replace(",", "")) == expected or time.monotonic() > deadline:
            break
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_timeout(500)
    expect(page.get_by_test_id("points")).to_have_text(f"{expected:,}")


def test_sign_up_confirm_and_sign_in_with_srp(browsing: Browsing) -> None:
    email = unique_email("newcomer")
    page = browsing.open("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # every screen needs an account
    screenshot(page, "sign-in")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("At least 12 characters")).to_be_visible()  # checked before asking Cognito
    page.get_by_label("Password").fill("Newcomer-Passw0rd!")
    page.get_by_role("button", name="Create account").click()
    # The local pool sends no e-mail and moto accepts any code (docs/frontend.md); on AWS the code is mailed.
    expect(page.get_by_role("status")).to_contain_text(email)
    page.get_by_label("Confirmation code").fill("123456")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Search flights")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(email)

    page.reload()  # the session survives a reload (tokens kept by the Cognito library)
    expect(page.get_by_test_id("signed-in-as")).to_have_text(email)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in_ui(page, email, "Newcomer-Passw0rd!")


def test_signing_up_twice_is_explained(browsing: Browsing, cloud: RunningCloud) -> None:
    email = existing_user(cloud, unique_email("twice"))
    page = browsing.open("/signup")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("Another-Passw0rd!")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile("already exists"))


def test_book_until_confirmed_then_cancel_and_the_points_are_revoked(browsing: Browsing, cloud: RunningCloud) -> None:
    origin, destination = random_airport(), random_airport()
    flight = create_flight(cloud, origin=origin, destination=destination, amount=12050)
    page = browsing.open()
    sign_in_ui(page, existing_user(cloud, unique_email("traveller")))

    search(page, origin, destination)
    row = page.get_by_test_id("flight").filter(has_text=flight["flightNumber"])
    expect(row).to_contain_text("120.50")
    expect(row).to_contain_text("50 seats left")
    screenshot(page, "search")
    book(page, flight["flightNumber"], "Visa ending 4242 (succeeds)")
    expect(page.get_by_test_id("booking").locator("[data-status]")).to_have_attribute(
        "data-status", "CONFIRMED", timeout=FINAL
    )
    expect(page.get_by_test_id("reference")).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{6}$"))
    screenshot(page, "booking-confirmed")
    booking_url = page.url

    wait_for_points(page, 120)  # 120.50 EUR -> 120 points
    screenshot(page, "loyalty")

    page.goto(booking_url.replace("http://127.0.0.1:4568", ""))
    cancel = page.get_by_role("button", name="Cancel booking")
    expect(cancel).to_be_enabled(timeout=FINAL)  # opens once the confirmation is settled
    cancel.click()
    page.get_by_role("button", name="Yes, cancel").click()
    expect(page.get_by_test_id("cancel-reason")).to_have_text(re.compile("You cancelled"), timeout=FINAL)
    wait_for_points(page, 0)

    page.get_by_role("tab", name="My bookings").click()
    expect(page.get_by_test_id("booking-row")).to_have_count(1)
    expect(page.get_by_test_id("booking-row")).to_contain_text("Cancelled")
    screenshot(page, "my-bookings")


def test_a_declined_card_says_why(browsing: Browsing, cloud: RunningCloud) -> None:
    origin, destination = random_airport(), random_airport()
    flight = create_flight(cloud, origin=origin, destination=destination, amount=9900)
    page = browsing.open()
    sign_in_ui(page, existing_user(cloud, unique_email("declined")))
    search(page, origin, destination)
    book(page, flight["flightNumber"], "Card declined by the bank")
    expect(page.get_by_test_id("cancel-reason")).to_have_text(
        "Your card was declined. No money was taken. Try another card.", timeout=FINAL
    )
    screenshot(page, "booking-declined")


def test_a_customer_cannot_see_another_customers_booking(browsing: Browsing, cloud: RunningCloud) -> None:
    origin, destination = random_airport(), random_airport()
    flight = create_flight(cloud, origin=origin, destination=destination, amount=5000)
    owner = cloud.user(f"owner-{time.time_ns()}")
    started = requests.post(
        f"{cloud.api('booking')}/bookings",
        headers={"Authorization": f"Bearer {owner.access}", "Idempotency-Key": f"browser-{time.time_ns()}"},
        json={"flightId": flight["flightId"], "paymentToken": "tok_visa"},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    someone_elses = started.json()["bookingId"]

    page = browsing.open()
    sign_in_ui(page, existing_user(cloud, unique_email("curious")))
    page.goto(f"/bookings/{someone_elses}")
    expect(page.get_by_role("alert")).to_have_text(re.compile("could not find"))
    expect(page.get_by_test_id("booking")).to_have_count(0)
    page.get_by_role("tab", name="My bookings").click()
    expect(page.get_by_test_id("no-bookings")).to_be_visible()


def test_an_admin_creates_a_flight_that_a_customer_then_finds(browsing: Browsing, cloud: RunningCloud) -> None:
    origin, destination = random_airport(), random_airport()
    staff = browsing.open()
    sign_in_ui(staff, existing_user(cloud, unique_email("staff"), admin=True))
    staff.get_by_role("tab", name="Flights (staff)").click()
    staff.get_by_label("Flight number").fill("QA4321")
    staff.get_by_label("From (airport code)").fill(origin)
    staff.get_by_label("To (airport code)").fill(destination)
    staff.get_by_label("Departure (UTC)").fill(f"{tomorrow()}T08:00")
    staff.get_by_label("Arrival (UTC)").fill(f"{tomorrow()}T10:10")
    staff.get_by_label("Price").fill("75.00")
    staff.get_by_label("Seats", exact=True).fill("20")
    staff.get_by_role("button", name="Create flight").click()
    expect(staff.get_by_test_id("created")).to_contain_text("Created QA4321")
    screenshot(staff, "admin")

    customer = browsing.open(mobile=True)  # and on a phone
    sign_in_ui(customer, existing_user(cloud, unique_email("finder")))
    expect(customer.get_by_role("tab", name="Flights (staff)")).to_have_count(0)  # customers have no Admin screen
    search(customer, origin, destination)
    row = customer.get_by_test_id("flight").filter(has_text="QA4321")
    expect(row).to_contain_text("€75.00")
    expect(row).to_contain_text("20 seats left")
    assert customer.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
    screenshot(customer, "search-phone")

    # The Admin changes the price; the customer sees the new one.
    staff.get_by_label("From", exact=True).fill(origin)
    staff.get_by_label("To", exact=True).fill(destination)
    staff.get_by_role("button", name="Find flights").click()
    staff.get_by_role("button", name="Change QA4321").click()
    staff.get_by_label("New price").fill("80.00")
    staff.get_by_role("button", name="Save changes").click()
    expect(staff.get_by_test_id("saved")).to_contain_text("€80.00")
    customer.get_by_role("button", name="Search", exact=True).click()
    expect(customer.get_by_test_id("flight").filter(has_text="QA4321")).to_contain_text("€80.00")


def test_a_customer_sees_plain_words_when_the_api_fails(browsing: Browsing, cloud: RunningCloud) -> None:
    page = browsing.open()
    sign_in_ui(page, existing_user(cloud, unique_email("offline")))
    page.context.route(re.compile(r".*/catalog/flights.*"), lambda route: route.abort("connectionrefused"))
    search(page, random_airport(), random_airport())
    expect(page.get_by_role("alert")).to_have_text(re.compile("could not reach the airline"))
    page.context.unroute(re.compile(r".*/catalog/flights.*"))
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_test_id("no-flights")).to_be_visible()


@pytest.mark.parametrize("service", ["catalog", "booking", "loyalty"])
def test_the_apis_answer_cors_for_the_app_origin_only(cloud: RunningCloud, service: str) -> None:
    def preflight(origin: str) -> requests.Response:
        return requests.options(
            f"{cloud.api(service)}/anything",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
            },
            timeout=10,
        )

    allowed = preflight("http://127.0.0.1:4568")
    assert allowed.headers.get("Access-Control-Allow-Origin") == "http://127.0.0.1:4568"
    assert "Idempotency-Key" in allowed.headers.get("Access-Control-Allow-Headers", "")
    assert "Access-Control-Allow-Origin" not in preflight("https://elsewhere.example.com").headers
