"""Renewal before expiry: a supervised loop asks connected stations for a new CSR.

Every ``renewal_check_interval_s`` the newest accepted certificate of each station and type
that expires within ``renew_before_days`` gets a trigger (2.0.1 TriggerMessage
SignChargingStationCertificate / SignV2GCertificate, 1.6 ExtendedTriggerMessage
SignChargePointCertificate). The station answers with a SignCertificate, which issues the new
certificate (and so ends the renewal). A station that was asked is asked again only after
``renewal_retry_s``; one that is offline is asked once it is connected at a later round.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from borne.certificates import operations, service
from borne.certificates.config import CertificatesConfig
from borne.core.deps import Deps
from borne.core.errors import BorneError
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion

log = logging.getLogger(__name__)


class RenewalLoop:
    def __init__(self, deps: Deps, outbound: OcppOutbound, config: CertificatesConfig) -> None:
        self._deps = deps
        self._outbound = outbound
        self._config = config
        self.triggered = 0

    def start(self) -> None:
        """The starter for ``Runtime.starters`` (no-op when the interval is 0)."""
        if self._config.renewal_check_interval_s > 0:
            self._deps.supervisor.keep_running(self.run, name="certificate-renewal")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._config.renewal_check_interval_s)
            await self.check_once()

    async def check_once(self) -> int:
        """One round; returns how many stations were asked to renew."""
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            due = await service.due_for_renewal(
                uow,
                now=now,
                renew_before=timedelta(days=self._config.renew_before_days),
                retry_after=timedelta(seconds=self._config.renewal_retry_s),
            )
        asked = 0
        for item in due:
            version = self._outbound.version_of(item.station_id)
            if version is None:
                continue
            if version is OcppVersion.V16 and item.certificate_type != service.STATION_CERTIFICATE:
                continue  # 1.6 has no trigger for V2G certificates
            asked += await self._ask(item)
        return asked

    async def _ask(self, item: service.RenewalDue) -> int:
        try:
            result = await operations.request_renewal(
                self._outbound,
                item.station_id,
                certificate_type=item.certificate_type,
                call_timeout=self._config.call_timeout_s,
            )
        except BorneError as exc:
            log.info("renewal trigger to %s not delivered: %s", item.station_id, exc.code)
            return 0
        # Asked, whatever the answer: a refusal is retried after renewal_retry_s too.
        async with self._deps.db.unit_of_work() as uow:
            await service.mark_renewal_requested(
                uow, certificate_id=item.certificate_id, now=self._deps.clock.now()
            )
            await uow.commit()
        log.info(
            "asked %s to renew its %s (expires %s): %s",
            item.station_id,
            item.certificate_type,
            item.not_after.isoformat(),
            result.status,
        )
        self.triggered += 1
        return 1
