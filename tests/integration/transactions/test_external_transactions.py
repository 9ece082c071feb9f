"""Transactions and the external authorizer: roaming tokens at StartTransaction / TransactionEvent.

(Lead: place in tests/integration/transactions/ once the transactions patch is applied.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tx_helpers import T0, iso

from borne.authorization.external import ExternalVerdict
from borne.core.deps import Deps
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion
from borne.transactions import ocpp_v16, ocpp_v201


class Memory:
    """Remembers the tokens it was asked about; knows only ``ROAM-*`` tokens."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.decided: set[str] = set()

    def available(self) -> bool:
        return True

    async def authorize(
        self,
        id_token: str,
        *,
        token_type: str | None,
        station_id: str,
        evse_id: int | None,
        now: datetime,
    ) -> ExternalVerdict | None:
        self.asked.append(id_token)
        if id_token.startswith("ROAM-"):
            self.decided.add(id_token)
            return ExternalVerdict("Accepted", reference=f"REF-{id_token}")
        return None

    async def recall(
        self,
        session: AsyncSession,
        id_token: str,
        *,
        station_id: str | None,
        now: datetime,
        decided_only: bool = False,
    ) -> ExternalVerdict | None:
        if id_token in self.decided:
            return ExternalVerdict("Accepted", reference=f"REF-{id_token}")
        return None


class _Conn:
    station_id = "CP-R"
    ocpp_version = "x"

    async def call(self, action: str, payload: Any, *, timeout: float | None = None) -> Any:
        raise AssertionError

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


async def call(router: Router, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    handler = router.handler_for(action)
    assert handler is not None
    ctx = CallContext("CP-R", router.version, "m", T0, _Conn(), StationSessionState())
    result = await handler(ctx, router.requests[action].model_validate(payload))
    out = result[0] if isinstance(result, tuple) else result
    payload_out: dict[str, Any] = out.to_payload()
    return payload_out


async def test_v16_start_of_a_roaming_token_is_accepted(csms: Any, deps: Deps) -> None:
    memory = Memory()
    router = Router(OcppVersion.V16)
    ocpp_v16.register(router, deps, memory)
    start = {"connectorId": 1, "meterStart": 0, "timestamp": iso(T0)}
    out = await call(router, "StartTransaction", {**start, "idTag": "ROAM-1"})
    assert out["idTagInfo"]["status"] == "Accepted"
    out = await call(router, "StartTransaction", {**start, "connectorId": 2, "idTag": "NOPE"})
    assert out["idTagInfo"]["status"] == "Invalid"
    out = await call(router, "StartTransaction", {**start, "connectorId": 3, "idTag": "TAG1"})
    assert out["idTagInfo"]["status"] == "Accepted"
    assert memory.asked == ["ROAM-1", "NOPE"]  # the local TAG1 never reaches it


async def test_v201_started_event_of_a_roaming_token_is_accepted(csms: Any, deps: Deps) -> None:
    memory = Memory()
    router = Router(OcppVersion.V201)
    ocpp_v201.register(router, deps, memory)
    out = await call(
        router,
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": iso(T0),
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "T-1"},
            "idToken": {"idToken": "ROAM-2", "type": "ISO14443"},
            "evse": {"id": 1, "connectorId": 1},
        },
    )
    assert out["idTokenInfo"]["status"] == "Accepted"
    assert memory.asked == ["ROAM-2"]
