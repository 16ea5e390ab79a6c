"""Replaying board responses: re-read pars.board-responses from a time and re-apply every verdict.

Verdicts carry their own ids, and so do the record events the router makes of them, so a replay changes
nothing that already holds; whatever lost those events (a wiped or partly restored view) gets them back.
"""

import asyncio
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from board_router.events import decode_verdict
from board_router.handlers import Router
from board_router.storage import RouterStorage
from shared.consumer import Delivery
from shared.db import create_pool, migrate
from shared.kafka import kafka_client_args, make_broker, row_publisher
from shared.outbox import Outbox, OutboxRelay, OutboxWriter
from shared.service_registry import BOARD_ROUTER
from shared.settings import Settings
from shared.topics import BOARD_RESPONSES

BATCH = 1000


async def _assigned(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    async with asyncio.timeout(30):
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for it
            await asyncio.sleep(0.05)
    return sorted(consumer.assignment())


async def replay_board_responses(settings: Settings, since: datetime) -> int:
    """Re-apply every verdict the boards gave since `since`; answer how many were read."""
    schema = settings.schema(BOARD_ROUTER.schema)
    pool = await create_pool(settings.database_url, schema, max_size=2)
    # No group: every partition of the topic, and no offsets committed anywhere.
    consumer = AIOKafkaConsumer(settings.topic(BOARD_RESPONSES.name), enable_auto_commit=False,
                                **kafka_client_args(settings), client_id="pars-replay")
    broker = make_broker(settings, "replay")
    outbox, publish = Outbox(schema), row_publisher(broker)
    relay, writer = OutboxRelay(pool, outbox, publish), OutboxWriter(pool, outbox, publish)
    replayed = 0
    try:
        await migrate(pool, schema, "board_router")
        await consumer.start()
        await broker.start()
        await relay.start()
        partitions = await _assigned(consumer)
        starts = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = starts.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])
        router = Router(RouterStorage(pool, writer), settings)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            fetched = await consumer.getmany(*partitions, timeout_ms=1000, max_records=BATCH)
            verdicts = [Delivery(decode_verdict(r.value), r) for tp, records in fetched.items()
                        for r in records if r.offset < ends[tp]]
            if verdicts:
                await router.on_verdicts(verdicts, replay=True)
                replayed += len(verdicts)
        return replayed
    finally:
        await relay.stop()  # publishes what the replay left to it before it returns
        await writer.stop()
        await broker.stop()
        await consumer.stop()
        await pool.close()
