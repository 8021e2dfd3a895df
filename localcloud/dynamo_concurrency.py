"""DynamoDB's concurrency at the edge: per-item atomicity and transaction conflicts, no global lock.

DynamoDB runs requests on different items in parallel, serializes single-item writes to one
item, and refuses to queue behind a transaction (developer guide, "Transaction conflict handling"):

- a PutItem/UpdateItem/DeleteItem on an item that an in-flight TransactWriteItems holds fails
  with `TransactionConflictException`;
- a TransactWriteItems touching an item that another in-flight TransactWriteItems holds is
  cancelled: `TransactionCanceledException` with one `CancellationReasons` entry per action,
  `TransactionConflict` for the contended items and `None` for the others;
- a TransactGetItems touching an item under an in-flight write is cancelled the same way.

moto applies a request in Python with no locking of its own, so two requests on one table can
interleave half-way. Here each request holds its items (`ItemLocks`) and a table "phase"
(`TablePhases`: item requests run together, Scan/Query run together, never both, because moto
iterates a table's dict while item requests may insert into it). moto's TransactWriteItems also
rolls back by restoring a deep copy of every table it touched, which would erase concurrent
writes to other items: `patch_moto_transactions` replaces that with a rollback of the
transaction's own items.

Locks are always taken in one order, table phases (sorted) first, then all of a request's items at
once: a request never holds items while it waits for a phase, so an item is held only while its
request runs on moto (the conflict window is the request's own time, as on DynamoDB), and nothing
waits in a cycle.

A BatchWriteItem action on an item held by a transaction comes back in `UnprocessedItems`
(the batch API's way of reporting an action not done; the guide does not spell out this case).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
CONFLICT_MESSAGE = "Transaction is ongoing for the item"
ItemKey = tuple[str, str, str]  # (region, table, canonical key)

SINGLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
ITERATING = frozenset({"Scan", "Query"})
POINT_READS = frozenset({"GetItem", "BatchGetItem"})


@dataclass
class Answer:
    """An HTTP answer in DynamoDB's JSON 1.0 protocol."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def error_answer(code: str, message: str, status: int = 400, **extra: Any) -> Answer:
    body = json.dumps({"__type": ERROR_PREFIX + code, "message": message, **extra}).encode()
    return Answer(status, body, [("Content-Type", "application/x-amz-json-1.0")])


def cancelled(reasons: list[dict[str, str]]) -> Answer:
    codes = ", ".join(r["Code"] for r in reasons)
    message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
    body = {"__type": ERROR_PREFIX + "TransactionCanceledException", "Message": message, "CancellationReasons": reasons}
    return Answer(400, json.dumps(body).encode(), [("Content-Type", "application/x-amz-json-1.0")])


class ItemLocks:
    """Who holds which item: shared readers, one single-item writer, or one transaction."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held: dict[ItemKey, tuple[str, int]] = {}  # key -> (mode, holders); mode read|write|txn

    def mode(self, key: ItemKey) -> str | None:
        with self._cond:
            held = self._held.get(key)
            return held[0] if held else None

    @contextmanager
    def hold(self, keys: list[ItemKey], mode: str, *, refuse_on: frozenset[str]) -> Iterator[list[int] | None]:
        """Hold `keys` in `mode`, waiting out holders not in `refuse_on`.

        Yields None when held, or the indexes of the keys held in a refused mode (nothing held).
        All keys are taken at once under one condition, so a waiter never holds a part: no deadlock.
        """
        unique = list(dict.fromkeys(keys))
        with self._cond:
            while True:
                refused = [i for i, k in enumerate(keys) if k in self._held and self._held[k][0] in refuse_on]
                if refused:
                    break
                if all(self._compatible(k, mode) for k in unique):
                    for k in unique:
                        held_mode, count = self._held.get(k, (mode, 0))
                        self._held[k] = (held_mode, count + 1)
                    break
                self._cond.wait()
        if refused:
            yield refused
            return
        try:
            yield None
        finally:
            with self._cond:
                for k in unique:
                    held_mode, count = self._held[k]
                    if count <= 1:
                        del self._held[k]
                    else:
                        self._held[k] = (held_mode, count - 1)
                self._cond.notify_all()

    def _compatible(self, key: ItemKey, mode: str) -> bool:
        held = self._held.get(key)
        return held is None or (held[0] == "read" and mode == "read")


class TablePhases:
    """Per table: item requests share a phase, Scan/Query share the other; arrivals wait behind a waiting phase."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: dict[tuple[str, str], tuple[str, int]] = {}
        self._waiting: dict[tuple[str, str], dict[str, int]] = {}

    @contextmanager
    def enter(self, tables: list[tuple[str, str]], phase: str) -> Iterator[None]:
        taken: list[tuple[str, str]] = []
        try:
            for table in sorted(set(tables)):  # one order for every request: no deadlock across tables
                self._take(table, phase)
                taken.append(table)
            yield
        finally:
            with self._cond:
                for table in taken:
                    active_phase, count = self._active[table]
                    if count <= 1:
                        del self._active[table]
                    else:
                        self._active[table] = (active_phase, count - 1)
                self._cond.notify_all()

    def _take(self, table: tuple[str, str], phase: str) -> None:
        with self._cond:
            waiting = self._waiting.setdefault(table, {})
            waiting[phase] = waiting.get(phase, 0) + 1
            try:
                while True:
                    active = self._active.get(table)
                    other_waits = any(n for p, n in waiting.items() if p != phase)
                    if active is None and not (other_waits and self._turn_of_other(table, phase)):
                        self._active[table] = (phase, 1)
                        return
                    if active is not None and active[0] == phase and not other_waits:
                        self._active[table] = (phase, active[1] + 1)
                        return
                    self._cond.wait()
            finally:
                waiting[phase] -= 1

    def _turn_of_other(self, table: tuple[str, str], phase: str) -> bool:
        # the table is idle and both phases wait: scans go first (they are few and were held back)
        return phase != "scan"


KeySchema = Callable[[str, str], tuple[str, str | None] | None]  # (region, table) -> (hash, range)


def moto_key_schema(region: str, table_name: str) -> tuple[str, str | None] | None:
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends.keys()):
        backend = dynamodb_backends[account].get(region)
        if backend is None:
            continue
        table = backend.tables.get(table_name)
        if table is not None:
            return table.hash_key_attr, table.range_key_attr
    return None


class DynamoConcurrency:
    """Runs one DynamoDB request on moto with DynamoDB's isolation; answers conflicts itself."""

    def __init__(self, key_schema: KeySchema = moto_key_schema) -> None:
        self.key_schema = key_schema
        self.items = ItemLocks()
        self.tables = TablePhases()
        self.conflicts = 0
        self._count_lock = threading.Lock()

    def _key(self, region: str, table: str, key: dict[str, Any] | None) -> ItemKey | None:
        if key is None:
            return None
        return (region, table, json.dumps(key, sort_keys=True))

    def _key_of_item(self, region: str, table: str, item: dict[str, Any]) -> ItemKey | None:
        schema = self.key_schema(region, table)
        if schema is None:
            return None
        hash_attr, range_attr = schema
        key = {name: item.get(name) for name in (hash_attr, range_attr) if name}
        return self._key(region, table, key)

    def _count_conflict(self) -> None:
        with self._count_lock:
            self.conflicts += 1

    def handle(  # noqa: PLR0911 - one dispatch per kind of DynamoDB request
        self, operation: str, body: dict[str, Any], region: str, call: Callable[[bytes], Answer]
    ) -> Answer:
        """`call(body)` runs the request on moto; it is called at most once, inside the right locks."""
        raw = json.dumps(body).encode()
        if operation in SINGLE_WRITES:
            return self._single_write(operation, body, region, raw, call)
        if operation == "TransactWriteItems":
            return self._transact_write(body, region, raw, call)
        if operation == "TransactGetItems":
            return self._transact_get(body, region, raw, call)
        if operation == "BatchWriteItem":
            return self._batch_write(body, region, call)
        if operation in ITERATING:
            with self.tables.enter([(region, str(body.get("TableName")))], "scan"):
                return call(raw)
        if operation == "GetItem":
            table = str(body.get("TableName"))
            key = self._key(region, table, body.get("Key"))
            with (
                self.tables.enter([(region, table)], "item"),
                self.items.hold([key] if key else [], "read", refuse_on=frozenset()),
            ):
                return call(raw)
        if operation == "BatchGetItem":
            tables = [(region, t) for t in (body.get("RequestItems") or {})]
            with self.tables.enter(tables, "item"):
                return call(raw)
        return call(raw)

    def _single_write(
        self, operation: str, body: dict[str, Any], region: str, raw: bytes, call: Callable[[bytes], Answer]
    ) -> Answer:
        table = str(body.get("TableName"))
        if operation == "PutItem":
            key = self._key_of_item(region, table, body.get("Item") or {})
        else:
            key = self._key(region, table, body.get("Key"))
        with (
            self.tables.enter([(region, table)], "item"),
            self.items.hold([key] if key else [], "write", refuse_on=frozenset({"txn"})) as refused,
        ):
            if refused:
                self._count_conflict()
                return error_answer("TransactionConflictException", CONFLICT_MESSAGE)
            return call(raw)

    def _transact_keys(self, actions: list[dict[str, Any]], region: str) -> tuple[list[ItemKey], list[str]]:
        keys: list[ItemKey] = []
        tables: list[str] = []
        for action in actions:
            _, op = next(iter(action.items()))
            table = str(op.get("TableName"))
            key = (
                self._key_of_item(region, table, op["Item"])
                if "Item" in op
                else self._key(region, table, op.get("Key"))
            )
            keys.append(key or (region, table, "?"))
            tables.append(table)
        return keys, tables

    def _transact_write(self, body: dict[str, Any], region: str, raw: bytes, call: Callable[[bytes], Answer]) -> Answer:
        actions = body.get("TransactItems") or []
        keys, tables = self._transact_keys(actions, region)
        if len(set(keys)) < len(keys):  # moto answers the ValidationException DynamoDB gives
            return call(raw)
        with (
            self.tables.enter([(region, t) for t in tables], "item"),
            self.items.hold(keys, "txn", refuse_on=frozenset({"txn"})) as refused,
        ):
            if refused:
                self._count_conflict()
                return cancelled(_reasons(len(keys), refused))
            return call(raw)

    def _transact_get(self, body: dict[str, Any], region: str, raw: bytes, call: Callable[[bytes], Answer]) -> Answer:
        actions = body.get("TransactItems") or []
        keys, tables = self._transact_keys(actions, region)
        with (
            self.tables.enter([(region, t) for t in tables], "item"),
            self.items.hold(keys, "read", refuse_on=frozenset({"txn", "write"})) as refused,
        ):
            if refused:
                self._count_conflict()
                return cancelled(_reasons(len(keys), refused))
            return call(raw)

    def _batch_write(self, body: dict[str, Any], region: str, call: Callable[[bytes], Answer]) -> Answer:
        requests = body.get("RequestItems") or {}
        unprocessed: dict[str, list[Any]] = {}
        for table, actions in requests.items():
            for action in actions:
                key = self._batch_key(region, table, action)
                if key is not None and self.items.mode(key) == "txn":
                    unprocessed.setdefault(table, []).append(action)
        if unprocessed:
            self._count_conflict()
            body = dict(body)
            body["RequestItems"] = {
                t: kept
                for t, acts in requests.items()
                if (kept := [a for a in acts if a not in unprocessed.get(t, [])])
            }
        keys = [
            k
            for t, acts in body["RequestItems"].items()
            for a in acts
            if (k := self._batch_key(region, t, a)) is not None
        ]
        if not body["RequestItems"]:
            return Answer(200, json.dumps({"UnprocessedItems": unprocessed}).encode(), _JSON)
        with (
            self.tables.enter([(region, t) for t in body["RequestItems"]], "item"),
            self.items.hold(keys, "write", refuse_on=frozenset()),
        ):
            answer = call(json.dumps(body).encode())
        if unprocessed and answer.status == 200:
            out = json.loads(answer.body)
            for table, actions in unprocessed.items():
                out.setdefault("UnprocessedItems", {}).setdefault(table, []).extend(actions)
            # a new body: moto's x-amz-crc32 no longer matches it (botocore checks it), so it goes
            answer = Answer(200, json.dumps(out).encode(), _JSON)
        return answer

    def _batch_key(self, region: str, table: str, action: dict[str, Any]) -> ItemKey | None:
        if "PutRequest" in action:
            return self._key_of_item(region, table, action["PutRequest"].get("Item") or {})
        return self._key(region, table, (action.get("DeleteRequest") or {}).get("Key"))


_JSON = [("Content-Type", "application/x-amz-json-1.0")]


def _reasons(count: int, refused: list[int]) -> list[dict[str, str]]:
    return [
        {"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE} if i in refused else {"Code": "None"}
        for i in range(count)
    ]


def patch_moto_transactions() -> None:  # noqa: PLR0915 - mirrors moto's own function
    """moto's TransactWriteItems rolls back by restoring deep copies of whole tables, which erases
    concurrent writes to other items; this version evaluates every condition first and writes only
    when all hold (the items are held by `ItemLocks`, so nothing changes in between), and on an
    unexpected failure while writing restores just the transaction's own items."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_localcloud", False):
        return

    def transact_write_items(  # noqa: PLR0912, PLR0915 - moto's checks, then the writes
        self: Any, transact_items: list[dict[str, Any]]
    ) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        seen: set[tuple[str, str]] = set()
        planned: list[tuple[str, dict[str, Any], Any, dict[str, Any]]] = []
        errors: list[tuple[Any, Any, Any]] = []
        for action in transact_items:
            if len(action) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(action.items()))
            original_item = None
            try:
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                unique = (str(op["TableName"]), str(dict(sorted(key.items()))))
                if unique in seen:
                    raise MultipleTransactionsException()
                seen.add(unique)
                current = self.get_item(op["TableName"], key)
                condition = op.get("ConditionExpression")
                if condition is not None:
                    expression = get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                    if not expression.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                planned.append((op_type, op, table, key))
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as exc:
                errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
            except Exception as exc:
                errors.append((type(exc).__name__, str(exc), original_item))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        snapshots = []
        for _, _, table, key in planned:
            hash_value, range_value = _key_values(table, key)
            snapshots.append((table, hash_value, range_value, copy.deepcopy(_stored(table, hash_value, range_value))))
        try:
            for op_type, op, table, key in planned:
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(
                        table.name, op["Item"], expression_attribute_names=names, expression_attribute_values=values
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table.name, key, expression_attribute_names=names, expression_attribute_values=values
                    )
                elif op_type == "Update":
                    self.update_item(
                        table.name,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
        except Exception:
            for table, hash_value, range_value, item in reversed(snapshots):
                _restore(table, hash_value, range_value, item)
            raise

    transact_write_items._localcloud = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _stored(table: Any, hash_value: Any, range_value: Any) -> Any:
    if range_value is not None:
        return table.items.get(hash_value, {}).get(range_value)
    return table.items.get(hash_value)


def _restore(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    if range_value is not None:
        partition = table.items[hash_value]
        if item is None:
            partition.pop(range_value, None)
        else:
            partition[range_value] = item
    elif item is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = item
