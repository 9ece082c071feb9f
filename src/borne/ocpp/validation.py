"""Validation of OCPP payloads against the official JSON schemas, compiled once.

The schemas are the ones the ``ocpp`` package ships (``ocpp/v16/schemas``: ``X.json`` and
``XResponse.json``; ``ocpp/v201/schemas``: ``XRequest.json`` and ``XResponse.json``). Each is
compiled with ``fastjsonschema`` the first time it is needed (``compile_all()`` does it up
front) and kept by the ``PayloadValidator`` of its version, per action and direction.
Formats are checked (the 1.6 and 2.0.1 ``date-time`` fields); schema ``default`` values are
never written into payloads.

Failing keyword → CALLERROR code. The definitions are OCPP-J 1.6 §4.2.3 and 2.0.1 part 4 §4.3:
FormatViolation (1.6 FormationViolation) "payload is syntactically incorrect / not conform the
PDU structure"; TypeConstraintViolation "a field violates data type constraints (e.g.
"somestring": 12)"; OccurrenceConstraintViolation (1.6 OccurenceConstraintViolation) "a field
violates occurrence constraints"; PropertyConstraintViolation "a field contains an invalid
value". Hence:

====================================================  =================================
keyword                                               code
====================================================  =================================
``type`` of a field                                   TypeConstraintViolation
``type`` of the payload itself (not an object)        FormatViolation
``additionalProperties`` (an unknown field)           FormatViolation
``required``, ``minItems``, ``maxItems``,             OccurrenceConstraintViolation
``additionalItems``, ``minProperties``,
``maxProperties``, ``uniqueItems``
``enum``, ``const``, ``maxLength``, ``minLength``,    PropertyConstraintViolation
``minimum``, ``maximum``, ``exclusiveMinimum``,
``exclusiveMaximum``, ``multipleOf``, ``pattern``,
``format``
anything else                                         FormatViolation
====================================================  =================================

Per-station leniency (``StationSessionState.leniency``, off by default) is applied only to
what a station sends, and only after strict validation failed:

- ``extra_fields``: unknown properties are removed;
- ``long_strings``: strings longer than ``maxLength`` are accepted as they are;
- ``numeric_strings``: a string holding a number where the schema wants an integer or a number
  is converted (``"12"`` → ``12``).

When leniency makes a payload pass, a WARNING names the station, the action and the quirks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

from borne.ocpp.errors import ErrorCode
from borne.ocpp.versions import OcppVersion

log = logging.getLogger(__name__)

Validate = Callable[[Any], Any]

LENIENCY_FLAGS: frozenset[str] = frozenset({"extra_fields", "long_strings", "numeric_strings"})
_MAX_REPAIRS = 1000


class Direction(Enum):
    REQUEST = "request"
    RESPONSE = "response"


_OCCURRENCE = frozenset(
    {
        "required",
        "minItems",
        "maxItems",
        "additionalItems",
        "minProperties",
        "maxProperties",
        "uniqueItems",
    }
)
_PROPERTY = frozenset(
    {
        "enum",
        "const",
        "maxLength",
        "minLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "pattern",
        "format",
    }
)


def code_for(rule: str | None, path: Iterable[str] = ("data", "x")) -> ErrorCode:
    """The CALLERROR code of a failed schema keyword (see the module docstring)."""
    if rule == "type":
        return (
            ErrorCode.FORMAT_VIOLATION
            if len(list(path)) <= 1
            else ErrorCode.TYPE_CONSTRAINT_VIOLATION
        )
    if rule in _OCCURRENCE:
        return ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
    if rule in _PROPERTY:
        return ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    return ErrorCode.FORMAT_VIOLATION


class SchemaViolation(Exception):
    """A payload breaks its schema; ``code`` is the CALLERROR code to answer with."""

    def __init__(self, code: ErrorCode, description: str, *, rule: str | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.rule = rule


class UnknownAction(LookupError):
    """No schema exists for this action in this version."""


def _violation(exc: fastjsonschema.JsonSchemaValueException) -> SchemaViolation:
    path = exc.path
    description = exc.message
    # fastjsonschema names the root "data"; say "payload" instead.
    if description.startswith("data"):
        description = "payload" + description[4:]
    return SchemaViolation(code_for(exc.rule, path), description[:200], rule=exc.rule)


def _without_max_length(schema: Any) -> Any:
    """A copy of ``schema`` whose string ``maxLength`` limits are gone (``long_strings``)."""
    if isinstance(schema, dict):
        return {
            k: _without_max_length(v)
            for k, v in schema.items()
            if not (k == "maxLength" and isinstance(v, int) and schema.get("type") == "string")
        }
    if isinstance(schema, list):
        return [_without_max_length(v) for v in schema]
    return schema


def _as_number(value: str, types: Any) -> int | float | None:
    wanted = {types} if isinstance(types, str) else set(types or ())
    text = value.strip()
    if "integer" in wanted:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in wanted:
        try:
            number = float(text)
        except ValueError:
            return None
        if math.isfinite(number):
            return int(number) if number.is_integer() and "." not in text else number
    return None


def _set_at(root: Any, path: list[str], value: Any) -> bool:
    """Replace the value at a fastjsonschema path (``["data", "a", "0", "b"]``)."""
    if len(path) < 2:
        return False
    node = root
    for key in path[1:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = path[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        return False
    return True


class PayloadValidator:
    """The compiled schemas of one OCPP version."""

    def __init__(self, version: OcppVersion, schema_dir: Path | None = None) -> None:
        self.version = version
        if schema_dir is None:
            sub = "v16" if version is OcppVersion.V16 else "v201"
            schema_dir = Path(str(resources.files("ocpp") / sub / "schemas"))
        self._dir = schema_dir
        self._files: dict[tuple[str, Direction], Path] = {}
        for path in schema_dir.glob("*.json"):
            name = path.stem
            if name.endswith("Response"):
                self._files[(name[: -len("Response")], Direction.RESPONSE)] = path
            elif version is OcppVersion.V16:
                self._files[(name, Direction.REQUEST)] = path
            elif name.endswith("Request"):
                self._files[(name[: -len("Request")], Direction.REQUEST)] = path
        self._actions = frozenset(a for a, d in self._files if d is Direction.REQUEST)
        self._strict: dict[tuple[str, Direction], Validate] = {}
        self._long: dict[tuple[str, Direction], Validate] = {}

    @property
    def actions(self) -> frozenset[str]:
        return self._actions

    def has_schema(self, action: str) -> bool:
        return action in self._actions

    def compile_all(self) -> int:
        """Compile every schema of the version now; returns how many."""
        for key in self._files:
            self._compiled(key, strict=True)
        return len(self._files)

    def _load(self, key: tuple[str, Direction]) -> Any:
        try:
            path = self._files[key]
        except KeyError:
            raise UnknownAction(f"{key[0]} is not an action of {self.version}") from None
        return orjson.loads(path.read_bytes())

    def _compiled(self, key: tuple[str, Direction], *, strict: bool) -> Validate:
        cache = self._strict if strict else self._long
        fn = cache.get(key)
        if fn is None:
            schema = self._load(key)
            if not strict:
                schema = _without_max_length(schema)
            fn = fastjsonschema.compile(schema, use_default=False)
            cache[key] = fn
        return fn

    def validate(
        self,
        action: str,
        direction: Direction,
        payload: Any,
        *,
        leniency: frozenset[str] = frozenset(),
        station_id: str = "",
    ) -> Any:
        """Return the payload when it is valid (repaired in place under leniency), otherwise
        raise ``SchemaViolation``; ``UnknownAction`` when the version has no such schema."""
        key = (action, direction)
        fn = self._strict.get(key) or self._compiled(key, strict=True)
        try:
            fn(payload)
            return payload
        except fastjsonschema.JsonSchemaValueException as exc:
            if not leniency or not isinstance(payload, dict):
                raise _violation(exc) from None
            first = exc
        quirks = self._repair(key, payload, leniency, first)
        log.warning(
            "station %s: %s %s accepted leniently (%s): %s",
            station_id,
            action,
            direction.value,
            ", ".join(sorted(quirks)),
            _violation(first).description,
        )
        return payload

    def _repair(
        self,
        key: tuple[str, Direction],
        payload: dict[str, Any],
        leniency: frozenset[str],
        first: fastjsonschema.JsonSchemaValueException,
    ) -> set[str]:
        long_strings = "long_strings" in leniency
        fn = self._compiled(key, strict=not long_strings)
        quirks: set[str] = set()
        for _ in range(_MAX_REPAIRS):
            try:
                fn(payload)
                break
            except fastjsonschema.JsonSchemaValueException as exc:
                if not self._repair_one(exc, payload, leniency, quirks):
                    raise _violation(exc if quirks or long_strings else first) from None
        else:  # pragma: no cover - a payload with a thousand quirks
            raise _violation(first)
        if long_strings:
            try:
                self._compiled(key, strict=True)(payload)
            except fastjsonschema.JsonSchemaValueException:
                quirks.add("long_strings")
        return quirks

    @staticmethod
    def _repair_one(
        exc: fastjsonschema.JsonSchemaValueException,
        payload: dict[str, Any],
        leniency: frozenset[str],
        quirks: set[str],
    ) -> bool:
        value = exc.value
        if exc.rule == "additionalProperties" and "extra_fields" in leniency:
            if not isinstance(value, dict) or not isinstance(exc.definition, dict):
                return False
            known = exc.definition.get("properties", {})
            for extra in [k for k in value if k not in known]:
                del value[extra]
            quirks.add("extra_fields")
            return True
        if exc.rule == "type" and "numeric_strings" in leniency and isinstance(value, str):
            number = _as_number(value, exc.rule_definition)
            if number is None or not _set_at(payload, exc.path, number):
                return False
            quirks.add("numeric_strings")
            return True
        return False


def validators() -> dict[OcppVersion, PayloadValidator]:
    """One validator per version (schemas compile lazily, on first use)."""
    return {version: PayloadValidator(version) for version in OcppVersion}
