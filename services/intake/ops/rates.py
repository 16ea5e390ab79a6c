"""Messages per second on every topic of the stack, from the growth of their end offsets between two samples."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition

from intake.ops.kafka_admin import admin_client, logical, partitions, pipeline_topics, reader
from shared.settings import Settings


class RateMeter:
    def __init__(self, settings: Settings, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        self._settings, self._consumer, self._tps = settings, consumer, tps
        self._last: tuple[float, dict[str, int]] | None = None

    async def _ends(self) -> dict[str, int]:
        ends = await self._consumer.end_offsets(self._tps) if self._tps else {}
        totals: dict[str, int] = {}
        for tp, end in ends.items():
            totals[tp.topic] = totals.get(tp.topic, 0) + end
        return totals

    async def sample(self) -> dict[str, float]:
        """Each topic's messages/s since the previous sample (logical names; empty on the first)."""
        now, ends = time.monotonic(), await self._ends()
        last, self._last = self._last, (now, ends)
        if last is None or now <= last[0]:
            return {}
        return {logical(self._settings, t): round(max(n - last[1].get(t, n), 0) / (now - last[0]), 2)
                for t, n in ends.items()}


@asynccontextmanager
async def rate_meter(settings: Settings) -> AsyncIterator[RateMeter]:
    async with admin_client(settings) as admin:
        names = [settings.topic(n) for n in pipeline_topics(settings, await admin.list_topics())]
        parts = await partitions(admin, names)
    async with reader(settings) as consumer:
        meter = RateMeter(settings, consumer, [TopicPartition(t, p) for t, ps in parts.items() for p in ps])
        await meter.sample()
        yield meter
