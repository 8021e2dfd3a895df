"""Checked records validate as the pydantic models they replaced did, with the same error words."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import enum
import pickle
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import pytest

from handlers.shared.money import Money
from handlers.shared.records import Extra, RecordError, Rules, dump, parse, record


class Colour(enum.StrEnum):
    RED = "RED"
    GREEN = "GREEN"


@dataclass(frozen=True, kw_only=True)
class Inner:
    EXTRA: ClassVar[Extra] = "forbid"

    code: Annotated[str, Rules(pattern=r"^[A-Z]{2}$")]


@record  # parse reads records and plain frozen dataclasses (Inner) alike
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
        ({"name": "a", "count": "9" * 5000}, "Input should be a valid integer, unable to parse string as an integer"),
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


def test_a_pattern_ends_at_the_end_of_the_text_not_before_a_trailing_newline() -> None:
    assert issues(Money, {"amount": 1, "currency": "GBP\n"}) == [
        {"field": "currency", "issue": "String should match pattern '^[A-Z]{3}$'"}
    ]


def positive(value: int) -> None:
    if value < 1:
        raise ValueError("must be above zero")


@dataclass(frozen=True, kw_only=True)
class Search:
    EXTRA: ClassVar[Extra] = "forbid"

    departure: Annotated[str, Rules(alias="from")]
    day: dt.date
    seats: Annotated[int, Rules(check=positive)] = 1
    names: Annotated[list[str], Rules(min_length=1)] | None = None


def test_an_alias_names_the_input_key_and_a_check_runs_after_the_type() -> None:
    assert parse(Search, {"from": "LHR", "day": "2026-12-01"}) == Search(departure="LHR", day=dt.date(2026, 12, 1))
    assert issues(Search, {"day": "2026-12-01T00:00:00", "seats": 0, "names": [], "to": "JFK"}) == [
        {"field": "from", "issue": "Field required"},
        {"field": "day", "issue": "Input should be a valid date in the format YYYY-MM-DD"},
        {"field": "seats", "issue": "Value error, must be above zero"},
        {"field": "names", "issue": "List should have at least 1 item after validation"},
        {"field": "to", "issue": "Extra inputs are not permitted"},
    ]


@dataclass(frozen=True, kw_only=True)
class Stamp:
    at: Annotated[dt.datetime, Rules(aware=True)]


def test_a_datetime_can_be_required_to_carry_its_time_zone() -> None:
    assert parse(Stamp, {"at": "2026-12-01T08:00:00Z"}).at == dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    assert issues(Stamp, {"at": "2026-12-01T08:00:00"}) == [{"field": "at", "issue": "Input should have timezone info"}]


def test_a_rule_across_fields_is_reported_as_a_value_error() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Band:
        low: int
        high: int

        def __post_init__(self) -> None:
            if self.low >= self.high:
                raise ValueError("low must be below high")

    assert issues(Band, {"low": 2, "high": 1}) == [{"field": "body", "issue": "Value error, low must be below high"}]


@record
class Point:
    """A record as the services write them."""

    x: int
    y: int = 0
    label: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x must be 0 or more")


@dataclass(frozen=True, kw_only=True)
class StdPoint:
    """The same, as a stdlib frozen keyword-only dataclass."""

    x: int
    y: int = 0
    label: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x must be 0 or more")


@pytest.mark.parametrize("kind", [Point, StdPoint])
def test_a_record_behaves_as_a_frozen_keyword_only_dataclass(kind: Any) -> None:
    point = kind(x=1, tags=("a",))
    # Defaults, factories, equality and hash by field values, a dataclass repr
    assert (point.x, point.y, point.label, point.tags) == (1, 0, None, ("a",))
    assert point == kind(x=1, y=0, tags=("a",))
    assert point != kind(x=2, tags=("a",))
    other_kind = StdPoint if kind is Point else Point
    assert point != other_kind(x=1, tags=("a",))  # the same fields in another class are another value
    assert hash(point) == hash(kind(x=1, tags=("a",)))
    assert repr(point) == f"{kind.__qualname__}(x=1, y=0, label=None, tags=('a',))"
    assert len({point, kind(x=1, tags=("a",)), kind(x=3)}) == 2
    # Frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        del point.y
    # Keyword arguments only, every required one, nothing unknown; __post_init__ runs
    with pytest.raises(TypeError):
        kind(1)
    with pytest.raises(TypeError):
        kind()
    with pytest.raises(TypeError):
        kind(x=1, z=2)
    with pytest.raises(ValueError, match="x must be 0 or more"):
        kind(x=-1)
    # The dataclasses functions, copies and pickles
    assert [f.name for f in dataclasses.fields(point)] == ["x", "y", "label", "tags"]
    assert dataclasses.replace(point, y=5) == kind(x=1, y=5, tags=("a",))
    assert dataclasses.asdict(point) == {"x": 1, "y": 0, "label": None, "tags": ("a",)}
    assert copy.deepcopy(point) == point
    assert pickle.loads(pickle.dumps(point)) == point  # noqa: S301 (our own bytes)
    assert dataclasses.is_dataclass(point)
