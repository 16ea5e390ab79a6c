"""A consumer's offsets, committed after its batches are handled, at most once every COMMIT_EVERY_SECONDS.

Committing after every batch (FastStream's AckPolicy.ACK) cost an OffsetCommit request per batch: under load a
third of the broker's requests, each written to `__consumer_offsets` by the group coordinator, plus the service's
round trip before its next batch. Every handler is idempotent on its events' IDs (DESIGN: at-least-once, made
exactly-once in effect), so an offset committed a second later loses nothing: a process killed meanwhile leaves its
last second of batches to be redelivered, and the redelivery is a no-op. Offsets are still committed only once
their batch's work is durable, never before.

A stopping consumer commits what it handled before it leaves its group (`flush`, from the consumer's `stop`), and a
rebalance commits before the partitions go (the rebalance listener), so a clean stop or a scale-out redelivers
nothing.
"""

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from shared.logging import get_logger

log = get_logger(__name__)

COMMIT_EVERY_SECONDS = 1.0
STOP_COMMIT_SECONDS = 5.0  # a stopping consumer's last commit, when Kafka does not answer: then it is redelivered


class Commits(ConsumerRebalanceListener):  # type: ignore[misc]
    """The offsets a consumer has handled and not yet committed; committed within COMMIT_EVERY_SECONDS."""

    def __init__(self, every: float = COMMIT_EVERY_SECONDS) -> None:
        self._every = every
        self._consumer: AIOKafkaConsumer | None = None
        self._pending: dict[TopicPartition, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def handled(self, consumer: Any, records: Iterable[ConsumerRecord]) -> None:
        """These records' work is durable: their offsets are committed within COMMIT_EVERY_SECONDS. A consumer
        that is not aiokafka's (FastStream's test broker) has nothing to commit."""
        if not isinstance(consumer, AIOKafkaConsumer):
            return
        self._attach(consumer)
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if record.offset + 1 > self._pending.get(tp, -1):
                self._pending[tp] = record.offset + 1
        self._schedule()

    def _schedule(self) -> None:
        if self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._every, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        task = asyncio.create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Commit what was handled, now. A partition that is no longer this consumer's is left to its new owner,
        which reads it again from the last commit (idempotent handlers: harmless)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        consumer, pending = self._consumer, self._pending
        self._pending = {}
        if consumer is None or not pending:
            return
        mine = consumer.assignment()
        offsets = {tp: offset for tp, offset in pending.items() if tp in mine}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:  # rebalanced meanwhile: the new owner redelivers
            log.info("offsets not committed: partitions reassigned", error=repr(exc))
        except KafkaError as exc:
            log.warning("offsets not committed; the next commit covers them", error=repr(exc))
            for tp, offset in offsets.items():  # a later batch's offset, if any, is the greater one
                self._pending[tp] = max(offset, self._pending.get(tp, -1))
            self._schedule()

    def _attach(self, consumer: AIOKafkaConsumer) -> None:
        """The consumer whose offsets these are: its stop first commits them (FastStream stops it once its handler
        has finished the batch in hand, and aiokafka's own stop commits only what auto-commit would)."""
        if self._consumer is consumer:
            return
        self._consumer = consumer
        stop = consumer.stop

        async def stop_after_commit() -> Any:
            try:
                await asyncio.wait_for(self.flush(), STOP_COMMIT_SECONDS)
            except (TimeoutError, KafkaError) as exc:
                log.warning("offsets not committed at stop; they will be redelivered", error=repr(exc))
            return await stop()

        consumer.stop = stop_after_commit

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.flush()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        pass
