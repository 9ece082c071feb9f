"""The OCPI outbox sender: a supervised loop delivering due ``ocpi_outbox`` rows (R33).

Each round claims due rows (one per partner and key: the oldest pending one, see
``borne.ocpi.outbox``), closes its transaction, sends them (at most ``concurrency`` at once,
different keys in parallel), then records every outcome in one transaction:

- success (HTTP 2xx and OCPI 1xxx) → ``delivered``;
- a retryable failure (network, timeout, HTTP 5xx/401/408/429, OCPI 3xxx/4xxx, a resolver
  error) → tried again after an exponential back-off (``backoff_base_s`` doubling up to
  ``backoff_max_s``, +0 to 10 % jitter), and given up (``failed``) after ``max_attempts``
  attempts; ``max_attempts=None`` retries forever;
- a permanent failure (the partner rejected the request: HTTP 4xx, OCPI 2xxx, a reply that is
  not an envelope) or a resolver answering None (partner gone, no such endpoint) → ``failed``
  at once, with the reason in ``last_error``.

A failed row waits for an operator's replay and does not hold back later rows of its key.
State lives only in the database: a restarted sender continues where the last one stopped. A
crash between sending and recording resends the row once its lease has passed, so delivery is
at-least-once; OCPI PUT/PATCH with ``last_updated`` make a repeat harmless on the partner's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from borne.core.clock import Clock
from borne.core.uow import Database
from borne.ocpi import outbox
from borne.ocpi.client import OcpiClient, OcpiClientError
from borne.ocpi.outbox import Due, EndpointResolver, Outcome, ResolvedTarget

log = logging.getLogger(__name__)


class DeliveryObserver(Protocol):
    async def after_round(self, results: Sequence[tuple[Due, Outcome]]) -> None:
        """Told the outcome of every attempt of a round, after it is recorded (partner
        health, repairs such as a PUT after a PATCH of an object the partner lacks)."""
        ...


class OutboxSender:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        client: OcpiClient,
        resolver: EndpointResolver,
        *,
        poll_interval_s: float = 2.0,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 600.0,
        max_attempts: int | None = 30,
        concurrency: int = 8,
        batch: int = 100,
        lease_s: float | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        if max_attempts is not None and max_attempts < 1:
            raise ValueError("max_attempts must be >= 1 or None")
        self._db = db
        self._clock = clock
        self._client = client
        self._resolver = resolver
        self.observer = observer
        self._poll_interval_s = poll_interval_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_attempts = max_attempts
        self._concurrency = max(1, concurrency)
        self._batch = batch
        # Long enough for the slowest attempt to be recorded before anyone retries it.
        self._lease = timedelta(seconds=lease_s if lease_s is not None else client.timeout_s + 30)
        self._wakeup = asyncio.Event()
        self.delivered = 0
        self.retried = 0
        self.failed = 0

    def wake(self) -> None:
        """Rows were committed: look now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        """Supervised (``Supervisor.keep_running``): deliver until cancelled."""
        while True:
            self._wakeup.clear()
            if await self.deliver_due() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval_s)

    async def deliver_due(self, limit: int | None = None) -> int:
        """One round: claim, send, record. Returns how many rows were attempted."""
        now = self._clock.now()
        async with self._db.unit_of_work() as uow:
            due = await outbox.claim_due(
                uow.session, now=now, lease=self._lease, limit=limit or self._batch
            )
            await uow.commit()
        if not due:
            return 0
        targets: dict[tuple[int, str, str], ResolvedTarget | Exception | None] = {}
        for item in due:  # one resolution per partner, module and interface per round
            k = (item.partner_id, item.module, item.interface)
            if k not in targets:
                try:
                    targets[k] = await self._resolver.resolve(*k)
                except Exception as exc:  # the roaming side failed (e.g. database): retry later
                    log.exception("OCPI outbox: resolving partner %d failed", item.partner_id)
                    targets[k] = exc
        gate = asyncio.Semaphore(self._concurrency)

        async def one(item: Due) -> Outcome:
            async with gate:
                return await self._send(item, targets[item.partner_id, item.module, item.interface])

        outcomes = list(await asyncio.gather(*(one(d) for d in due)))
        async with self._db.unit_of_work() as uow:
            await outbox.record_outcomes(uow.session, outcomes)
            await uow.commit()
        if self.observer is not None:
            try:
                await self.observer.after_round(list(zip(due, outcomes, strict=True)))
            except Exception:  # observing must never stop deliveries
                log.exception("OCPI outbox: the delivery observer failed")
        return len(due)

    async def _send(self, item: Due, resolved: ResolvedTarget | Exception | None) -> Outcome:
        if isinstance(resolved, Exception):
            reason = f"resolver error: {type(resolved).__name__}"
            return self._failure(item, reason, None, None, True)
        if resolved is None:
            reason = (
                f"partner {item.partner_id} is unknown or has no {item.module} "
                f"{item.interface} endpoint"
            )
            return self._failure(item, reason, None, None, False)
        url = item.url or _join(resolved.url, item.path)
        if url is None:
            reason = f"partner {item.partner_id} has no {item.module} {item.interface} endpoint"
            return self._failure(item, reason, None, None, False)
        try:
            reply = await self._client.request(
                item.method,
                url,
                token=resolved.token,
                token_base64=resolved.token_base64,
                content=None if item.body is None else item.body.encode(),
                routing=resolved.routing,
                correlation_id=item.correlation_id,
            )
        except OcpiClientError as exc:
            return self._failure(item, exc.message, exc.status_http, exc.status_code, exc.retryable)
        except Exception as exc:  # a transport bug must not stop the round
            log.exception("OCPI delivery %d failed unexpectedly", item.id)
            return self._failure(item, type(exc).__name__, None, None, True)
        self.delivered += 1
        return Outcome(
            item.id, self._clock.now(), True, reply.http_status, reply.status_code, None, None
        )

    def _failure(
        self,
        item: Due,
        error: str,
        http_status: int | None,
        status_code: int | None,
        retryable: bool,
    ) -> Outcome:
        at = self._clock.now()
        retry_at = self._retry_at(item.attempt, at) if retryable else None
        if retry_at is None:
            self.failed += 1
        else:
            self.retried += 1
        log.warning(
            "OCPI %s %s (delivery %d, key %s) to partner %d failed on attempt %d: %s%s",
            item.method,
            item.module,
            item.id,
            item.key,
            item.partner_id,
            item.attempt,
            error,
            "" if retry_at is not None else "; marked failed",
        )
        return Outcome(item.id, at, False, http_status, status_code, error, retry_at)

    def _retry_at(self, attempt: int, at: datetime) -> datetime | None:
        if self._max_attempts is not None and attempt >= self._max_attempts:
            return None
        wait = min(self._backoff_base_s * 2 ** min(attempt - 1, 30), self._backoff_max_s)
        wait *= 1 + random.random() / 10  # spread the retries of many rows apart
        return at + timedelta(seconds=wait)


def _join(base: str | None, path: str) -> str | None:
    """The partner's endpoint URL with the object's path appended (one slash between)."""
    if base is None:
        return None
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")
