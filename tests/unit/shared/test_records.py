"""Checked records validate like the pydantic models they replace in task functions."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, ValidationError

from handlers.shared.errors import validation_details
from handlers.shared.money import Money
from handlers.shared.records import Extra, RecordError, Rules, dump, parse


class Colour(enum.StrEnum):
    RED = "RED"
    GREEN = "GREEN"


@dataclass(frozen=True, kw_only=True)
class Inner:
    EXTRA: ClassVar[Extra] = "forbid"

    code: Annotated[str, Rules(pattern=r"^[A-Z]{2}$")]


@dataclass(frozen=True, kw_only=True)
class Sample:
    name: Annotated[str, Rules(min_length=1, max_length=5)]
    count: Annotated[int, Rules(ge=1, le=10)] = 1
    exact: Annotated[int, Rules(strict=True)] = 0
    ratio: float = 0.5
    flag: bool = False
    colour: Colour = Colour.RED
    kind: Literal["a", "b"] = "a"
    inner: Inner | None = None
    items: list[Inner] = field(default_factory=list)
    when: dt.datetime | None = None
    extra: dict[str, Any] | None = None


def issues(cls: type, data: Any) -> list[dict[str, Any]]:
    with pytest.raises(RecordError) as refused:
        parse(cls, data)
    return refused.value.details


def test_a_valid_input_becomes_the_record_with_its_types_and_defaults() -> None:
    record = parse(
        Sample,
        {"name": "abc", "count": "3", "flag": "true", "colour": "GREEN", "items": [{"code": "AB"}], "ignored": 1},
    )
    assert record == Sample(name="abc", count=3, flag=True, colour=Colour.GREEN, items=[Inner(code="AB")])


def test_every_problem_is_listed_with_its_path_in_pydantics_words() -> None:
    found = issues(
        Sample,
        {
            "count": 11,
            "exact": "3",
            "ratio": "x",
            "flag": "maybe",
            "colour": "BLUE",
            "kind": "c",
            "inner": {"code": "abc", "more": 1},
            "items": [{"code": "AB"}, 5],
            "when": "yesterday",
        },
    )
    assert found == [
        {"field": "name", "issue": "Field required"},
        {"field": "count", "issue": "Input should be less than or equal to 10"},
        {"field": "exact", "issue": "Input should be a valid integer"},
        {"field": "ratio", "issue": "Input should be a valid number, unable to parse string as a number"},
        {"field": "flag", "issue": "Input should be a valid boolean, unable to interpret input"},
        {"field": "colour", "issue": "Input should be 'RED' or 'GREEN'"},
        {"field": "kind", "issue": "Input should be 'a' or 'b'"},
        {"field": "inner.code", "issue": "String should match pattern '^[A-Z]{2}$'"},
        {"field": "inner.more", "issue": "Extra inputs are not permitted"},
        {"field": "items.1", "issue": "Input should be a valid dictionary"},
        {"field": "when", "issue": "Input should be a valid datetime"},
    ]


@pytest.mark.parametrize(
    ("data", "issue"),
    [
        ({"name": ""}, "String should have at least 1 character"),
        ({"name": "abcdef"}, "String should have at most 5 characters"),
        ({"name": 5}, "Input should be a valid string"),
        ({"name": None}, "Input should be a valid string"),
        ({"name": "a", "count": True}, "Input should be a valid integer"),
        ({"name": "a", "count": 1.5}, "Input should be a valid integer, got a number with a fractional part"),
        ({"name": "a", "count": "1e3"}, "Input should be a valid integer, unable to parse string as an integer"),
        ({"name": "a", "exact": 2.0}, "Input should be a valid integer"),
        ({"name": "a", "items": "AB"}, "Input should be a valid list"),
        ({"name": "a", "extra": []}, "Input should be a valid dictionary"),
    ],
)
def test_types_and_rules_refuse_what_pydantic_refuses(data: dict[str, Any], issue: str) -> None:
    assert [d["issue"] for d in issues(Sample, data)] == [issue]


def test_a_location_prefixes_every_field_and_a_non_object_is_refused_as_the_body() -> None:
    with pytest.raises(RecordError) as refused:
        parse(Sample, {}, "event")
    assert refused.value.details == [{"field": "event.name", "issue": "Field required"}]
    assert issues(Sample, []) == [{"field": "body", "issue": "Input should be a valid dictionary"}]


def test_dump_gives_json_ready_data_without_nones_on_request() -> None:
    record = Sample(
        name="a", colour=Colour.GREEN, inner=Inner(code="AB"), when=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    )
    data = dump(record, exclude_none=True)
    assert data["colour"] == "GREEN"
    assert data["inner"] == {"code": "AB"}
    assert data["when"] == "2026-01-02T03:04:00Z"
    assert "extra" not in data
    assert dump(record)["extra"] is None
    assert parse(Sample, dump(record)) == record


class Priced(BaseModel):
    price: Money


@pytest.mark.parametrize(
    "price",
    [
        {"amount": 120.5, "currency": "EUR"},
        {"amount": "12050", "currency": "EUR"},
        {"amount": -1, "currency": "EUR"},
        {"amount": 10_000_001, "currency": "EUR"},
        {"amount": 100, "currency": "eur"},
        {"amount": 100, "currency": "EUR\n"},
        {"amount": 100, "currency": "EUR", "extra": 1},
        {"currency": "EUR"},
    ],
)
def test_a_record_inside_a_pydantic_model_is_held_to_the_same_rules(price: dict[str, Any]) -> None:
    # Given the same bad money, once through pydantic (HTTP functions) and once as a record (tasks)
    with pytest.raises(ValidationError) as pydantic_refusal:
        Priced.model_validate({"price": price})
    with pytest.raises(RecordError) as record_refusal:
        parse(Money, price, "price")
    # Then both refuse it, on the same field
    assert [d["field"] for d in validation_details(pydantic_refusal.value)] == [
        d["field"] for d in record_refusal.value.details
    ]


def test_a_record_inside_a_pydantic_model_validates_and_serializes_as_an_object() -> None:
    priced = Priced.model_validate({"price": {"amount": 500, "currency": "GBP"}})
    assert priced.price == Money(amount=500, currency="GBP")
    assert priced.model_dump(mode="json") == {"price": {"amount": 500, "currency": "GBP"}}


def test_a_rule_across_fields_is_reported_as_a_value_error() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Band:
        low: int
        high: int

        def __post_init__(self) -> None:
            if self.low >= self.high:
                raise ValueError("low must be below high")

    assert issues(Band, {"low": 2, "high": 1}) == [{"field": "body", "issue": "Value error, low must be below high"}]
