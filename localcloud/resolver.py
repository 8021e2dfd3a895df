"""Resolve CloudFormation intrinsic functions against local physical ids.

Supported: Ref (resources, parameters, pseudo parameters, AWS::NoValue), Fn::GetAtt
(both forms), Fn::Sub (string and [string, variables]), Fn::Join, Fn::ImportValue,
Fn::Select, Fn::Split, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition and
the template's Conditions section.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class ResolveError(ValueError):
    """An intrinsic that cannot be resolved (unknown name, missing export, bad shape)."""


class Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        stack_name: str,
        region: str,
        account: str,
        exports: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.exports = exports if exports is not None else {}
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
            "AWS::NotificationARNs": [],
        }
        self.parameters: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if parameters and name in parameters:
                self.parameters[name] = parameters[name]
            elif "Default" in spec:
                self.parameters[name] = spec["Default"]
        self.refs: dict[str, Any] = {}  # logical id -> Ref value
        self.attributes: dict[tuple[str, str], Any] = {}  # (logical id, attribute) -> value
        self._conditions: dict[str, bool] = {}
        self.synthetic: dict[str, str] = {}  # logical id -> stand-in physical id (types not emulated)

    # -- registration of realized resources -------------------------------------------------
    def set_resource(self, logical_id: str, ref: Any, attributes: Mapping[str, Any] | None = None) -> None:
        self.refs[logical_id] = ref
        for name, value in (attributes or {}).items():
            self.attributes[(logical_id, name)] = value

    # -- conditions ---------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise ResolveError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self._resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
        out = {}
        for key, item in value.items():
            resolved = self._resolve(item)
            if resolved is not _NO_VALUE:
                out[key] = resolved
        return out

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise ResolveError(f"Ref to {name!r}: no such parameter or realized resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        key = (logical_id, attribute)
        if key in self.attributes:
            return self.attributes[key]
        if logical_id in self.synthetic:  # a resource not emulated: a stand-in value, so references resolve
            arn = self.attributes.get((logical_id, "Arn"), f"arn:aws:local:::{self.synthetic[logical_id]}")
            return arn if attribute.lower().endswith("arn") else f"{self.synthetic[logical_id]}-{attribute}"
        raise ResolveError(f"Fn::GetAtt {logical_id}.{attribute}: not known locally")

    def sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            raise ResolveError(f"Fn::Sub expects a string or [string, map], got {arg!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)


def _ref(resolver: Resolver, arg: Any) -> Any:
    return resolver.ref(resolver.resolve(arg))


def _get_att(resolver: Resolver, arg: Any) -> Any:
    if isinstance(arg, str):
        logical_id, attribute = arg.split(".", 1)
    else:
        logical_id, attribute = arg[0], resolver.resolve(arg[1])
    return resolver.get_att(logical_id, attribute)


def _join(resolver: Resolver, arg: Any) -> str:
    delimiter, items = arg
    values = resolver.resolve(items)
    if not isinstance(values, list):
        raise ResolveError(f"Fn::Join expects a list, got {values!r}")
    return str(delimiter).join(str(v) for v in values)


def _import_value(resolver: Resolver, arg: Any) -> Any:
    name = resolver.resolve(arg)
    if name not in resolver.exports:
        raise ResolveError(f"Fn::ImportValue {name!r}: no stack exports it (deploy its stack first)")
    return resolver.exports[name]


def _select(resolver: Resolver, arg: Any) -> Any:
    index, items = resolver.resolve(arg[0]), resolver.resolve(arg[1])
    return items[int(index)]


def _split(resolver: Resolver, arg: Any) -> list[str]:
    delimiter, text = arg[0], resolver.resolve(arg[1])
    return str(text).split(delimiter)


def _if(resolver: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver._resolve(when_true if resolver.condition(name) else when_false)


def _equals(resolver: Resolver, arg: Any) -> bool:
    left, right = (resolver.resolve(v) for v in arg)
    return bool(left == right or str(left) == str(right))


def _not(resolver: Resolver, arg: Any) -> bool:
    return not resolver.resolve(arg[0])


def _and(resolver: Resolver, arg: Any) -> bool:
    return all(resolver.resolve(v) for v in arg)


def _or(resolver: Resolver, arg: Any) -> bool:
    return any(resolver.resolve(v) for v in arg)


def _condition(resolver: Resolver, arg: Any) -> bool:
    return resolver.condition(arg)


def _base64(resolver: Resolver, arg: Any) -> str:
    import base64

    return base64.b64encode(str(resolver.resolve(arg)).encode()).decode()


def _get_azs(resolver: Resolver, arg: Any) -> list[str]:
    region = resolver.resolve(arg) or resolver.pseudo["AWS::Region"]
    return [f"{region}{zone}" for zone in "abc"]


_FUNCTIONS = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": _join,
    "Fn::ImportValue": _import_value,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Condition": _condition,
    "Fn::Base64": _base64,
    "Fn::GetAZs": _get_azs,
}


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, Fn::GetAtt, Fn::Sub variables)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 else set()
                for name in _SUB_VARIABLE.findall(text):
                    if not name.startswith("!") and name not in local:
                        found.add(name.split(".", 1)[0])
                if isinstance(arg, list) and len(arg) > 1:
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return {name for name in found if not name.startswith("AWS::")}


def creation_order(template: Mapping[str, Any]) -> list[str]:
    """Logical ids so that every resource comes after what it refers to (ties alphabetical)."""
    resources = template.get("Resources") or {}
    deps: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        names = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        names |= references(resource.get("Properties") or {})
        deps[logical_id] = {n for n in names if n in resources and n != logical_id}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(resources):
        ready = sorted(n for n in resources if n not in done and deps[n] <= done)
        if not ready:
            cycle = sorted(n for n in resources if n not in done)
            raise ResolveError(f"circular references between {cycle}")
        order.extend(ready)
        done.update(ready)
    return order
