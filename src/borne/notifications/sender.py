"""The webhook sender: a supervised loop that delivers due outbox rows with httpx.

Each round claims due deliveries (a lease on ``next_attempt_at``), closes its database session,
posts them (at most ``concurrency`` at once), then records every outcome in one unit of work:
2xx → ``delivered``; anything else (status, timeout, connection error) → retried after an
exponential back-off, dead-lettered after ``max_attempts``. Every attempt is logged. Rows stay
in the database until delivered, so a restart resends whatever was pending; a crash during an
attempt resends it once the lease has passed. Delivery is therefore at-least-once: receivers
deduplicate on the event id (``id`` in the body, ``Borne-Event-Id`` header).

The same loop runs the reconciliation sweep (``reconcile``) at its start and then every
``reconcile_interval_s``: ``session.started`` / ``session.ended`` deliveries that a crash kept
the live path from writing are written then. A failing sweep is logged and tried again at the
next interval; it never stops delivery.

Redirects are not followed (a 3xx is a failure), and nothing of the receiver's answer but its
status code is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import datetime, timedelta

import httpx

from borne.core.deps import Deps
from borne.notifications import service
from borne.notifications.config import NotificationsConfig
from borne.notifications.reconcile import reconcile_sessions
from borne.notifications.service import Due, Outcome
from borne.notifications.signing import HEADER, signature_header

log = logging.getLogger(__name__)

BATCH = 100
USER_AGENT = "Borne-Webhooks/1"


class WebhookSender:
    def __init__(
        self,
        deps: Deps,
        config: NotificationsConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._deps = deps
        self._config = config
        self._transport = transport
        self._wakeup = asyncio.Event()
        self.delivered = 0
        self.failed = 0
        self.reconciled = 0

    def wake(self) -> None:
        """New deliveries are due: look now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        """Supervised (``Supervisor.keep_running``): deliver until cancelled."""
        async with self._client() as client:
            next_sweep = 0.0
            while True:
                if time.monotonic() >= next_sweep:
                    await self._reconcile_logged()
                    next_sweep = time.monotonic() + self._config.reconcile_interval_s
                self._wakeup.clear()
                sent = await self.deliver_due(client)
                if sent < BATCH:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wakeup.wait(), timeout=self._config.poll_interval_s
                        )

    async def reconcile(self, *, now: datetime | None = None) -> int:
        """One reconciliation sweep (``reconcile``); returns how many deliveries it wrote."""
        new = await reconcile_sessions(self._deps, self._config, now=now or self._deps.clock.now())
        self.reconciled += new
        return new

    async def _reconcile_logged(self) -> None:
        try:
            await self.reconcile()
        except Exception:  # the sweep is a safety net: delivery goes on, it runs again later
            log.exception("webhook reconciliation sweep failed")

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._config.timeout_s,
            follow_redirects=False,
            transport=self._transport,
            headers={"User-Agent": USER_AGENT},
        )

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """One round: claim, send, record. Returns how many deliveries were attempted."""
        now = self._deps.clock.now()
        lease = timedelta(seconds=self._config.timeout_s + 30)
        async with self._deps.db.unit_of_work() as uow:
            due = await service.claim_due(uow, now=now, lease=lease, limit=BATCH)
            await uow.commit()
        if not due:
            return 0
        gate = asyncio.Semaphore(max(1, self._config.concurrency))

        async def one(item: Due) -> Outcome:
            async with gate:
                return await self._send(client, item)

        outcomes = await asyncio.gather(*(one(d) for d in due))
        async with self._deps.db.unit_of_work() as uow:
            await service.record_outcomes(uow, outcomes)
            await uow.commit()
        return len(due)

    async def _send(self, client: httpx.AsyncClient, item: Due) -> Outcome:
        body = item.body.encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Borne-Event-Id": item.event_id,
            "Borne-Event-Type": item.event_type,
            "Borne-Delivery-Attempt": str(item.attempt),
            HEADER: signature_header(item.secret, body, stamp),
        }
        started = time.monotonic()
        code: int | None = None
        error: str | None = None
        try:
            response = await client.post(item.url, content=body, headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:255]
        except Exception as exc:  # an odd URL or transport bug: counted as a failed attempt
            log.exception("webhook delivery %d failed unexpectedly", item.delivery_id)
            error = f"{type(exc).__name__}"
        elapsed = int((time.monotonic() - started) * 1000)
        at = self._deps.clock.now()
        ok = error is None
        if ok:
            self.delivered += 1
            retry_at = None
        else:
            self.failed += 1
            retry_at = self._retry_at(item.attempt, at)
            log.warning(
                "webhook %s (%s) to subscription url failed on attempt %d: %s%s",
                item.event_type,
                item.event_id,
                item.attempt,
                error,
                "" if retry_at is not None else "; dead-lettered",
            )
        return Outcome(item.delivery_id, item.attempt, at, ok, code, error, elapsed, retry_at)

    def _retry_at(self, attempt: int, at: datetime) -> datetime | None:
        if attempt >= self._config.max_attempts:
            return None
        wait = min(
            self._config.backoff_base_s * 2 ** min(attempt - 1, 30), self._config.backoff_max_s
        )
        wait *= 1 + random.random() / 10  # spread retries of many rows apart
        return at + timedelta(seconds=wait)
