"""`python -m bench relay [--messages N]`: how fast one schema's outbox drains with one relay process and with two,
as with one and two instances of a service (a batch upload's messages are all its relay's).

One schema's outbox is filled with N due messages like a batch upload's (about 1.2 KB, keyed provider:credit ID);
then `relays` processes, each with its pool and producer as a service has, start their OutboxRelay at one signal,
and the time until the outbox is empty gives messages/s. Process start-up is not counted.
"""

import argparse
import asyncio
import multiprocessing
import time
from typing import Any

import asyncpg

from bench.table import Figure
from shared.db import create_pool, migrate, quote_schema
from shared.kafka import ensure_topics, make_broker, row_publisher
from shared.outbox import Outbox, OutboxMessage, OutboxRelay
from shared.settings import Settings
from shared.topics import TopicSpec
from tests.support import drop_namespaces_now, unique_namespace

TOPIC = TopicSpec("bench.relay", "provider_id:credit_id", (), ())
SCHEMA = "relaybench"
VALUE = b'{"event_type":"SubmitRecord","record":{' + b'"x":"' + b"r" * 1150 + b'"}}'  # a submission's size
HEADERS = {"event_type": "SubmitRecord", "correlation_id": "bench", "event_id": "00000000-0000-0000-0000-000000000000"}


async def _fill(settings: Settings, messages: int) -> None:
    schema = settings.schema(SCHEMA)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, "projector")  # any service's: the outbox is in the shared migrations
        await ensure_topics(settings, [TOPIC])
        outbox, topic = Outbox(schema), settings.topic(TOPIC.name)
        for start in range(0, messages, 1000):
            async with pool.acquire() as conn, conn.transaction():
                await outbox.enqueue(conn, [OutboxMessage(topic, VALUE, f"0008001:c{i}".encode(), HEADERS)
                                            for i in range(start, min(messages, start + 1000))], notify=False)
    finally:
        await pool.close()


async def _until_empty(settings: Settings, go: Any) -> float:
    """Signal the relays, then answer the seconds until the outbox is empty (looked at every 20 ms, one connection)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        table = f"{quote_schema(settings.schema(SCHEMA))}.outbox"
        began = time.perf_counter()
        go.set()
        while True:
            if not await conn.fetchval(f"SELECT EXISTS (SELECT FROM {table})"):
                return time.perf_counter() - began
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


def _relay_process(fields: dict[str, Any], ready: Any, go: Any, done: Any) -> None:
    asyncio.run(_run_relay(Settings(**fields), ready, go, done))


async def _run_relay(settings: Settings, ready: Any, go: Any, done: Any) -> None:
    schema = settings.schema(SCHEMA)
    pool = await create_pool(settings.database_url, schema)
    broker = make_broker(settings, "bench-relay")
    await broker.start()
    relay = OutboxRelay(pool, Outbox(schema), row_publisher(broker))
    ready.release()
    await asyncio.to_thread(go.wait)
    await relay.start()
    await asyncio.to_thread(done.wait)
    await relay.stop()
    await broker.stop()
    await pool.close()


def drain_rate(settings: Settings, relays: int, messages: int) -> float:
    """Messages/s `relays` relay processes drain a backlog of `messages` with."""
    asyncio.run(_fill(settings, messages))
    spawn = multiprocessing.get_context("spawn")
    ready, go, done = spawn.Semaphore(0), spawn.Event(), spawn.Event()
    fields = {"kafka_bootstrap_servers": settings.kafka_bootstrap_servers, "database_url": settings.database_url,
              "namespace": settings.namespace}
    workers = [spawn.Process(target=_relay_process, args=(fields, ready, go, done)) for _ in range(relays)]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            if not ready.acquire(timeout=120):
                raise SystemExit("a relay process did not start")
        return messages / asyncio.run(_until_empty(settings, go))
    finally:
        done.set()
        for worker in workers:
            worker.join(60)


def relay_figures(messages: int) -> list[Figure]:
    """The outbox relay's drain rate with one relay process and with two on one schema (the figure of issue 14)."""
    settings = Settings(namespace=unique_namespace("bench"))
    try:
        one = drain_rate(settings, 1, messages)
        two = drain_rate(settings, 2, messages)
    finally:
        drop_namespaces_now(settings.kafka_bootstrap_servers, settings.database_url)
    note = f"{messages:,} due messages of one schema, ≈1.2 KB each"
    return [Figure("outbox relay: 1 process", one, "messages/s", per_ceiling=True, note=note),
            Figure("outbox relay: 2 processes, one schema", two, "messages/s", per_ceiling=True,
                   note=f"{two / one:.2f}× one: they share the key buckets")]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench relay", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args(argv)
    for figure in relay_figures(args.messages):
        print(f"{figure.name}: {figure.value:,.0f} {figure.unit}  ({figure.note})")
