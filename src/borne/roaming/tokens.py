"""Tokens module, CPO receiver side: store, update and read the tokens eMSPs push.

Rules (RELIABILITY R29, R30; OCPI transport "client owned objects"):

- A party writes and reads only under its own country_code/party_id (one of the roles of its
  credentials): another party's path answers HTTP 404 (the spec's advice), whatever exists.
- The object's country_code, party_id, uid and type must equal the path's (type: the ``type``
  query parameter, RFID when absent): else status 2001.
- A PUT or PATCH whose ``last_updated`` is older than the stored one changes nothing (answered
  as success: the newer state stays); a PUT equal to the stored token writes nothing.
- PATCH needs ``last_updated`` and an existing token (else 2001 / 2004); the merged object is
  validated as a whole before it is stored.

Values are validated per version: 2.2.1 knows four token types; in 2.3.0 TokenType is an open
enum (EMAID and future values are accepted). Unknown fields are kept in ``raw`` and echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.ocpi.envelope import ocpi_datetime, parse_ocpi_datetime
from borne.ocpi.errors import InvalidParameters, NotFoundError, UnknownToken
from borne.ocpi.party import Party
from borne.ocpi.versions import OcpiVersion
from borne.roaming.tokens_models import RoamingToken

TYPES_221 = frozenset({"AD_HOC_USER", "APP_USER", "OTHER", "RFID"})
WHITELIST = ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER")
_OPEN_ENUM = re.compile(r"^[A-Z0-9_]{1,32}$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")  # CiString: printable ASCII
_IDENTITY = ("country_code", "party_id", "uid", "type")


def _ocpi_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_ocpi_datetime(value)
        except ValueError:
            raise ValueError("not an OCPI DateTime") from None
    raise ValueError("must be a DateTime string")


def _ci(max_length: int, min_length: int = 1) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=_PRINTABLE.pattern)


OcpiTime = Annotated[datetime, BeforeValidator(_ocpi_time)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False)


class EnergyContract(_Model):
    supplier_name: Annotated[str, Field(min_length=1, max_length=64)]
    contract_id: Annotated[str | None, Field(max_length=64)] = None


class TokenObject(_Model):
    """An OCPI Token (2.2.1 / 2.3.0 share the fields; ``type`` is checked per version)."""

    country_code: Annotated[str, _ci(2, 2)]
    party_id: Annotated[str, _ci(3, 3)]
    uid: Annotated[str, _ci(36)]
    type: Annotated[str, Field(min_length=1, max_length=32)]
    contract_id: Annotated[str, _ci(36)]
    visual_number: Annotated[str | None, Field(max_length=64)] = None
    issuer: Annotated[str, Field(min_length=1, max_length=64)]
    group_id: Annotated[str | None, _ci(36)] = None
    valid: StrictBool
    whitelist: Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
    language: Annotated[str | None, Field(min_length=2, max_length=2)] = None
    default_profile_type: Literal["CHEAP", "FAST", "GREEN", "REGULAR"] | None = None
    energy_contract: EnergyContract | None = None
    last_updated: OcpiTime


def check_type(version: str, token_type: str) -> str:
    """A TokenType valid in ``version`` (2001 otherwise)."""
    if version == OcpiVersion.V221:
        if token_type not in TYPES_221:
            raise InvalidParameters(f"type must be one of {sorted(TYPES_221)}")
    elif not _OPEN_ENUM.match(token_type):
        raise InvalidParameters("type must be 1-32 characters A-Z, 0-9 or _")
    return token_type


def _validate(version: str, body: Any) -> TokenObject:
    if not isinstance(body, dict):
        raise InvalidParameters("the body must be a Token object")
    try:
        token = TokenObject.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidParameters(f"Invalid token: {where}: {first.get('msg')}{more}") from None
    check_type(version, token.type)
    return token


@dataclass(frozen=True)
class TokenPath:
    country_code: str
    party_id: str
    uid: str
    type: str  # "RFID" when the query parameter is absent

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.country_code.upper(), self.party_id.upper(), self.uid.upper(), self.type)


def check_path(version: str, party: Party, path: TokenPath) -> None:
    """R29: the path's party must be one of the caller's roles (404 otherwise)."""
    if len(path.country_code) != 2 or len(path.party_id) != 3 or not 1 <= len(path.uid) <= 36:
        raise InvalidParameters("country_code (2), party_id (3) or token_uid (<= 36) malformed")
    check_type(version, path.type)
    cc, pid = path.country_code.upper(), path.party_id.upper()
    if not any(r.country_code.upper() == cc and r.party_id.upper() == pid for r in party.roles):
        raise NotFoundError(f"{cc}/{pid} is not one of your roles")


def _check_identity(path: TokenPath, values: dict[str, Any]) -> None:
    """The object's identity fields, when present, must equal the path's (2001)."""
    expected = dict(zip(_IDENTITY, path.key, strict=True))
    for name in _IDENTITY:
        if name not in values:
            continue
        value = values[name]
        given = value.upper() if isinstance(value, str) and name != "type" else value
        if given != expected[name]:
            raise InvalidParameters(f"{name} in the body differs from the URL")


async def find(session: AsyncSession, path: TokenPath) -> RoamingToken | None:
    cc, pid, uid_key, token_type = path.key
    token: RoamingToken | None = await session.scalar(
        select(RoamingToken).where(
            RoamingToken.country_code == cc,
            RoamingToken.party_id == pid,
            RoamingToken.uid_key == uid_key,
            RoamingToken.type == token_type,
        )
    )
    return token


def _raw(token: TokenObject, body: dict[str, Any]) -> dict[str, Any]:
    """The object as stored and echoed: the body, with identity and time normalised."""
    raw = {k: v for k, v in body.items() if v is not None}  # null: absent (optional fields)
    raw["country_code"] = token.country_code.upper()
    raw["party_id"] = token.party_id.upper()
    raw["last_updated"] = ocpi_datetime(token.last_updated)
    return raw


def _apply(row: RoamingToken, token: TokenObject, raw: dict[str, Any], version: str) -> None:
    row.contract_id = token.contract_id
    row.visual_number = token.visual_number
    row.issuer = token.issuer
    row.group_id = token.group_id
    row.valid = token.valid
    row.whitelist = token.whitelist
    row.language = token.language
    row.default_profile_type = token.default_profile_type
    row.energy_contract = (
        None if token.energy_contract is None else token.energy_contract.model_dump()
    )
    row.raw = raw
    row.version = version
    row.last_updated = token.last_updated


async def put_token(
    session: AsyncSession,
    *,
    version: str,
    party: Party,
    path: TokenPath,
    body: Any,
    now: datetime,
) -> str:
    """Store a pushed token; returns ``created``, ``updated``, ``unchanged`` or ``stale``."""
    check_path(version, party, path)
    token = _validate(version, body)
    _check_identity(path, body)
    raw = _raw(token, body)
    row = await find(session, path)
    if row is None:
        cc, pid, uid_key, token_type = path.key
        row = RoamingToken(
            partner_id=party.partner_id,
            country_code=cc,
            party_id=pid,
            uid=token.uid,
            uid_key=uid_key,
            type=token_type,
            created_at=now,
            updated_at=now,
        )
        _apply(row, token, raw, version)
        session.add(row)
        await session.flush()
        return "created"
    if token.last_updated < row.last_updated:
        return "stale"  # R30: an older state never overwrites a newer one
    if row.raw == raw and row.partner_id == party.partner_id:
        return "unchanged"  # R30: a repeated PUT is a no-op
    _apply(row, token, raw, version)
    row.uid = token.uid
    row.partner_id = party.partner_id
    row.updated_at = now
    return "updated"


async def patch_token(
    session: AsyncSession,
    *,
    version: str,
    party: Party,
    path: TokenPath,
    body: Any,
    now: datetime,
) -> str:
    """Apply a partial update; returns ``updated``, ``unchanged`` or ``stale``."""
    check_path(version, party, path)
    if not isinstance(body, dict) or not body:
        raise InvalidParameters("the body must be a non-empty object")
    if "last_updated" not in body:
        raise InvalidParameters("a PATCH must carry last_updated")
    _check_identity(path, body)
    row = await find(session, path)
    if row is None:
        raise UnknownToken(f"token {path.uid} ({path.type}) is unknown")
    merged = {**row.raw, **body}
    token = _validate(version, merged)
    if token.last_updated < row.last_updated:
        return "stale"
    raw = _raw(token, merged)
    if raw == row.raw:
        return "unchanged"
    _apply(row, token, raw, version)
    row.partner_id = party.partner_id
    row.updated_at = now
    return "updated"


async def get_token(
    session: AsyncSession, *, version: str, party: Party, path: TokenPath
) -> dict[str, Any]:
    """The token as stored (2004 when unknown)."""
    check_path(version, party, path)
    row = await find(session, path)
    if row is None:
        raise UnknownToken(f"token {path.uid} ({path.type}) is unknown")
    return dict(row.raw)
