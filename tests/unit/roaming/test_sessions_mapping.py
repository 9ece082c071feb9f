"""OCPI Session objects and CDRs for partners, both versions, checked against the official
OpenAPI schemas (../shared/ocpi/openapi)."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from borne.cdrs.builder import CdrInput, build_cdr
from borne.cdrs.models import Cdr
from borne.cdrs.periods import MeterData, segment
from borne.roaming.cdrs import partner_cdr
from borne.roaming.sessions import (
    COMPLETED,
    COMPLETED_FIELDS,
    PROGRESS_FIELDS,
    CpoIdentity,
    SessionFacts,
    local_cdr_token,
    session_document,
    session_patch,
)
from borne.roaming.sessions_models import RoamingSession
from borne.tariffs import Amount

# Untyped libraries (no stubs installed): typed as Any on purpose.
yaml: Any = importlib.import_module("yaml")
jsonschema: Any = importlib.import_module("jsonschema")

OCPI = Path(__file__).resolve().parents[3] / ".." / "shared" / "ocpi"
OPENAPI = OCPI / "openapi"
needs_ocpi = pytest.mark.skipif(
    not OPENAPI.is_dir(), reason=f"OCPI OpenAPI files not found at {OPENAPI}"
)
VERSIONS = ("2.2.1", "2.3.0")
CPO = CpoIdentity("NL", "BRN")
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@cache
def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _inline(node: Any, base: Path) -> Any:
    """The schema with every ``$ref`` (file#/pointer) replaced by its target, recursively."""
    if isinstance(node, list):
        return [_inline(n, base) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        file, _, pointer = node["$ref"].partition("#")
        target_file = (base.parent / file).resolve() if file else base
        target: Any = _yaml(target_file)
        for part in pointer.strip("/").split("/"):
            target = target[part]
        return _inline(target, target_file)
    return {k: _inline(v, base) for k, v in node.items()}


def schema(version: str, module: str, name: str) -> dict[str, Any]:
    path = (OPENAPI / version / "modules" / module / "schema.yaml").resolve()
    out: dict[str, Any] = _inline(_yaml(path)["components"]["schemas"][name], path)
    return out


def check(doc: dict[str, Any], version: str, module: str, name: str) -> None:
    jsonschema.validate(json.loads(json.dumps(doc)), schema(version, module, name))


def facts(**over: Any) -> SessionFacts:
    base: dict[str, Any] = {
        "session_id": "42",
        "cpo": CPO,
        "start": T0,
        "end": None,
        "kwh": Decimal("3.21456"),
        "cdr_token": {
            "country_code": "DE",
            "party_id": "EMP",
            "uid": "04A1B2C3",
            "type": "EMAID",
            "contract_id": "DE-EMP-C12345678-X",
        },
        "auth_method": "AUTH_REQUEST",
        "authorization_reference": "REF-1",
        "location_id": "LOC-1",
        "evse_uid": "NL*BRN*E1",
        "connector_id": "1",
        "meter_id": "M-1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": T0,
        "total_cost": Amount(Decimal("1.20"), Decimal("1.452")),
    }
    return SessionFacts(**base | over)


PERIODS = (
    {
        "start_date_time": "2024-05-01T08:00:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 3.2146}, {"type": "TIME", "volume": 1}],
        "tariff_id": "T1",
    },
)


@needs_ocpi
@pytest.mark.parametrize("version", VERSIONS)
def test_active_and_completed_sessions_match_the_schema(version: str) -> None:
    active = session_document(facts(), version)
    check(active, version, "sessions", "Session")
    assert active["kwh"] == 3.2146 and active["status"] == "ACTIVE"
    assert "end_date_time" not in active and "charging_periods" not in active
    assert active["authorization_reference"] == "REF-1"
    # 2.2.1 has no EMAID token type
    assert active["cdr_token"]["type"] == ("APP_USER" if version == "2.2.1" else "EMAID")
    done = session_document(
        facts(end=T1, status=COMPLETED, charging_periods=PERIODS, last_updated=T1), version
    )
    check(done, version, "sessions", "Session")
    assert done["end_date_time"] == "2024-05-01T09:00:00Z"
    assert done["charging_periods"] == [dict(p) for p in PERIODS]


@needs_ocpi
def test_total_cost_per_version() -> None:
    assert session_document(facts(), "2.2.1")["total_cost"] == {"excl_vat": 1.2, "incl_vat": 1.452}
    assert session_document(facts(), "2.3.0")["total_cost"] == {
        "before_taxes": 1.2,
        "taxes": [{"name": "VAT", "amount": 0.252}],
    }
    # before-tax amount unknown (tax-inclusive 2.3.0 tariff): no total_cost rather than a wrong one
    unknown = facts(total_cost=Amount(None, Decimal("2.00")))
    for version in VERSIONS:
        doc = session_document(unknown, version)
        assert "total_cost" not in doc
        check(doc, version, "sessions", "Session")


@needs_ocpi
@pytest.mark.parametrize("version", VERSIONS)
def test_patches_match_the_session_patch_schema(version: str) -> None:
    progress = session_patch(facts(), version, PROGRESS_FIELDS)
    check(progress, version, "sessions", "SessionPatch")
    assert set(progress) == {"kwh", "currency", "total_cost", "last_updated"}
    final = session_patch(
        facts(end=T1, status=COMPLETED, charging_periods=PERIODS, last_updated=T1),
        version,
        COMPLETED_FIELDS,
    )
    check(final, version, "sessions", "SessionPatch")
    assert final["status"] == "COMPLETED" and final["charging_periods"]


@needs_ocpi
@pytest.mark.parametrize("version", VERSIONS)
def test_local_token_belongs_to_borne(version: str) -> None:
    token = local_cdr_token("tag-1", "ISO14443", CPO)
    assert token == {
        "country_code": "NL",
        "party_id": "BRN",
        "uid": "tag-1",
        "type": "RFID",
        "contract_id": "tag-1",
    }
    doc = session_document(
        facts(cdr_token=token, auth_method="WHITELIST", authorization_reference=None), version
    )
    check(doc, version, "sessions", "Session")
    assert "authorization_reference" not in doc
    assert local_cdr_token(None, "Central", CPO)["type"] == "OTHER"


def _stored_cdr(version: str) -> str:
    """A CDR as the CDR domain issues it (no tariff: zero cost)."""
    built = build_cdr(
        CdrInput(
            cdr_id="ABCDEF0123456789",
            station_id="CP1",
            transaction_id="7",
            evse_id=1,
            connector_id=1,
            id_token="04A1B2C3",
            id_token_type="ISO14443",
            remote_start_id=None,
            segmentation=segment(MeterData(T0, T1, Decimal(1000), Decimal(11000))),
            tariff=None,
            time_zone="UTC",
            issued_at=T1,
            location={
                "id": "LOC-1",
                "address": "Main street 1",
                "city": "Utrecht",
                "country": "NLD",
                "coordinates": {"latitude": "52.09000", "longitude": "5.12000"},
                "evse_uid": "NL*BRN*E1",
                "evse_id": "NL*BRN*E1",
                "connector_id": "1",
                "connector_standard": "IEC_62196_T2",
                "connector_format": "SOCKET",
                "connector_power_type": "AC_3_PHASE",
            },
        )
    )
    text = built.documents[version]  # type: ignore[index]
    assert text is not None
    return text


@needs_ocpi
@pytest.mark.parametrize("version", VERSIONS)
def test_partner_cdr_takes_borne_party_and_the_partner_token(version: str) -> None:
    text = _stored_cdr(version)
    cdr = Cdr(
        cdr_id=json.loads(text)["id"],
        transaction_pk=42,
        ocpi_221=text if version == "2.2.1" else None,
        ocpi_230=text,
    )
    row = RoamingSession(
        transaction_pk=42,
        token_country_code="DE",
        token_party_id="EMP",
        token_uid="04A1B2C3",
        token_type="EMAID",
        contract_id="DE-EMP-C12345678-X",
        auth_method="AUTH_REQUEST",
        authorization_reference="REF-9",
    )
    doc = partner_cdr(cdr, row, version, CPO)
    check(doc, version, "cdrs", "CDR")
    assert (doc["country_code"], doc["party_id"], doc["session_id"]) == ("NL", "BRN", "42")
    assert doc["cdr_token"]["party_id"] == "EMP"
    assert doc["cdr_token"]["type"] == ("APP_USER" if version == "2.2.1" else "EMAID")
    assert (doc["auth_method"], doc["authorization_reference"]) == ("AUTH_REQUEST", "REF-9")
    # amounts untouched
    assert doc["total_cost"] == json.loads(text)["total_cost"]


def test_partner_cdr_without_a_form_in_the_version() -> None:
    cdr = Cdr(cdr_id="X", transaction_pk=1, ocpi_221=None, ocpi_230="{}")
    with pytest.raises(LookupError):
        partner_cdr(cdr, RoamingSession(), "2.2.1", CPO)
