"""Operator API models of the id tokens (1.6 idTag, 2.0.1 idToken).

Creation and listing take the token's fields as they are; a PATCH changes only the fields it
carries: for ``expiry_date``, ``group_id_token``, ``label`` and ``notes`` an explicit ``null``
clears the value, while ``type`` and ``status`` cannot be null.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

from borne.authorization.models import IdToken
from borne.authorization.service import TokenStatus, TokenType

T = TypeVar("T")

# Printable characters only (no NUL, no control characters): what the service accepts as a
# token value, and what every database stores as text.
NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
MAX_TOKEN = 255
MAX_NOTES = 4000


def _storable(value: str) -> str:
    """Text every database stores: PostgreSQL refuses NUL characters in text columns."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date out of range") from None


TokenValue = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TOKEN, pattern=NO_CONTROL),
    AfterValidator(_storable),
]
Label = Annotated[str, Field(max_length=255), AfterValidator(_storable)]
Message = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_storable)]
Language = Annotated[str, Field(min_length=1, max_length=8, pattern=r"^[A-Za-z0-9-]+$")]
Notes = Annotated[str, Field(max_length=MAX_NOTES), AfterValidator(_storable)]
Expiry = Annotated[
    AwareDatetime,
    AfterValidator(_utc),
    Field(description="with a time zone; an Accepted token past it answers Expired"),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdTokenIn(Body):
    id_token: TokenValue = Field(description="the value; unique regardless of letter case")
    type: TokenType = "ISO14443"
    status: TokenStatus = "Accepted"
    expiry_date: Expiry | None = None
    group_id_token: TokenValue | None = Field(
        None, description="the group (1.6 parentIdTag, 2.0.1 groupIdToken)"
    )
    label: Label | None = None
    notes: Notes | None = None
    local_list: bool = Field(False, description="sent in stations' local authorization lists")
    master_pass: bool = Field(
        False, description="this token's value is a 2.0.1 master pass group id"
    )
    personal_message: Message | None = Field(None, description="2.0.1 message for the driver")
    personal_message_language: Language | None = None
    language1: Language | None = Field(None, description="2.0.1 preferred UI language")


class IdTokenPatch(Body):
    """Only the fields present change; ``null`` clears the optional ones."""

    type: TokenType | None = None
    status: TokenStatus | None = None
    expiry_date: Expiry | None = None
    group_id_token: TokenValue | None = None
    label: Label | None = None
    notes: Notes | None = None
    local_list: bool | None = None
    master_pass: bool | None = None
    personal_message: Message | None = None
    personal_message_language: Language | None = None
    language1: Language | None = None

    @field_validator("type", "status", "local_list", "master_pass")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only on values sent (not on the default): an explicit null is refused.
        if value is None:
            raise ValueError("must not be null")
        return value


class IdTokenOut(BaseModel):
    id_token: str
    type: str
    status: str = Field(description="the stored status")
    effective_status: str = Field(
        description="what an authorization would answer now: an Accepted token past its "
        "expiry date is Expired"
    )
    expiry_date: datetime | None
    group_id_token: str | None
    label: str | None
    notes: str | None
    local_list: bool
    master_pass: bool
    personal_message: str | None
    personal_message_language: str | None
    language1: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, token: IdToken, *, now: datetime) -> IdTokenOut:
        effective = token.status
        if effective == "Accepted" and token.expiry_date is not None and token.expiry_date < now:
            effective = "Expired"
        return cls(
            id_token=token.id_token,
            type=token.type,
            status=token.status,
            effective_status=effective,
            expiry_date=token.expiry_date,
            group_id_token=token.group_id_token,
            label=token.label,
            notes=token.notes,
            local_list=bool(token.local_list),
            master_pass=bool(token.master_pass),
            personal_message=token.personal_message,
            personal_message_language=token.personal_message_language,
            language1=token.language1,
            created_at=token.created_at,
            updated_at=token.updated_at,
        )


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
