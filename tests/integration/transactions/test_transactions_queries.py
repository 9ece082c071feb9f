"""Read services of the operator API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from tx_helpers import T0, Csms, iso

from borne.core.errors import InvalidInput, NotFound
from borne.transactions import service


async def test_list_filters_paginates_newest_first(csms: Csms) -> None:
    ids = []
    for i in range(5):
        answer = await csms.start16("CP1" if i < 3 else "CP2", connector=i + 1, tag=f"T{i}")
        ids.append(str(answer["transactionId"]))
    await csms.stop16("CP1", int(ids[0]))
    async with csms.deps.db.unit_of_work() as uow:
        page = await service.list_transactions(uow, limit=2)
        assert page.total == 5 and [t.transaction_id for t in page.items] == ids[:-3:-1]
        page2 = await service.list_transactions(uow, limit=2, offset=2)
        assert [t.transaction_id for t in page2.items] == [ids[2], ids[1]]
        cp1_active = await service.list_transactions(uow, station_id="CP1", active_only=True)
        assert cp1_active.total == 2
        assert {t.transaction_id for t in cp1_active.items} == {ids[1], ids[2]}
        with pytest.raises(InvalidInput):
            await service.list_transactions(uow, limit=0)


async def test_get_transaction_meter_values_and_energy(csms: Csms) -> None:
    tx_id = (await csms.start16("CP1", meter=1000))["transactionId"]
    await csms.v16(
        "CP1",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx_id,
            "meterValue": [
                {
                    "timestamp": iso(T0 + timedelta(minutes=m)),
                    "sampledValue": [
                        {"value": str(1000 + m * 100)},
                        {"value": "16", "measurand": "Current.Import", "unit": "A"},
                    ],
                }
                for m in (3, 1, 2)  # out of timestamp order
            ],
        },
    )
    tx = await csms.tx("CP1", tx_id)
    async with csms.deps.db.unit_of_work() as uow:
        view = await service.get_transaction(uow, tx.id)
        assert view.state == "active" and view.energy_wh is None
        # active: latest register by timestamp minus meter start
        assert await service.energy_delivered(uow, tx.id) == Decimal(300)
        page = await service.list_meter_values(
            uow, tx.id, measurand="Energy.Active.Import.Register", limit=2
        )
        assert page.total == 3
        assert [v.value for v in page.items] == [Decimal(1100), Decimal(1200)]
        everything = await service.list_meter_values(uow, tx.id)
        assert everything.total == 6
        with pytest.raises(NotFound):
            await service.get_transaction(uow, tx.id + 1000)
        with pytest.raises(NotFound):
            await service.list_meter_values(uow, tx.id + 1000)
    await csms.stop16("CP1", tx_id, meter=1250)
    async with csms.deps.db.unit_of_work() as uow:
        view = await service.get_transaction(uow, tx.id)
        assert view.energy_wh == Decimal(250)
        assert await service.energy_delivered(uow, tx.id) == Decimal(250)
