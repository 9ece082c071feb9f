"""Base classes of the generated OCPP message models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class OcppModel(BaseModel):
    """An OCPP object: snake_case attributes, camelCase on the wire.

    Payloads are validated against the official schema before they reach a model, so the model
    only converts; unknown fields that a lenient station sends are ignored here.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=False)

    def to_payload(self) -> dict[str, Any]:
        """The wire form: camelCase keys, no absent optionals, JSON-ready values."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class OcppOpenModel(OcppModel):
    """An object whose schema allows additional properties (2.0.1 ``CustomDataType``)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")
