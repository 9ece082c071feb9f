"""The CDR a partner receives: the stored, immutable OCPI CDR with the roaming identities.

The CDR domain stores each CDR as issued, in both versions, priced and immutable. What differs
for a partner is only who is who: the CDR's owner is Borne's CPO party, the token is the
partner's own (``cdr_token`` as the partner gave it, with how it was authorized and the
``authorization_reference`` the eMSP returned), and ``session_id`` names the Session the partner
received. Amounts, periods and tariffs are never touched, so the document a partner gets is the
one the explanation describes; credit CDRs go through the same adaptation.

DateTimes are written on the way out in OCPI's form (UTC, whole seconds, ``Z``: the same as
every other object Borne serves): the stored documents keep the stations' sub-second stamps,
which would exceed the DateTime type's 25 characters (microseconds make 27).
"""

from __future__ import annotations

import json
from typing import Any

from borne.cdrs.models import Cdr
from borne.roaming.sessions import CpoIdentity, row_cdr_token, session_id_of, wire_datetimes
from borne.roaming.sessions_models import RoamingSession


def stored_text(cdr: Cdr, version: str) -> str | None:
    """The stored document of ``version``; None when the CDR has no exact form in it (a
    tax-inclusive tariff has no 2.2.1 form)."""
    return cdr.ocpi_221 if version == "2.2.1" else cdr.ocpi_230


def partner_cdr(cdr: Cdr, row: RoamingSession, version: str, cpo: CpoIdentity) -> dict[str, Any]:
    """The OCPI CDR of ``version`` for the partner owning the session's token.

    Raises ``LookupError`` when the CDR has no form in ``version``."""
    text = stored_text(cdr, version)
    if text is None:
        raise LookupError(f"CDR {cdr.cdr_id} has no OCPI {version} form")
    doc: dict[str, Any] = wire_datetimes(json.loads(text))
    token = row_cdr_token(row)
    if version == "2.2.1" and token["type"] == "EMAID":
        token["type"] = "APP_USER"
    doc.update(
        country_code=cpo.country_code,
        party_id=cpo.party_id,
        session_id=session_id_of(cdr.transaction_pk),
        cdr_token=token,
        auth_method=row.auth_method,
    )
    if row.authorization_reference:
        doc["authorization_reference"] = row.authorization_reference
    return doc
