"""A stand-in for a connected station: a ``StationConnection`` that records the CALLs it gets.

Like the real session, it checks each outgoing payload against the action's official JSON
schema (from the ``ocpp`` package) and refuses it with ``InvalidInput``; then it answers the
canned CALLRESULT payload set for the action, or raises the exception set for it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp

from borne.core.errors import InvalidInput, StationCallError
from borne.ocpp.versions import OcppVersion

_SCHEMAS = Path(ocpp.__file__).parent


@cache
def _validator(version: OcppVersion, action: str) -> Any:
    if version is OcppVersion.V16:
        path = _SCHEMAS / "v16" / "schemas" / f"{action}.json"
    else:
        path = _SCHEMAS / "v201" / "schemas" / f"{action}Request.json"
    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


class FakeStation:
    def __init__(
        self,
        station_id: str,
        version: OcppVersion,
        answers: Mapping[str, dict[str, Any] | BaseException] | None = None,
    ) -> None:
        self._station_id = station_id
        self._version = version
        self.answers: dict[str, dict[str, Any] | BaseException] = dict(answers or {})
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = False

    @property
    def station_id(self) -> str:
        return self._station_id

    @property
    def ocpp_version(self) -> str:
        return self._version.value

    @property
    def last(self) -> tuple[str, dict[str, Any]]:
        assert self.calls, "the station received no call"
        return self.calls[-1]

    async def call(
        self,
        action: str,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        try:
            _validator(self._version, action)(dict(payload))
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidInput(f"{action} payload refused by the schema: {exc.message}") from None
        self.calls.append((action, copy.deepcopy(dict(payload))))
        answer = self.answers.get(action)
        if answer is None:
            raise StationCallError("NotImplemented", f"the fake station has no answer to {action}")
        if isinstance(answer, BaseException):
            raise answer
        return copy.deepcopy(answer)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = True
