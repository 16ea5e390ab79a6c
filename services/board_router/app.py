"""Composition root of the board router."""

import asyncio
import contextlib

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from board_router.events import ROUTED, decode_record_event, decode_verdict
from board_router.handlers import Router
from board_router.storage import RouterStorage
from shared.boards import shipped_boards
from shared.consumer import subscribe_batches
from shared.db import create_pool, migrate
from shared.kafka import ensure_topics, row_publisher
from shared.outbox import Outbox, OutboxRelay, OutboxWriter
from shared.service import Running, worker_app
from shared.service_registry import BOARD_ROUTER
from shared.settings import Settings
from shared.topics import BOARD_RESPONSES, RECORD_EVENTS, ROUTER_RECORDS, ROUTER_VERDICTS, board_requests, dead_letters

SERVICE = BOARD_ROUTER.name


async def setup(settings: Settings, broker: KafkaBroker) -> Running:
    schema = settings.schema(BOARD_ROUTER.schema)
    pool = await create_pool(settings.database_url, schema, max_size=4)
    await migrate(pool, schema, BOARD_ROUTER.package)
    boards = [b.code for b in shipped_boards().values() if b.needs_board]
    await ensure_topics(settings, [RECORD_EVENTS, BOARD_RESPONSES, dead_letters(SERVICE),
                                   *(board_requests(b) for b in boards)])
    outbox, publish = Outbox(schema), row_publisher(broker)
    writer = OutboxWriter(pool, outbox, publish)
    router = Router(RouterStorage(pool, writer), settings)
    subscribe_batches(
        broker, settings, service=SERVICE, topics=[settings.topic(RECORD_EVENTS.name)],
        group=settings.group(ROUTER_RECORDS.name), decode=decode_record_event,
        handle=router.on_record_events, only=ROUTED,
    )
    subscribe_batches(
        broker, settings, service=SERVICE, topics=[settings.topic(BOARD_RESPONSES.name)],
        group=settings.group(ROUTER_VERDICTS.name), decode=decode_verdict,
        handle=router.on_verdicts,
    )
    retries = asyncio.create_task(router.ask_again_forever(), name="ask-boards-again")

    async def stop_retries() -> None:
        retries.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retries

    return Running(pools=[pool], relays=[OutboxRelay(pool, outbox, publish)], on_stop=[stop_retries, writer.stop])


def build(settings: Settings | None = None) -> FastAPI:
    return worker_app(SERVICE, setup, settings)
