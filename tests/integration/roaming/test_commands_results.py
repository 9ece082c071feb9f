"""A command's result is stored once, with its CommandResult queued in the same transaction; a
START_SESSION the station did not take withdraws the 15-minute authorization of its token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select

import borne.models  # noqa: F401  (every table for create_all)
from borne.core.deps import Deps
from borne.ocpi.outbox_models import OcpiOutboxRow
from borne.ocpp.outbound import OcppOutbound
from borne.roaming.commands import COMMAND_SOURCE, START_SESSION_GRACE, CommandsReceiver
from borne.roaming.commands_models import RoamingCommand
from borne.roaming.tokens_models import RoamingAuthorization

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


class Frozen:
    def now(self) -> datetime:
        return T0 + timedelta(minutes=2)


async def _no_session(*_args: Any) -> None:
    return None


async def test_a_start_that_failed_withdraws_its_token_and_answers_once(deps: Deps) -> None:
    token = {"country_code": "DE", "party_id": "EMP", "uid": "APP-1", "type": "APP_USER"}
    async with deps.db.unit_of_work() as uow:
        command = RoamingCommand(
            partner_id=3,
            command="START_SESSION",
            station_id="CP-1",
            request={"token": token, "location_id": "LOC-1"},
            response_url="http://127.0.0.1:9/results/1",
            created_at=T0,
            deadline=T0 + timedelta(seconds=60),
        )
        uow.session.add(command)
        uow.session.add(
            RoamingAuthorization(
                partner_id=3,
                country_code="DE",
                party_id="EMP",
                token_uid="APP-1",
                token_uid_key="APP-1",
                token_type="APP_USER",
                station_id="CP-1",
                result="ALLOWED",
                allowed=True,
                source=COMMAND_SOURCE,
                decided_at=T0,
                expires_at=T0 + START_SESSION_GRACE,
            )
        )
        await uow.commit()
        command_id = command.id
    receiver = CommandsReceiver(
        deps.db,
        Frozen(),
        deps.supervisor,
        cast(OcppOutbound, object()),
        find_session=_no_session,
    )
    assert await receiver.finish(command_id, "TIMEOUT", "no answer") is True
    assert await receiver.finish(command_id, "ACCEPTED", "late answer") is False  # once
    async with deps.db.unit_of_work() as uow:
        expires = await uow.session.scalar(select(RoamingAuthorization.expires_at))
        queued = await uow.session.scalar(select(func.count(OcpiOutboxRow.id)))
        outcome = (
            await uow.session.execute(
                select(RoamingCommand.status, RoamingCommand.result).where(
                    RoamingCommand.id == command_id
                )
            )
        ).one()
    assert expires == T0 + timedelta(minutes=2)
    assert queued == 1
    assert tuple(outcome) == ("done", "TIMEOUT")
