"""Pure pieces of the stations domain: id rules, 1.6 connector mapping, report flattening."""

from __future__ import annotations

import pytest

from borne.core.errors import InvalidInput
from borne.ocpp.v201 import models as m201
from borne.stations.admin import validate_station_id
from borne.stations.ocpp_v16 import evse_of
from borne.stations.ocpp_v201 import flatten_report
from borne.stations.service import ReportedAttribute


@pytest.mark.parametrize("good", ["A", "CP-001", "x" * 48, "a.b_c~!$"])
def test_valid_station_ids(good: str) -> None:
    assert validate_station_id(good) == good


@pytest.mark.parametrize("bad", ["", "x" * 49, "a b", "a:b", "a/b", "tab\t", "\u00e9t\u00e9"])
def test_invalid_station_ids(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate_station_id(bad)


def test_v16_connectors_map_to_evses() -> None:
    assert evse_of(0) == (0, 0)
    assert evse_of(1) == (1, 1)
    assert evse_of(3) == (3, 1)


def test_report_flattening_and_keys() -> None:
    part = m201.NotifyReportRequest.model_validate(
        {
            "requestId": 1,
            "generatedAt": "2030-01-01T00:00:00Z",
            "seqNo": 0,
            "reportData": [
                {
                    "component": {"name": "EVSE", "evse": {"id": 2}},
                    "variable": {"name": "Power", "instance": "Max"},
                    "variableAttribute": [{"value": "22000"}, {"type": "Target", "value": "11000"}],
                    "variableCharacteristics": {
                        "dataType": "decimal",
                        "unit": "W",
                        "supportsMonitoring": True,
                    },
                }
            ],
        }
    )
    attrs = flatten_report(part.report_data)
    assert [a.key() for a in attrs] == [
        ("EVSE", "", 2, 0, "Power", "Max", "Actual"),
        ("EVSE", "", 2, 0, "Power", "Max", "Target"),
    ]
    assert attrs[0].unit == "W" and attrs[0].data_type == "decimal"
    assert flatten_report(None) == []
    assert ReportedAttribute("C", "V").key() == ("C", "", 0, 0, "V", "", "Actual")
