"""Topic set-up against the real broker: what Kafka refuses stops the set-up instead of passing as created."""

import pytest

from shared.kafka import TopicsRefused, ensure_topics
from shared.settings import Settings
from shared.topics import ACTIVITIES

pytestmark = pytest.mark.integration


async def test_topics_kafka_cannot_replicate_are_refused_not_reported_created(settings: Settings) -> None:
    impossible = settings.model_copy(update={"kafka_replication_factor": 99})  # more replicas than any test cluster
    with pytest.raises(TopicsRefused, match=r"replication factor of 99 cannot be reached"):
        await ensure_topics(impossible, [ACTIVITIES])
    # Created as they should be, the same topics are made once and then found.
    assert await ensure_topics(settings, [ACTIVITIES]) == [settings.topic(ACTIVITIES.name)]
    assert await ensure_topics(settings, [ACTIVITIES]) == []
