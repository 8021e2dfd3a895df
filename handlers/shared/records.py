"""Checked records: stdlib dataclasses validated from JSON-like input, the functions' only validator.

They replace pydantic in every function: importing pydantic and building its models was
~60 % of what a function paid above a bare boto3 process at cold start, and its compiled
core 2.2 MB of the 3 MB layer budget (docs/benchmarks.md). The standard library's
dataclasses, typing and re are already loaded by boto3, so a record costs its own module
only. A record is a frozen, keyword-only dataclass made by `@record`; constraints sit on
the field type:

    @record
    class PaymentReference:
        EXTRA: ClassVar[Extra] = "ignore"          # or "forbid" (the default is "ignore")
        bookingId: Annotated[str, Rules(min_length=1, max_length=128)]
        amount: Money | None = None

`parse(PaymentReference, payload)` answers the record or raises `RecordError` whose
`details` are the project's `[{"field", "issue"}]`, every problem at once, in the words
pydantic used before ("Field required", "String should match pattern '...'"), so the API's
error bodies did not change. Types understood: str, int, float, bool (lax as pydantic was:
"2" is an int, "true" a bool; `Rules(strict=True)` takes only the type itself), enums,
Literal, X | None, nested records, list[X], dict, date (YYYY-MM-DD), datetime (ISO 8601), Any.
`Rules` also names an input key (`alias`) and a check after the type (`check`); a rule
across fields is the record's `__post_init__` raising ValueError.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import re
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, dataclass_transform, get_args, get_origin, get_type_hints

type Extra = Literal["ignore", "forbid"]
type Details = list[dict[str, Any]]

_MISSING: Any = dataclasses.MISSING
_INT = r"^\s*[+-]?\d+\s*$"  # compiled on first use (_compiled): a cold start that parses no int pays nothing
_DATE = r"^\d{4}-\d{2}-\d{2}\Z"
_NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(dataclasses.field,))
def record[C: type](cls: C) -> C:
    """`cls` as a frozen, keyword-only dataclass whose methods are shared, not generated for it.

    `@dataclass(frozen=True, kw_only=True)` writes `__init__`, `__repr__`, `__eq__`, `__hash__`,
    `__setattr__` and `__delattr__` as source for each class and compiles them as the module is
    imported: 0.3-0.45 ms a class, 1-5 ms of a function's cold start here (docs/benchmarks.md).
    A record gets the same behaviour from functions written once: keyword arguments only,
    defaults and default factories, `__post_init__`, FrozenInstanceError on assignment, equality
    and hash by field values, a dataclass-like repr; `dataclasses.fields`, `replace` and `asdict`
    work as on any dataclass (the fields are still made by `dataclasses`). Creating a record
    costs a few microseconds more than a generated `__init__` (a loop over its fields).
    """
    made: Any = dataclasses.dataclass(init=False, repr=False, eq=False, kw_only=True)(cls)
    made.__record_fields__ = tuple((f.name, f.default, f.default_factory) for f in dataclasses.fields(made))
    made.__init__ = _record_init
    made.__repr__ = _record_repr
    made.__eq__ = _record_eq
    made.__hash__ = _record_hash
    made.__setattr__ = _record_frozen
    made.__delattr__ = _record_frozen
    return cls


def _record_init(self: Any, *args: Any, **values: Any) -> None:
    kind = type(self)
    if args:
        raise TypeError(f"{kind.__name__}() takes keyword arguments only")
    for name, default, factory in kind.__record_fields__:
        if name in values:
            value = values.pop(name)
        elif default is not _MISSING:
            value = default
        elif factory is not _MISSING:
            value = factory()
        else:
            raise TypeError(f"{kind.__name__}() missing required keyword argument: {name!r}")
        object.__setattr__(self, name, value)
    if values:
        raise TypeError(f"{kind.__name__}() got unexpected keyword arguments: {', '.join(map(repr, values))}")
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _record_values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name, _, _ in type(self).__record_fields__)


def _record_repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name, _, _ in type(self).__record_fields__)
    return f"{type(self).__qualname__}({shown})"


def _record_eq(self: Any, other: object) -> Any:  # a bool, or NotImplemented for another class
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _record_values(self) == _record_values(other)


def _record_hash(self: Any) -> int:
    return hash(_record_values(self))


def _record_frozen(self: Any, name: str, *value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


@record
class Rules:
    """Constraints of one field: `Annotated[str, Rules(pattern=...)]`, `Annotated[int, Rules(ge=0)]`."""

    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    ge: float | None = None
    le: float | None = None
    multiple_of: int | None = None
    strict: bool | None = None
    aware: bool | None = None  # a datetime must carry its time zone (pydantic's AwareDatetime)
    alias: str | None = None  # the key in the input ("from" for a field that cannot be called that)
    check: Callable[[Any], object] | None = None  # raises ValueError("why") for a value the types allow

    def problems(self, value: Any) -> list[str]:
        if isinstance(value, str | list):
            found = self._length_problems(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found = self._number_problems(value)
        elif isinstance(value, dt.datetime) and self.aware and value.utcoffset() is None:
            found = ["Input should have timezone info"]
        else:
            found = []
        if self.check is not None and not found:
            try:
                self.check(value)
            except ValueError as exc:
                found.append(f"Value error, {exc}")
        return found

    def _length_problems(self, value: str | list[Any]) -> list[str]:
        found = []
        if isinstance(value, str) and self.pattern is not None and _compiled(self.pattern).search(value) is None:
            found.append(f"String should match pattern '{self.pattern}'")
        kind, unit, after = (
            ("String", "character", "") if isinstance(value, str) else ("List", "item", " after validation")
        )
        if self.min_length is not None and len(value) < self.min_length:
            found.append(f"{kind} should have at least {_count(self.min_length, unit)}{after}")
        if self.max_length is not None and len(value) > self.max_length:
            found.append(f"{kind} should have at most {_count(self.max_length, unit)}{after}")
        return found

    def _number_problems(self, value: float) -> list[str]:
        found = []
        if self.ge is not None and value < self.ge:
            found.append(f"Input should be greater than or equal to {_number(self.ge)}")
        if self.le is not None and value > self.le:
            found.append(f"Input should be less than or equal to {_number(self.le)}")
        if self.multiple_of is not None and value % self.multiple_of:
            found.append(f"Input should be a multiple of {self.multiple_of}")
        return found


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """A final `$` is the end of the text (as in JSON Schema's and pydantic's regex): Python's `$`
    also matches before a trailing newline, and "GBP\n" is not a currency."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.compile(pattern)


class RecordError(ValueError):
    """Input that does not fit a record; `details` lists every problem as {"field", "issue"}."""

    def __init__(self, details: Details) -> None:
        super().__init__("; ".join(f"{d['field']}: {d['issue']}" for d in details))
        self.details = details


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@record
class _Field:
    """One field of a record class, as `parse` reads it."""

    name: str
    key: str  # in the input: the alias, if any
    kind: Any
    rules: tuple[Rules, ...]
    default: Any
    factory: Any


@functools.cache
def _fields(cls: type) -> tuple[_Field, ...]:
    hints = get_type_hints(cls, include_extras=True)
    plan = []
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        rules: tuple[Rules, ...] = ()
        if get_origin(kind) is Annotated:
            kind, *metadata = get_args(kind)
            rules = tuple(m for m in metadata if isinstance(m, Rules))
        key = next((rule.alias for rule in rules if rule.alias), field.name)
        plan.append(
            _Field(
                name=field.name, key=key, kind=kind, rules=rules, default=field.default, factory=field.default_factory
            )
        )
    return tuple(plan)


def parse[R](cls: type[R], data: Any, location: str | None = None) -> R:
    """`data` as a `cls` record, or RecordError listing every problem (fields as `location.a.b`)."""
    errors: Details = []
    value = _record(cls, data, (location,) if location else (), errors)
    if errors:
        raise RecordError(errors)
    record: R = value
    return record


def _problem(errors: Details, path: tuple[Any, ...], issue: str) -> None:
    errors.append({"field": ".".join(str(part) for part in path) or "body", "issue": issue})


def _record(cls: type, data: Any, path: tuple[Any, ...], errors: Details) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        _problem(errors, path, "Input should be a valid dictionary")
        return None
    before = len(errors)
    values = {}
    for field in _fields(cls):
        key = field.key if field.key in data else field.name  # by alias, or by name
        if key in data:
            values[field.name] = _value(field.kind, field.rules, data[key], (*path, key), errors)
        elif field.default is _MISSING and field.factory is _MISSING:
            _problem(errors, (*path, field.key), "Field required")
    if getattr(cls, "EXTRA", "ignore") == "forbid":
        names = {name for field in _fields(cls) for name in (field.name, field.key)}
        for key in data:
            if key not in names:
                _problem(errors, (*path, key), "Extra inputs are not permitted")
    if len(errors) > before:
        return None
    try:
        return cls(**values)
    except ValueError as exc:  # a rule across fields (__post_init__)
        _problem(errors, path, f"Value error, {exc}")
        return None


def _value(kind: Any, rules: tuple[Rules, ...], data: Any, path: tuple[Any, ...], errors: Details) -> Any:
    strict = any(rule.strict for rule in rules)
    before = len(errors)
    value = _typed(kind, strict, data, path, errors)
    if len(errors) == before and value is not None:
        for rule in rules:
            for issue in rule.problems(value):
                _problem(errors, path, issue)
    return value


def _typed(kind: Any, strict: bool, data: Any, path: tuple[Any, ...], errors: Details) -> Any:  # noqa: PLR0911, PLR0912
    origin = get_origin(kind)
    if kind is Any:
        return data
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        for option in (o for o in options if o is not type(None)):
            attempt: Details = []
            value = _value(option, (), data, path, attempt)
            if not attempt:
                return value
            last = attempt
        errors.extend(last)
        return None
    if origin is Annotated:
        inner, *metadata = get_args(kind)
        return _value(inner, tuple(m for m in metadata if isinstance(m, Rules)), data, path, errors)
    if origin is Literal:
        if any(data == choice and type(data) is type(choice) for choice in get_args(kind)):
            return data
        _problem(errors, path, f"Input should be {_choices(get_args(kind))}")
        return None
    if origin is list:
        if not isinstance(data, list | tuple):
            _problem(errors, path, "Input should be a valid list")
            return None
        (item,) = get_args(kind) or (Any,)
        return [_value(item, (), element, (*path, i), errors) for i, element in enumerate(data)]
    if kind is dict or origin is dict:
        if isinstance(data, dict):
            return data
        _problem(errors, path, "Input should be a valid dictionary")
        return None
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _record(kind, data, path, errors)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            _problem(errors, path, f"Input should be {_choices([member.value for member in kind])}")
            return None
    scalar = _SCALARS.get(kind)
    if scalar is None:
        raise TypeError(f"records.parse does not know the type {kind!r}")
    value, issue = scalar(data, strict)
    if issue:
        _problem(errors, path, issue)
    return value


def _choices(values: Any) -> str:
    shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _str(data: Any, strict: bool) -> tuple[Any, str | None]:
    return (data, None) if isinstance(data, str) else (None, "Input should be a valid string")


def _int(data: Any, strict: bool) -> tuple[Any, str | None]:
    if isinstance(data, int) and not isinstance(data, bool):
        return data, None
    if not strict:
        if isinstance(data, float) and data.is_integer():
            return int(data), None
        if isinstance(data, float):
            return None, "Input should be a valid integer, got a number with a fractional part"
        if isinstance(data, str):
            try:  # int() refuses over 4,300 digits (ValueError), as it refuses non-digits
                return (int(data), None) if _compiled(_INT).match(data) else (None, _NOT_AN_INT)
            except ValueError:
                return None, _NOT_AN_INT
    return None, "Input should be a valid integer"


def _float(data: Any, strict: bool) -> tuple[Any, str | None]:
    if isinstance(data, int | float) and not isinstance(data, bool):
        return float(data), None
    if not strict and isinstance(data, str):
        try:
            return float(data), None
        except ValueError:
            return None, "Input should be a valid number, unable to parse string as a number"
    return None, "Input should be a valid number"


def _bool(data: Any, strict: bool) -> tuple[Any, str | None]:
    if isinstance(data, bool):
        return data, None
    if not strict:
        if isinstance(data, int) and data in (0, 1):
            return bool(data), None
        if isinstance(data, str) and data.strip().lower() in _TRUE | _FALSE:
            return data.strip().lower() in _TRUE, None
        if isinstance(data, str):
            return None, "Input should be a valid boolean, unable to interpret input"
    return None, "Input should be a valid boolean"


def _date(data: Any, strict: bool) -> tuple[Any, str | None]:
    if isinstance(data, dt.date) and not isinstance(data, dt.datetime):
        return data, None
    if isinstance(data, str) and _compiled(_DATE).match(data):
        try:
            return dt.date.fromisoformat(data), None
        except ValueError:
            return None, "Input should be a valid date in the format YYYY-MM-DD, day value is outside expected range"
    return None, "Input should be a valid date in the format YYYY-MM-DD"


def _datetime(data: Any, strict: bool) -> tuple[Any, str | None]:
    if isinstance(data, dt.datetime):
        return data, None
    if not strict and isinstance(data, str):
        try:
            return dt.datetime.fromisoformat(data), None
        except ValueError:
            return None, "Input should be a valid datetime"
    return None, "Input should be a valid datetime"


_SCALARS: dict[Any, Callable[[Any, bool], tuple[Any, str | None]]] = {
    str: _str,
    int: _int,
    float: _float,
    bool: _bool,
    dt.datetime: _datetime,
    dt.date: _date,
}


def dump(record: Any, *, exclude_none: bool = False) -> Any:
    """A record as JSON-ready data: nested records as objects, enums as their values, datetimes in ISO 8601."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        fields = (
            (f.name, dump(getattr(record, f.name), exclude_none=exclude_none)) for f in dataclasses.fields(record)
        )
        return {name: value for name, value in fields if not (exclude_none and value is None)}
    if isinstance(record, enum.Enum):
        return record.value
    if isinstance(record, list | tuple):
        return [dump(item, exclude_none=exclude_none) for item in record]
    if isinstance(record, dict):
        return {key: dump(value, exclude_none=exclude_none) for key, value in record.items()}
    if isinstance(record, dt.datetime):
        return record.isoformat().replace("+00:00", "Z")
    return record
