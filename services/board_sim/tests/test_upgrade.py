"""Upgrading from a group per board to one group: the new group starts where the old ones had committed."""

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from board_sim.upgrade import carry_over_offsets, commit_offsets, old_group
from shared.kafka import ensure_topics
from shared.settings import Settings
from shared.topics import board_requests

pytestmark = pytest.mark.integration


async def committed(settings: Settings, group: str, tps: list[TopicPartition]) -> list[int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        return [await consumer.committed(tp) for tp in tps]
    finally:
        await consumer.stop()


async def test_the_one_group_takes_the_per_board_groups_offsets_once(settings: Settings) -> None:
    codes = ("ABA", "ABIM", "ABS")
    await ensure_topics(settings, [board_requests(c) for c in codes])
    topics = {c: settings.topic(board_requests(c).name) for c in codes}
    aba = [TopicPartition(topics["ABA"], p) for p in range(3)]
    abim = TopicPartition(topics["ABIM"], 0)
    await commit_offsets(settings, settings.group(old_group("ABA")), dict(zip(aba, (5, 0, 7), strict=True)))
    await commit_offsets(settings, settings.group(old_group("ABIM")), {abim: 2})
    group = settings.group("pars.board-sim")

    assert await carry_over_offsets(settings, group, topics) == 4
    wanted = [*aba, abim, TopicPartition(topics["ABS"], 0)]
    assert await committed(settings, group, wanted) == [5, 0, 7, 2, None]  # ABS had nothing: earliest, as before

    await commit_offsets(settings, settings.group(old_group("ABIM")), {abim: 9})  # an old board-sim still running
    assert await carry_over_offsets(settings, group, topics) == 0  # the new group's own offsets are never replaced
    assert await committed(settings, group, [abim]) == [2]


async def test_a_new_deployment_has_nothing_to_carry_over(settings: Settings) -> None:
    await ensure_topics(settings, [board_requests("ABA")])
    assert await carry_over_offsets(settings, settings.group("pars.board-sim"),
                                    {"ABA": settings.topic(board_requests("ABA").name)}) == 0
