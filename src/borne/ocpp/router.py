"""Maps an inbound action to the domain handler that serves it, per OCPP version."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from borne.ocpp.context import CallContext
from borne.ocpp.model_base import OcppModel
from borne.ocpp.versions import OcppVersion, models_of

Req = TypeVar("Req", bound=OcppModel)
Resp = TypeVar("Resp", bound=OcppModel)
Handler = Callable[[CallContext, Any], Awaitable[OcppModel]]


class Router:
    """Handlers for one OCPP version.

    ``register("BootNotification", handler)``: the handler receives the typed request model
    (already schema-validated) and returns the typed response model.
    """

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        models = models_of(version)
        self.requests: dict[str, type[OcppModel]] = models.REQUESTS
        self.responses: dict[str, type[OcppModel]] = models.RESPONSES
        self._handlers: dict[str, Handler] = {}

    def register(self, action: str, handler: Callable[[CallContext, Req], Awaitable[Resp]]) -> None:
        if action not in self.requests:
            raise ValueError(f"{action} is not an {self.version} action")
        if action in self._handlers:
            raise ValueError(f"{action} already has a handler for {self.version}")
        self._handlers[action] = handler

    def handler_for(self, action: str) -> Handler | None:
        return self._handlers.get(action)

    def knows(self, action: str) -> bool:
        return action in self.requests

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self._handlers)
