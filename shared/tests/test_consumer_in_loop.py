"""Consumer handlers run on the event loop: no worker thread per batch to hand them their message."""

import json

import anyio.to_thread
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from shared.consumer import Delivery, subscribe_batches
from shared.settings import Settings


async def test_a_batch_reaches_its_handler_without_a_thread_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_threads(*_: object, **__: object) -> None:
        raise AssertionError("a consumer batch went through anyio's thread pool")

    settings = Settings(namespace="inloop")
    broker = KafkaBroker()
    got: list[Delivery[dict[str, int]]] = []

    async def handle(batch: list[Delivery[dict[str, int]]]) -> None:
        got.extend(batch)

    subscribe_batches(broker, settings, service="inloop", topics=["inloop.source"], group="inloop",
                      decode=json.loads, handle=handle)
    async with TestKafkaBroker(broker) as test_broker:
        monkeypatch.setattr(anyio.to_thread, "run_sync", no_threads)
        await test_broker.publish_batch(b'{"n": 1}', b'{"n": 2}', topic="inloop.source")
    assert [d.message for d in got] == [{"n": 1}, {"n": 2}]
    assert [d.record.value for d in got] == [b'{"n": 1}', b'{"n": 2}']
