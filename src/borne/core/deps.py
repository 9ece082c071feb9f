"""The shared runtime pieces that domain handlers and services are given by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass

from borne.core.bus import EventBus
from borne.core.clock import Clock
from borne.core.group_commit import GroupCommitter
from borne.core.registry import ConnectionRegistry
from borne.core.supervisor import Supervisor
from borne.core.uow import Database


@dataclass(frozen=True)
class Deps:
    db: Database
    committer: GroupCommitter
    clock: Clock
    bus: EventBus
    registry: ConnectionRegistry
    supervisor: Supervisor
