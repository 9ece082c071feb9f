"""Fixtures of the notifications tests: both versions' transaction handlers (``tx_helpers``), a
notifier wired to the bus, a sender over an in-memory HTTP receiver, subscriptions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "transactions"))

from notif_helpers import Receiver
from tx_helpers import Csms

from borne.core.deps import Deps
from borne.notifications.config import NotificationsConfig
from borne.notifications.sender import WebhookSender
from borne.notifications.subscribers import Notifier

CONFIG = NotificationsConfig(
    backoff_base_s=0.05,
    backoff_max_s=0.2,
    max_attempts=4,
    allow_http=True,
    ended_grace_s=0.3,
    idle_after_s=120,
    subscriptions_cache_s=0.0,
)


@pytest.fixture
async def csms(deps: Deps) -> Csms:
    c = Csms(deps)
    await c.token("TAG1")
    return c


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def sender(deps: Deps, receiver: Receiver) -> WebhookSender:
    return WebhookSender(deps, CONFIG, transport=receiver.transport())


@pytest.fixture
def notifier(deps: Deps, sender: WebhookSender) -> Notifier:
    n = Notifier(deps, CONFIG, wake=sender.wake)
    n.subscribe(deps.bus)
    return n


@pytest.fixture
async def running(deps: Deps, sender: WebhookSender, notifier: Notifier) -> WebhookSender:
    """The sender's loop runs (supervised, cancelled with the supervisor at teardown)."""
    deps.supervisor.keep_running(sender.run, name="webhook-sender")
    return sender
