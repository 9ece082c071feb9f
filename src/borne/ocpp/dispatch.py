"""The inbound CALL pipeline: validate → router → handler → validate the reply → encode.

``InboundDispatcher.dispatch`` never raises: every outcome is an encoded frame, a CALLRESULT
(``Reply.ok``) or a CALLERROR. Order of the checks:

1. no schema for the action in this version → ``NotImplemented`` (the action is not known);
2. registration not ``Accepted`` and the action is not ``BootNotification`` → ``SecurityError``
   (R22). As we read OCPP 2.0.1 B02/B03, the CSMS answers other messages of a Pending or
   Rejected station with ``CALLERROR: SecurityError``; 1.6 §4.2 only forbids the station to send
   them (Pending: unless asked through TriggerMessage; Rejected: none) and names no code, so the
   same ``SecurityError`` is used. Not yet done: letting through, while Pending, a message the
   CSMS itself asked for with TriggerMessage. The registration status is loaded at connect from
   the station's last boot, so a reconnect without a new BootNotification keeps working;
3. no handler registered (CSMS→station actions included) → ``NotSupported``;
4. request schema (with the station's leniency) → the exact constraint code (R4);
5. typed request, handler; any exception → ``InternalError`` with a short description, logged
   with its traceback (R17);
6. reply schema (strict): a handler reply that breaks it → ``InternalError``, logged (R7).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from pydantic import ValidationError

from borne.core.errors import BorneError
from borne.ocpp.context import CallContext
from borne.ocpp.errors import ErrorCode, wire_name
from borne.ocpp.framing import encode_error, encode_result
from borne.ocpp.router import Router
from borne.ocpp.validation import Direction, PayloadValidator, SchemaViolation

log = logging.getLogger(__name__)

BOOT = "BootNotification"


class Reply(NamedTuple):
    """An encoded answer; ``ok`` is True for a CALLRESULT (which may be replayed, R3)."""

    text: str
    ok: bool


class InboundDispatcher:
    """Serves the inbound CALLs of one OCPP version."""

    def __init__(self, router: Router, validator: PayloadValidator) -> None:
        if router.version != validator.version:
            raise ValueError("router and validator are for different OCPP versions")
        self.version = router.version
        self.router = router
        self.validator = validator
        self._requests = router.requests

    def error(
        self, message_id: str, code: ErrorCode, description: str, details: Any = None
    ) -> Reply:
        return Reply(
            encode_error(message_id, wire_name(code, self.version), description, details), False
        )

    async def dispatch(self, ctx: CallContext, action: str, payload: dict[str, Any]) -> Reply:
        mid = ctx.message_id
        validator = self.validator
        if not validator.has_schema(action):
            return self.error(mid, ErrorCode.NOT_IMPLEMENTED, f"unknown action {action[:50]}")
        state = ctx.state
        if state.registration_status != "Accepted" and action != BOOT:
            return self.error(
                mid, ErrorCode.SECURITY_ERROR, f"station is {state.registration_status}"
            )
        handler = self.router.handler_for(action)
        if handler is None:
            return self.error(mid, ErrorCode.NOT_SUPPORTED, f"{action} is not supported")
        try:
            payload = validator.validate(
                action,
                Direction.REQUEST,
                payload,
                leniency=state.leniency,
                station_id=ctx.station_id,
            )
            request = self._requests[action].model_validate(payload)
        except SchemaViolation as exc:
            return self.error(mid, exc.code, exc.description)
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"] if exc.error_count() else ()
            where = ".".join(str(p) for p in loc)
            return self.error(
                mid, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"invalid value at {where}"[:200]
            )
        try:
            reply = await handler(ctx, request)
            out = reply.to_payload()
        except BorneError as exc:
            log.exception("station %s: %s handler failed: %s", ctx.station_id, action, exc.code)
            return self.error(mid, ErrorCode.INTERNAL_ERROR, f"{action} could not be processed")
        except Exception:
            log.exception("station %s: %s handler failed", ctx.station_id, action)
            return self.error(mid, ErrorCode.INTERNAL_ERROR, f"{action} could not be processed")
        try:
            validator.validate(action, Direction.RESPONSE, out)
        except SchemaViolation as exc:
            log.error(
                "station %s: %s reply breaks the schema, sent InternalError instead: %s",
                ctx.station_id,
                action,
                exc.description,
            )
            return self.error(mid, ErrorCode.INTERNAL_ERROR, f"{action} reply was invalid")
        return Reply(encode_result(mid, out), True)
