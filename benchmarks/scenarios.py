"""A typical event for every function, with the state it needs, on a running local cloud.

`prepare(name, i)` builds whatever sample `i` of a function needs (a pending booking, an
authorized payment, ...) through the deployed functions themselves (warm, not measured)
or, where no function creates that state on its own, through the booking data layer.
Every sample gets fresh ids, so each measured invocation takes the path a first request
takes (a new reservation, a new payment), not an idempotent replay.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3

from handlers.shared.events import BookingEvent
from handlers.shared.money import Money
from localcloud.cloud import LocalCloud
from localcloud.deploy import FAKE_CREDENTIALS
from tests.support.events import claims_for, http_event, sqs_record

CUSTOMER = "bench-customer"
ADMIN = claims_for("bench-admin", groups=["Admin"])
PRICE = {"amount": 10000, "currency": "GBP"}  # as the APIs and tasks take it (JSON)
PRICE_MONEY = Money(amount=10000, currency="GBP")
RUN = uuid.uuid4().hex[:6]


def _fn(stack: str, short: str) -> str:
    return f"airline-{stack}-local-{short}"


class Scenarios:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.dynamodb = boto3.client(
            "dynamodb", endpoint_url=cloud.edge.url, region_name="eu-west-1", **FAKE_CREDENTIALS
        )
        self.departure = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        self.flight_id = ""
        self.read_booking_id = ""

    # -- setup through the deployed functions -----------------------------------------------------------
    def call(self, stack: str, short: str, event: Any) -> Any:
        invocation = self.cloud.invoke_event(_fn(stack, short), event)
        if invocation.function_error:
            raise RuntimeError(f"setup call {short} failed: {invocation.payload[:300]!r}")
        return invocation.json()

    def setup(self) -> None:
        """A flight with room for every sample, the hybrid group, one confirmed booking to read."""
        created = self.call("catalog", "manageFlights", self.new_flight_event("AB4242", 1000))
        self.flight_id = json.loads(created["body"])["flightId"]
        self._hybrid_group()
        self.read_booking_id = self.confirmed_booking()

    def _hybrid_group(self) -> None:
        edge = {"endpoint_url": self.cloud.edge.url, "region_name": "eu-west-1", **FAKE_CREDENTIALS}
        ec2 = boto3.client("ec2", **edge)
        autoscaling = boto3.client("autoscaling", **edge)
        if autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["airline-local-hybrid"])[
            "AutoScalingGroups"
        ]:
            return
        ec2.create_launch_template(
            LaunchTemplateName="bench-hybrid",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="airline-local-hybrid",
            LaunchTemplate={"LaunchTemplateName": "bench-hybrid"},
            MinSize=1,
            MaxSize=6,
            DesiredCapacity=2,
            AvailabilityZones=["eu-west-1a"],
        )

    def new_flight_event(self, number: str, seats: int) -> dict[str, Any]:
        return http_event(
            "POST",
            "/flights",
            claims=ADMIN,
            body={
                "flightNumber": number,
                "departureAirportCode": "LHR",
                "arrivalAirportCode": "JFK",
                "departureTime": self.departure.isoformat(),
                "arrivalTime": (self.departure + dt.timedelta(hours=8)).isoformat(),
                "ticketPrice": PRICE,
                "seatCapacity": seats,
            },
        )

    def booking_status(self, booking_id: str) -> str | None:
        item = self.dynamodb.get_item(
            TableName="airline-local-bookings", Key={"bookingId": {"S": booking_id}}, ConsistentRead=True
        ).get("Item")
        return item["status"]["S"] if item else None

    def wait_for(self, booking_id: str, *statuses: str, timeout: float = 60) -> None:
        """Until the workflow has settled the booking (nothing left running in the background)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.booking_status(booking_id) in statuses:
                time.sleep(0.3)  # the workflow's last task (publish) follows the status write
                return
            time.sleep(0.2)
        raise RuntimeError(f"booking {booking_id} did not reach {statuses}")

    def create_booking_event(self) -> dict[str, Any]:
        return http_event(
            "POST",
            "/bookings",
            claims=claims_for(CUSTOMER),
            body={"flightId": self.flight_id, "paymentToken": "tok_visa"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

    def confirmed_booking(self) -> str:
        answer = self.call("booking", "createBooking", self.create_booking_event())
        booking_id: str = json.loads(answer["body"])["bookingId"]
        self.wait_for(booking_id, "CONFIRMED")
        return booking_id

    def pending_booking(self) -> str:
        """A booking as createBooking leaves it, without the workflow that would settle it at once."""
        from handlers.booking.dal import DynamoBookingRepository
        from handlers.booking.models import Booking, BookingStatus

        now = dt.datetime.now(dt.UTC).isoformat()
        booking_id = f"bench-{RUN}-{uuid.uuid4().hex[:12]}"
        repository = DynamoBookingRepository(
            "airline-local-bookings", "airline-local-booking-references", dynamodb=self.dynamodb
        )
        repository.create(
            Booking(
                bookingId=booking_id,
                customerId=CUSTOMER,
                flightId=self.flight_id,
                status=BookingStatus.PENDING,
                price=PRICE_MONEY,
                createdAt=now,
                updatedAt=now,
            )
        )
        return booking_id

    def authorized_payment(self, booking_id: str) -> str:
        answer = self.call("payment", "authorizePayment", self.authorize_event(booking_id))
        payment_id: str = answer["paymentId"]
        return payment_id

    def authorize_event(self, booking_id: str) -> dict[str, Any]:
        return {"bookingId": booking_id, "customerId": CUSTOMER, "paymentToken": "tok_visa", "amount": PRICE}

    # -- one typical event per function -------------------------------------------------------------------
    def event(self, function: str, i: int) -> tuple[dict[str, Any], Callable[[], None]]:  # noqa: PLR0912, PLR0915
        """The event of sample `i` of a function, and what to wait for after it ran."""
        short = function.rsplit("-", 1)[-1]
        done: Callable[[], None] = lambda: None  # noqa: E731
        unique = f"{RUN}-{i}-{uuid.uuid4().hex[:6]}"
        if short == "searchFlights":
            query = {"from": "LHR", "to": "JFK", "date": self.departure.date().isoformat()}
            event = http_event("GET", "/flights", query=query, claims=claims_for(CUSTOMER))
        elif short == "manageFlights":
            event = self.new_flight_event(f"AB{(hash(unique) % 9000) + 1000}", 100)
        elif short == "reserveSeat":
            event = {"bookingId": f"bench-{unique}", "flightId": self.flight_id}
        elif short == "releaseSeat":
            booking_id = f"bench-{unique}"
            self.call("catalog", "reserveSeat", {"bookingId": booking_id, "flightId": self.flight_id})
            event = {"bookingId": booking_id, "flightId": self.flight_id}
        elif short == "seedFlights":
            event = {
                "flights": [
                    {
                        "flightNumber": f"AB{(hash(unique) % 9000) + 1000}",
                        "from": "LHR",
                        "to": "CDG",
                        "dayOffset": 3 + i % 300,
                        "departureTime": "10:00",
                        "durationMinutes": 75,
                        "ticketPrice": PRICE,
                        "seatCapacity": 50,
                    }
                ]
            }
        elif short == "createBooking":
            event = self.create_booking_event()
            key = event["headers"]["idempotency-key"]
            done = lambda: self._wait_created(key)  # noqa: E731
        elif short == "readBookings":
            path = f"/bookings/{self.read_booking_id}"
            event = http_event(
                "GET",
                path,
                route="/bookings/{bookingId}",
                claims=claims_for(CUSTOMER),
                path_parameters={"bookingId": self.read_booking_id},
            )
        elif short == "cancelBooking":
            booking_id = self.confirmed_booking()
            event = http_event(
                "POST",
                f"/bookings/{booking_id}/cancel",
                route="/bookings/{bookingId}/cancel",
                claims=claims_for(CUSTOMER),
                path_parameters={"bookingId": booking_id},
            )
            done = lambda: self.wait_for(booking_id, "CANCELLED")  # noqa: E731
        elif short == "confirmBooking":
            event = {"bookingId": self.pending_booking(), "paymentId": f"pay-{unique}"}
        elif short == "markBookingCancelled":
            event = {"bookingId": self.pending_booking(), "reason": "PAYMENT_DECLINED"}
        elif short == "publishBookingEvent":
            booking_id = self.pending_booking()
            self.call("booking", "confirmBooking", {"bookingId": booking_id, "paymentId": f"pay-{unique}"})
            event = {"bookingId": booking_id, "eventType": "BookingConfirmed"}
        elif short == "authorizePayment":
            event = self.authorize_event(f"bench-{unique}")
        elif short in ("capturePayment", "voidPayment"):
            booking_id = f"bench-{unique}"
            event = {"bookingId": booking_id, "paymentId": self.authorized_payment(booking_id)}
        elif short == "refundPayment":
            booking_id = f"bench-{unique}"
            payment_id = self.authorized_payment(booking_id)
            self.call("payment", "capturePayment", {"bookingId": booking_id, "paymentId": payment_id})
            event = {"bookingId": booking_id, "paymentId": payment_id}
        elif short == "creditPoints":
            booking_event = BookingEvent(
                eventId=f"evt-{unique}",
                eventType="BookingConfirmed",
                occurredAt=dt.datetime.now(dt.UTC),
                bookingId=f"bench-{unique}",
                customerId=CUSTOMER,
                flightId=self.flight_id,
                amount=PRICE_MONEY,
            )
            attributes = {
                name: {
                    "stringValue": value["StringValue"],
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in booking_event.message_attributes().items()
            }
            event = {"Records": [sqs_record(booking_event.to_message(), attributes=attributes)]}
        elif short == "loyaltyApi":
            event = http_event("GET", "/loyalty", claims=claims_for(CUSTOMER))
        elif short in ("scaleUp", "scaleDown"):
            event = {}
        elif short in ("preTrafficHook", "postTrafficHook"):
            event, done = self.hook_event(function, short)
        elif short in ("monitor", "reconcileBookings"):
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "detail": {},
            }
        else:
            raise LookupError(f"no typical event for {function}")
        return event, done

    # The smoke-tested function of each stack's release hooks (its SMOKE cases in handlers/<stack>/hooks.py).
    HOOKED = {"booking": "readBookings", "catalog": "searchFlights", "loyalty": "loyaltyApi", "payment": "voidPayment"}

    def hook_event(self, function: str, short: str) -> tuple[dict[str, Any], Callable[[], None]]:
        """What CodeDeploy sends a release hook: a deployment of the stack's function (its Live version to
        itself) waiting at the hook's lifecycle event; the deployment is ended once the hook has reported."""
        from localcloud.codedeploy import Hook

        stack = function.split("-")[1]
        target = _fn(stack, self.HOOKED[stack])
        route = self.cloud.runner.alias(target, "Live")
        if route is None:
            raise LookupError(f"{target} has no Live alias: the local stage is not canary-released")
        codedeploy = self.cloud.codedeploy
        application, group = next(key for key in codedeploy.groups if stack in key[0])
        lifecycle = "BeforeAllowTraffic" if short == "preTrafficHook" else "AfterAllowTraffic"
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    target: {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "Name": target,
                            "Alias": "Live",
                            "CurrentVersion": route.version,
                            "TargetVersion": route.version,
                        },
                    }
                }
            ],
            "Hooks": [{lifecycle: function}],
        }
        deployment_id = codedeploy.create_deployment(application, group, appspec, start=False)
        deployment = codedeploy.deployments[deployment_id]
        hook = Hook(lifecycle, function, status="InProgress")
        deployment.lifecycle[hook.execution_id] = hook
        deployment.status = "InProgress"

        def done() -> None:
            deployment.status = "Succeeded" if hook.status == "Succeeded" else "Failed"

        return {"DeploymentId": deployment_id, "LifecycleEventHookExecutionId": hook.execution_id}, done

    def _wait_created(self, idempotency_key: str) -> None:
        from handlers.booking.logic import booking_id_for

        self.wait_for(booking_id_for(CUSTOMER, idempotency_key), "CONFIRMED", "CANCELLED")

    # Functions whose further events need no setup: the warm path is measured on these.
    WARM = (
        "searchFlights",
        "reserveSeat",
        "readBookings",
        "authorizePayment",
        "creditPoints",
        "loyaltyApi",
        "scaleUp",
        "monitor",
    )
