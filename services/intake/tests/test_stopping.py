"""Intake stops in the order that keeps every message (shared.service.worker_app): its consumers first, then the
outbox relay drains, then its chores end and the submission path clears the rows it published itself."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from intake.app import build
from intake.submitting.writer import Submissions
from shared.outbox import OutboxRelay
from shared.settings import Settings

pytestmark = pytest.mark.integration


def noting(events: list[str], what: str, stop: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    async def stopped() -> None:
        events.append(what)
        await stop()
    return stopped


def noting_method(events: list[str], what: str,
                  stop: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[None]]:
    async def stopped(self: Any) -> None:
        events.append(what)
        await stop(self)
    return stopped


async def test_consumers_stop_before_the_relay_drains_and_the_submission_path_stops_last(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    for cls, what in ((OutboxRelay, "relay"), (Submissions, "submission path")):
        monkeypatch.setattr(cls, "stop", noting_method(events, what, cls.stop))
    app = build(settings)
    async with app.router.lifespan_context(app):
        subscribers = app.state.broker.subscribers
        assert len(subscribers) == 2  # the waiters' outcomes (no group) and the batches' tally
        for subscriber in subscribers:
            subscriber.stop = noting(events, "consumer", subscriber.stop)
        chores = {t for t in asyncio.all_tasks() if t.get_name() in ("watch_kafka", "tidy_idempotency_keys")}
        assert len(chores) == 2  # started with the service
    # broker.stop() at the end asks its consumers to stop again, which does nothing more.
    assert events == ["consumer", "consumer", "relay", "submission path", "consumer", "consumer"]
    assert all(chore.done() for chore in chores)
