"""Upgrading from one consumer group per board (`pars.board-sim.<BOARD>`) to the one group `pars.board-sim`.

Kafka keeps committed offsets per group, so the new group would start from each request topic's earliest offset
and board-sim would read again every request Kafka still holds (harmless, docs/DESIGN-NOTES.md, but a flood of
repeated answers). At start, a new group that has committed nothing takes the old groups' offsets instead.
"""

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from shared.kafka import kafka_client_args
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)


def old_group(code: str) -> str:
    return f"pars.board-sim.{code}"


async def carry_over_offsets(settings: Settings, group: str, topics: Mapping[str, str]) -> int:
    """`topics`: each board's code and its request topic. Answers how many partitions' offsets were carried over;
    0 when the new group has offsets already (carried over before, or it has consumed) or no old group has any."""
    admin = AIOKafkaAdminClient(**kafka_client_args(settings), client_id="pars-board-sim")
    await admin.start()
    try:
        if await admin.list_consumer_group_offsets(group):
            return 0
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for code, topic in topics.items():
            found = await admin.list_consumer_group_offsets(settings.group(old_group(code)))
            offsets |= {tp: OffsetAndMetadata(at.offset, "") for tp, at in found.items()
                        if tp.topic == topic and at.offset >= 0}
    finally:
        await admin.close()
    if not offsets:
        return 0
    # A commit outside the group's generation, as kafka-consumer-groups --reset-offsets does: the group has no
    # member yet (if another instance joined meanwhile the broker refuses it, and that instance carried them over).
    await commit_offsets(settings, group, offsets)
    log.info("offsets carried over from the per-board groups", group=group, partitions=len(offsets))
    return len(offsets)


async def commit_offsets(settings: Settings, group: str,
                         offsets: Mapping[TopicPartition, int | OffsetAndMetadata]) -> None:
    """Commit `offsets` for `group` from outside its generation (the group must have no member)."""
    consumer = AIOKafkaConsumer(**kafka_client_args(settings), group_id=group,
                                enable_auto_commit=False, client_id="pars-board-sim")
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()
