"""Typed shims over the untyped parts of the ``ocpp`` package the simulator uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ocpp.routing import after as _after
from ocpp.routing import on as _on

F = TypeVar("F", bound=Callable[..., Any])


def on(action: str) -> Callable[[F], F]:
    """``ocpp.routing.on``: the handler answers the CSMS's CALL (schema-validated both ways)."""
    return cast(Callable[[F], F], _on(action))


def after(action: str) -> Callable[[F], F]:
    """``ocpp.routing.after``: runs once the answer is sent; where side effects belong."""
    return cast(Callable[[F], F], _after(action))
