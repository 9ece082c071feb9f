"""The OCPI outbox and its sender against a real partner over HTTP, on SQLite and PostgreSQL (R33).

Per-key order under failures, back-off then success once the partner is back, a restart of
Borne (new engine, new sender, same database) delivering what was pending exactly once, give-up
after ``max_attempts`` and the operator's replay, a resolver that knows no target.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from http_partner import DictResolver, MovableClock, Peer
from sqlalchemy import select

from borne.core.bus import InProcessBus
from borne.core.db import create_engine, create_session_factory
from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.core.supervisor import Supervisor
from borne.core.uow import Database
from borne.ocpi import outbox
from borne.ocpi.client import OcpiClient
from borne.ocpi.headers import Routing
from borne.ocpi.outbox import ResolvedTarget
from borne.ocpi.outbox_models import OcpiOutboxRow
from borne.ocpi.sender import OutboxSender

TOKEN = "token-b-of-partner"
PARTNER = 7


def _database(url: str) -> Database:
    engine = create_engine(url)
    return Database(engine, create_session_factory(engine), InProcessBus(Supervisor()))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = _database(db_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def resolver(peer: Peer) -> DictResolver:
    r = DictResolver()
    r.targets[PARTNER, "sessions", "RECEIVER"] = ResolvedTarget(
        url=f"{peer.url}/sessions", token=TOKEN, token_base64=True, routing=Routing("DE", "ABC")
    )
    r.targets[PARTNER, "commands", "SENDER"] = ResolvedTarget(
        url=None, token=TOKEN, token_base64=False
    )
    return r


@pytest.fixture
def make_sender(
    db: Database, clock: MovableClock, client: OcpiClient, resolver: DictResolver
) -> Callable[..., OutboxSender]:
    def make(database: Database | None = None, **kwargs: Any) -> OutboxSender:
        options: dict[str, Any] = {"backoff_base_s": 10, "backoff_max_s": 60, "max_attempts": 5}
        options.update(kwargs)
        return OutboxSender(database or db, clock, client, resolver, **options)

    return make


async def _push(db: Database, clock: MovableClock, key: str, seq: int, **kwargs: Any) -> int:
    obj = key.split(":")[1]
    fields: dict[str, Any] = {
        "partner_id": PARTNER,
        "key": key,
        "method": "PUT",
        "module": "sessions",
        "interface": "RECEIVER",
        "path": f"NL/BRN/{obj}",
        "body": {"id": obj, "seq": seq, "kwh": Decimal("1.25")},
    }
    fields.update(kwargs)
    async with db.unit_of_work() as uow:
        delivery_id = await outbox.enqueue(uow.session, now=clock.now(), **fields)
        await uow.commit()
    return delivery_id


async def _drain(sender: OutboxSender, clock: MovableClock, rounds: int = 50) -> None:
    """Rounds until nothing is due, moving time past any back-off."""
    for _ in range(rounds):
        if await sender.deliver_due() == 0:
            clock.advance(120)
            if await sender.deliver_due() == 0:
                return


async def _rows(db: Database) -> list[OcpiOutboxRow]:
    async with db.unit_of_work() as uow:
        rows = list(await uow.session.scalars(select(OcpiOutboxRow).order_by(OcpiOutboxRow.id)))
        uow.session.expunge_all()  # keep them readable after the unit of work's rollback
        return rows


def _seqs(peer: Peer, path: str) -> list[int]:
    return [r.json()["seq"] for r in peer.on(path)]


async def test_push_is_sent_with_token_routing_and_exact_body(
    db: Database, clock: MovableClock, peer: Peer, make_sender: Callable[..., OutboxSender]
) -> None:
    await _push(db, clock, "sessions:S1", 1, correlation_id="corr-9")
    assert await make_sender().deliver_due() == 1

    (req,) = peer.on("/sessions/NL/BRN/S1")
    assert req.method == "PUT"
    assert req.body == b'{"id":"S1","seq":1,"kwh":1.25}'
    assert req.headers["authorization"] == "Token " + base64.b64encode(TOKEN.encode()).decode()
    assert req.headers["ocpi-to-party-id"] == "ABC"
    assert req.headers["x-correlation-id"] == "corr-9"
    (row,) = await _rows(db)
    assert (row.status, row.attempts, row.last_http_status, row.last_status_code) == (
        "delivered",
        1,
        200,
        1000,
    )
    assert row.delivered_at == clock.now()
    async with db.unit_of_work() as uow:
        assert await outbox.count_by_status(uow.session) == {
            "pending": 0,
            "delivered": 1,
            "failed": 0,
        }


async def test_enqueue_belongs_to_the_callers_transaction(
    db: Database, clock: MovableClock
) -> None:
    async with db.unit_of_work() as uow:
        await outbox.enqueue(
            uow.session,
            partner_id=PARTNER,
            key="sessions:S1",
            method="PUT",
            module="sessions",
            interface="RECEIVER",
            now=clock.now(),
        )
        # no commit: the change and its push roll back together
    assert await _rows(db) == []
    async with db.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            await outbox.enqueue(
                uow.session,
                partner_id=1,
                key="k",
                method="FETCH",
                module="m",
                interface="RECEIVER",
                now=clock.now(),
            )


async def test_order_per_key_under_failures(
    db: Database, clock: MovableClock, peer: Peer, make_sender: Callable[..., OutboxSender]
) -> None:
    for seq in (1, 2, 3):
        await _push(db, clock, "sessions:A", seq)
    await _push(db, clock, "sessions:B", 1)
    # the first two attempts on A fail (server error, then OCPI 3000)
    peer.fail_paths["/sessions/NL/BRN/A"] = [(503, 3000), (200, 3000)]
    sender = make_sender()

    assert await sender.deliver_due() == 2  # A1 (fails) and B1 in parallel, never A2
    assert _seqs(peer, "/sessions/NL/BRN/B") == [1]
    assert await sender.deliver_due() == 0  # A1 backs off and holds A2, A3 back
    clock.advance(15)
    assert await sender.deliver_due() == 1  # A1 again: fails
    await _drain(sender, clock)

    assert _seqs(peer, "/sessions/NL/BRN/A") == [1, 1, 1, 2, 3]
    rows = await _rows(db)
    assert [r.status for r in rows] == ["delivered"] * 4
    assert [r.attempts for r in rows] == [3, 1, 1, 1]


async def test_backoff_then_success_after_outage(
    db: Database,
    clock: MovableClock,
    peer: Peer,
    client: OcpiClient,
    resolver: DictResolver,
) -> None:
    """The supervised loop with real time: partner down, retried with back-off, then back."""
    from borne.core.clock import SystemClock

    sender = OutboxSender(
        db,
        SystemClock(),
        client,
        resolver,
        poll_interval_s=0.05,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
        max_attempts=None,
    )
    await peer.stop()
    for seq in (1, 2, 3):
        await _push(db, clock, "sessions:A", seq)
    await _push(db, clock, "sessions:B", 1)
    supervisor = Supervisor()
    supervisor.keep_running(sender.run, name="ocpi-outbox")
    try:
        for _ in range(200):
            if min(r.attempts for r in (await _rows(db))[:1]) >= 3:
                break
            await asyncio.sleep(0.02)
        assert sender.retried >= 3
        assert all(r.status == "pending" for r in await _rows(db))
        await peer.start()  # same port: the partner is back
        sender.wake()
        for _ in range(300):
            if all(r.status == "delivered" for r in await _rows(db)):
                break
            await asyncio.sleep(0.02)
    finally:
        await supervisor.shutdown()
    assert all(r.status == "delivered" for r in await _rows(db))
    assert _seqs(peer, "/sessions/NL/BRN/A") == [1, 2, 3]
    assert _seqs(peer, "/sessions/NL/BRN/B") == [1]
    assert supervisor.failures == 0


async def test_restart_delivers_pending_exactly_once(
    db_url: str,
    db: Database,
    clock: MovableClock,
    peer: Peer,
    make_sender: Callable[..., OutboxSender],
) -> None:
    for key in ("sessions:A", "sessions:B", "sessions:C"):
        for seq in (1, 2):
            await _push(db, clock, key, seq)
    await peer.stop()
    first = make_sender()
    assert await first.deliver_due() == 3  # the heads fail: connection refused
    # a crash right after claiming (nothing recorded): the claim must not lose the row
    clock.advance(15)
    async with db.unit_of_work() as uow:
        lost = await outbox.claim_due(
            uow.session, now=clock.now(), lease=timedelta(seconds=60), limit=1
        )
        await uow.commit()
    assert len(lost) == 1
    await db.dispose()  # Borne stops

    await peer.start()
    clock.advance(120)
    restarted = _database(db_url)
    try:
        await _drain(make_sender(restarted), clock)
        rows = await _rows(restarted)
    finally:
        await restarted.dispose()
    assert [r.status for r in rows] == ["delivered"] * 6
    for obj in "ABC":
        assert _seqs(peer, f"/sessions/NL/BRN/{obj}") == [1, 2]


async def test_failed_after_max_attempts_then_replay(
    db: Database, clock: MovableClock, peer: Peer, make_sender: Callable[..., OutboxSender]
) -> None:
    delivery = await _push(db, clock, "sessions:A", 1)
    later = await _push(db, clock, "sessions:A", 2)
    peer.fail_paths["/sessions/NL/BRN/A"] = [(503, 3000), (503, 3000)]
    sender = make_sender(max_attempts=2)
    assert await sender.deliver_due() == 1
    clock.advance(15)
    assert await sender.deliver_due() == 1  # second failure: given up
    assert _seqs(peer, "/sessions/NL/BRN/A") == [1, 1]

    async with db.unit_of_work() as uow:
        (failed,) = await outbox.list_deliveries(uow.session, status="failed")
    assert failed.id == delivery
    assert (failed.attempts, failed.last_http_status, failed.last_status_code) == (2, 503, 3000)
    assert failed.last_error is not None and "HTTP 503" in failed.last_error
    assert TOKEN not in failed.last_error
    assert not failed.superseded

    # a failed row does not hold its key back: the newer push goes
    assert await sender.deliver_due() == 1
    assert _seqs(peer, "/sessions/NL/BRN/A") == [1, 1, 2]
    async with db.unit_of_work() as uow:
        assert (await outbox.get_delivery(uow.session, delivery)).superseded
        assert (await outbox.get_delivery(uow.session, later)).status == "delivered"
        views = await outbox.list_deliveries(uow.session, partner_id=PARTNER)
        assert [v.id for v in views] == [later, delivery]  # newest first
        assert await outbox.list_deliveries(uow.session, partner_id=PARTNER + 1) == []

    # replaying it would send the old state over the newer one at the partner: refused
    async with db.unit_of_work() as uow:
        with pytest.raises(Conflict, match="superseded"):
            await outbox.replay(uow.session, delivery, clock.now())
        await uow.commit()
    assert await sender.deliver_due() == 0
    assert _seqs(peer, "/sessions/NL/BRN/A") == [1, 1, 2]

    async with db.unit_of_work() as uow:
        with pytest.raises(Conflict):
            await outbox.replay(uow.session, later, clock.now())  # delivered: not a failure
        with pytest.raises(NotFound):
            await outbox.replay(uow.session, 999_999, clock.now())
        with pytest.raises(InvalidInput):
            await outbox.list_deliveries(uow.session, status="lost")
        assert await outbox.purge_delivered(uow.session, before=clock.now()) == 0
        assert await outbox.purge_delivered(uow.session, before=clock.now() + timedelta(1)) == 1
        await uow.commit()


async def test_rejected_push_fails_at_once(
    db: Database, clock: MovableClock, peer: Peer, make_sender: Callable[..., OutboxSender]
) -> None:
    await _push(db, clock, "sessions:A", 1)
    peer.fail.append((200, 2001))  # the partner says the request itself is wrong
    assert await make_sender().deliver_due() == 1
    (row,) = await _rows(db)
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, 2001)


async def test_resolver_none_or_error(
    db: Database,
    clock: MovableClock,
    peer: Peer,
    resolver: DictResolver,
    make_sender: Callable[..., OutboxSender],
) -> None:
    await _push(db, clock, "tariffs:T1", 1, module="tariffs")
    await _push(db, clock, "sessions:X", 1, partner_id=PARTNER + 1)
    sender = make_sender()
    assert await sender.deliver_due() == 2
    rows = await _rows(db)
    assert [r.status for r in rows] == ["failed", "failed"]
    assert rows[0].last_error == f"partner {PARTNER} is unknown or has no tariffs RECEIVER endpoint"
    assert peer.requests == []

    # a resolver that raises (e.g. database trouble) is a transient failure
    await _push(db, clock, "sessions:S", 1)
    resolver.error = RuntimeError("boom")
    assert await sender.deliver_due() == 1
    row = (await _rows(db))[-1]
    assert (row.status, row.last_error) == ("pending", "resolver error: RuntimeError")
    resolver.error = None
    clock.advance(15)
    assert await sender.deliver_due() == 1
    assert (await _rows(db))[-1].status == "delivered"


async def test_command_result_to_absolute_url(
    db: Database, clock: MovableClock, peer: Peer, make_sender: Callable[..., OutboxSender]
) -> None:
    await _push(
        db,
        clock,
        "commands:START_SESSION:42",
        1,
        method="POST",
        module="commands",
        interface="SENDER",
        path="",
        url=f"{peer.url}/emsp/commands/START_SESSION/42",
        body={"result": "ACCEPTED"},
    )
    assert await make_sender().deliver_due() == 1
    (req,) = peer.on("/emsp/commands/START_SESSION/42")
    assert req.method == "POST"
    assert req.json() == {"result": "ACCEPTED"}
    assert req.headers["authorization"] == f"Token {TOKEN}"
    assert "ocpi-to-party-id" not in req.headers
