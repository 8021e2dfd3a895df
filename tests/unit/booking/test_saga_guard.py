"""One saga per booking for ever, and the reconciler that leaves no booking unfinished (rules, with fakes)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from handlers.booking import logic
from handlers.booking.errors import IdempotencyKeyReused
from handlers.booking.models import Booking, BookingStatus, NewBooking
from handlers.booking.ports import ExecutionState, RedriveOutcome
from handlers.shared.money import Money
from tests.unit.booking.test_rules import BLUE, CANCEL_BLUE, GREEN, FakeCatalog, FakeRepository

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
LONG_AGO = "2026-11-29T11:00:00.000000Z"
CATALOG = FakeCatalog({"FL-1": Money(amount=100, currency="EUR")})


def create(repository: FakeRepository, card: str = "tok_visa", machine: str = BLUE) -> Booking:
    booking, _ = logic.create_booking(
        repository, CATALOG, "alice", "key-00001", NewBooking(flightId="FL-1", paymentToken=card), workflow_arn=machine
    )
    return booking


def test_the_creating_colour_owns_the_saga_and_no_other_colour_starts_one() -> None:
    repository = FakeRepository()
    booking = create(repository, machine=BLUE)

    assert booking.workflowStartedBy == BLUE
    assert logic.saga_to_start(booking, BLUE) == booking.workflowInput
    again_on_green = create(repository, machine=GREEN)
    assert again_on_green.workflowStartedBy == BLUE
    assert logic.saga_to_start(again_on_green, GREEN) is None


def test_the_same_key_with_another_card_is_refused_for_ever_not_only_in_the_idempotency_window() -> None:
    repository = FakeRepository()
    create(repository, card="tok_visa")

    with pytest.raises(IdempotencyKeyReused):
        create(repository, card="tok_mastercard")


def test_a_finished_booking_starts_nothing_again() -> None:
    repository = FakeRepository()
    booking = create(repository)
    repository.items[booking.bookingId] = dataclasses.replace(booking, status=BookingStatus.CONFIRMED)

    assert logic.saga_to_start(create(repository), BLUE) is None


def test_the_recorded_input_is_the_execution_input_so_a_restart_is_identical() -> None:
    booking = create(FakeRepository())
    assert booking.workflowInput is not None
    document = json.loads(booking.workflowInput)
    assert document["bookingId"] == booking.bookingId
    assert document["amount"] == {"amount": 100, "currency": "EUR"}
    assert "requestHash" not in booking.public()
    assert "workflowInput" not in booking.public()


class FakeRuns:
    def __init__(self, states: dict[str, ExecutionState], redrive: RedriveOutcome = RedriveOutcome.REDRIVEN) -> None:
        self.states = states
        self.redrive_outcome = redrive
        self.started: list[tuple[str, str, str]] = []
        self.redriven: list[tuple[str, str]] = []

    def state(self, state_machine_arn: str, name: str) -> ExecutionState:
        return self.states.get(f"{state_machine_arn}:{name}", ExecutionState.NOT_STARTED)

    def start(self, state_machine_arn: str, name: str, payload: str) -> bool:
        self.started.append((state_machine_arn, name, payload))
        self.states[f"{state_machine_arn}:{name}"] = ExecutionState.RUNNING
        return True

    def redrive(self, state_machine_arn: str, name: str) -> RedriveOutcome:
        self.redriven.append((state_machine_arn, name))
        return self.redrive_outcome


class OpenRepository(FakeRepository):
    def open_before(self, cutoff: str, limit: int) -> list[str]:
        return [b.bookingId for b in self.items.values() if logic.saga_open(b) and b.createdAt < cutoff][:limit]


def stale(repository: OpenRepository, booking: Booking, **changes: object) -> Booking:
    changed = dataclasses.replace(booking, createdAt=LONG_AGO, updatedAt=LONG_AGO, **changes)  # type: ignore[arg-type]
    repository.items[booking.bookingId] = changed
    return changed


def run(repository: OpenRepository, runs: FakeRuns) -> logic.ReconcileReport:
    return logic.reconcile(
        repository,
        runs,
        workflow_arn=BLUE,
        cancel_workflow_arn=CANCEL_BLUE,
        now=NOW,
        threshold=dt.timedelta(minutes=15),
    )


def test_a_booking_whose_workflow_never_started_is_started_under_its_name_with_its_input() -> None:
    repository = OpenRepository()
    booking = stale(repository, create(repository))
    runs = FakeRuns({})

    report = run(repository, runs)

    assert runs.started == [(BLUE, booking.bookingId, booking.workflowInput)]
    assert (report.openPastThreshold, report.started, report.oldestOpenSeconds) == (1, 1, 3600)
    # a second run (or a concurrent one) finds it running and does nothing
    again = run(repository, runs)
    assert (again.started, again.running) == (0, 1)
    assert len(runs.started) == 1


def test_a_stopped_execution_is_redriven_and_an_unredrivable_one_needs_an_operator() -> None:
    repository = OpenRepository()
    booking = stale(repository, create(repository), status=BookingStatus.CONFIRMED)
    runs = FakeRuns({f"{BLUE}:{booking.bookingId}": ExecutionState.STOPPED})

    assert run(repository, runs).redriven == 1
    assert runs.redriven == [(BLUE, booking.bookingId)]
    assert run(repository, FakeRuns(runs.states, RedriveOutcome.NOT_REDRIVABLE)).needsOperator == 1


def test_a_cancelling_booking_whose_cancellation_never_started_is_started() -> None:
    repository = OpenRepository()
    booking = stale(
        repository,
        create(repository),
        status=BookingStatus.CANCELLING,
        settledAt=LONG_AGO,
        paymentId="pay-1",
        cancellationStartedBy=CANCEL_BLUE,
    )
    runs = FakeRuns({f"{BLUE}:{booking.bookingId}": ExecutionState.SUCCEEDED})

    assert run(repository, runs).started == 1
    ((machine, name, payload),) = runs.started
    assert (machine, name, json.loads(payload)["paymentId"]) == (CANCEL_BLUE, booking.bookingId, "pay-1")


def test_another_colours_booking_is_left_to_that_colour_but_still_counted_for_the_alarm() -> None:
    repository = OpenRepository()
    stale(repository, create(repository, machine=GREEN))
    runs = FakeRuns({})

    report = run(repository, runs)

    assert (report.otherColour, report.openPastThreshold, runs.started) == (1, 1, [])


def test_young_and_finished_bookings_are_not_touched() -> None:
    repository = OpenRepository()
    create(repository)  # just created: younger than the threshold
    runs = FakeRuns({})
    assert run(repository, runs).openPastThreshold == 0
    assert runs.started == []
