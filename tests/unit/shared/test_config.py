"""Configuration parsed once into a typed model that refuses empty values, the same way in every service."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import pytest

from handlers.shared.config import ConfigError, from_environment, required

SERVICES = {
    "booking": (
        "BookingConfig",
        {"BOOKINGS_TABLE_NAME", "BOOKING_REFERENCES_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "FLIGHTS_TABLE_NAME"},
    ),
    "catalog": ("CatalogConfig", {"FLIGHTS_TABLE_NAME"}),
    "payment": ("PaymentConfig", {"PAYMENTS_TABLE_NAME", "PAYMENT_OPERATIONS_TABLE_NAME"}),
    "loyalty": ("LoyaltyConfig", {"LOYALTY_LEDGER_TABLE_NAME", "LOYALTY_TOTALS_TABLE_NAME"}),
    "autoscaling": ("AutoscalingConfig", {"HYBRID_GROUP_NAME"}),
}


def config_class(service: str) -> type:
    name, _ = SERVICES[service]
    found: type = getattr(importlib.import_module(f"handlers.{service}.config"), name)
    return found


def complete(service: str) -> dict[str, str]:
    return {env: f"airline-test-{env.lower()}" for env in SERVICES[service][1]}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_parses_its_required_settings_into_a_frozen_typed_model(service: str) -> None:
    config: Any = from_environment(config_class(service), complete(service))

    assert dataclasses.is_dataclass(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, dataclasses.fields(config)[0].name, "changed")


@pytest.mark.parametrize("service", SERVICES)
def test_a_missing_required_setting_is_refused_by_name(service: str) -> None:
    for env in SERVICES[service][1]:
        partial = {k: v for k, v in complete(service).items() if k != env}
        with pytest.raises(ConfigError) as refused:
            from_environment(config_class(service), partial)
        assert refused.value.details == [{"field": env, "issue": "not set"}]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_setting_is_refused_never_taken_as_a_name(service: str, empty: str) -> None:
    for env in SERVICES[service][1]:
        with pytest.raises(ConfigError) as refused:
            from_environment(config_class(service), {**complete(service), env: empty})
        assert refused.value.details == [{"field": env, "issue": "empty"}]


def test_an_optional_setting_set_empty_is_refused_too() -> None:
    from handlers.booking.config import BookingConfig

    with pytest.raises(ConfigError, match="BOOKING_WORKFLOW_ARN: empty"):
        from_environment(BookingConfig, {**complete("booking"), "BOOKING_WORKFLOW_ARN": ""})


def test_values_are_typed_and_a_wrong_type_is_refused() -> None:
    from handlers.autoscaling.config import AutoscalingConfig

    config = from_environment(AutoscalingConfig, {"HYBRID_GROUP_NAME": "g", "DRY_RUN": "true", "CPU_HIGH": "80.5"})
    assert (config.dry_run, config.cpu_high, config.step) == (True, 80.5, 1)
    with pytest.raises(ConfigError, match="SCALE_STEP: 'two' is not an integer"):
        from_environment(AutoscalingConfig, {"HYBRID_GROUP_NAME": "g", "SCALE_STEP": "two"})
    with pytest.raises(ConfigError, match="DRY_RUN"):
        from_environment(AutoscalingConfig, {"HYBRID_GROUP_NAME": "g", "DRY_RUN": "maybe"})


def test_checks_across_settings_name_the_setting() -> None:
    from handlers.autoscaling.config import AutoscalingConfig
    from handlers.payment.config import PaymentConfig

    with pytest.raises(ConfigError) as refused:
        from_environment(AutoscalingConfig, {"HYBRID_GROUP_NAME": "g", "CPU_LOW": "80"})
    assert refused.value.details[0]["field"] == "CPU_LOW"
    with pytest.raises(ConfigError, match="PAYMENT_PROVIDER"):
        from_environment(PaymentConfig, {**complete("payment"), "PAYMENT_PROVIDER": "stripe"})


def test_a_setting_only_some_functions_get_is_required_where_it_is_used() -> None:
    from handlers.booking.config import BookingConfig

    config = from_environment(BookingConfig, complete("booking"))  # readBookings: no workflow ARN

    assert config.workflow_arn is None
    with pytest.raises(ConfigError, match="BOOKING_WORKFLOW_ARN: not set for this function"):
        required(config.workflow_arn, "BOOKING_WORKFLOW_ARN")
    assert required("arn:aws:states:x", "BOOKING_WORKFLOW_ARN") == "arn:aws:states:x"


def test_the_config_loader_does_not_import_pydantic() -> None:
    import subprocess
    import sys

    probe = "import sys, handlers.shared.config, handlers.booking.config; print('pydantic' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
