"""`pars projection rebuild` on real Kafka and PostgreSQL: the rebuilt tables hold what the projector made.

The log holds what the projector meets: records' lives in any interleaving, a second submission, events
delivered twice (the copy far behind), a verdict for a record never submitted, PARS's rejections (one twice,
under another event id). The rebuild folds records in a window and writes the rows older ones push out; a
window of a few records sends most verdicts and every late copy to records already written (the late path).
"""

import random
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

import projector.bulk_load
import projector.rebuild
from projector.events import decode_record_event
from projector.handlers import Projector
from projector.rebuild import rebuild
from projector.storage import SqlProjection
from projector.tests.test_pars_rejections_integration import rejected_by_pars
from projector.tests.test_projection_integration import interleave, record_lives, resubmitted
from shared.codes import pars_error
from shared.consumer import Delivery
from shared.db import create_pool, migrate
from shared.events import Envelope, RecordAccepted, Target
from shared.kafka import ensure_topics
from shared.service_registry import PROJECTOR
from shared.settings import Settings
from shared.topics import RECORD_EVENTS

pytestmark = pytest.mark.integration

CHECKSUMS = {
    "records": "SELECT md5(string_agg(r::text, '|' ORDER BY r.record_id)) FROM records r",
    "rejections": "SELECT md5(string_agg(r::text, '|' ORDER BY r.record_id)) FROM pars_rejections r",
    # The order column's values are the generation's own; each record's events in their order are what count.
    "timeline": "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (SELECT record_id::text || ':' || string_agg("
                "concat_ws(',', event_id, event_type, occurred_at, payload::text), ';' ORDER BY seq) AS t"
                " FROM record_events GROUP BY record_id) x",
}


def log(rng: random.Random) -> list[Envelope]:
    lives = [resubmitted(life) if i % 5 == 0 else life for i, life in enumerate(record_lives(rng)[:3000])]
    events = interleave(lives, rng)
    events += [e for e in events[:400] if rng.random() < 0.5]  # delivered again, long after
    stray = RecordAccepted(target=Target(kind="moc", code="ABA"), response_id=uuid4(), record_id=uuid4(),
                           provider_id="0008001", correlation_id="c")  # a verdict for no record the log has
    first, second = rejected_by_pars("Harper"), rejected_by_pars("Avery")
    other = first.model_copy(update={"event_id": uuid4(), "errors": [pars_error("999")]})
    return [stray, first, *events[:1000], second, other, first, *events[1000:]]


async def checksums(settings: Settings) -> dict[str, str]:
    pool = await create_pool(settings.database_url, settings.schema(PROJECTOR.schema), max_size=1)
    try:
        return {name: await pool.fetchval(sql) for name, sql in CHECKSUMS.items()}
    finally:
        await pool.close()


@pytest.mark.parametrize("window", [7, projector.bulk_load.WINDOW])
async def test_rebuilt_tables_equal_the_projected_ones(settings: Settings, window: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projector.bulk_load, "WINDOW", window)
    monkeypatch.setattr(projector.rebuild, "BATCH", 500)  # many batches, a record's events across several
    events = log(random.Random(window))
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema, max_size=1)
    await ensure_topics(settings, [RECORD_EVENTS])
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        await migrate(pool, schema, PROJECTOR.package)
        projector_ = Projector(SqlProjection(pool))
        for start in range(0, len(events), 250):  # the projector's way, as the consumer delivers the log
            batch = events[start:start + 250]
            await projector_.on_record_events([Delivery(decode_record_event(e.to_bytes()), None) for e in batch])
            for e in batch:
                await producer.send(settings.topic(RECORD_EVENTS.name), e.to_bytes(), key=str(e.record_id).encode())
        await producer.flush()
        projected = await checksums(settings)
        assert None not in projected.values()

        report = await rebuild(settings)

        assert (report.generation, report.events) == (2, len(events))
        assert report.records == await pool.fetchval("SELECT count(*) FROM records_g2")
        assert await checksums(settings) == projected
        # The projector goes on in the new generation: what it applied before changes nothing, new events land
        # after each record's rebuilt timeline.
        again = [Delivery(decode_record_event(e.to_bytes()), None) for e in events[-300:]]
        await projector_.on_record_events(again)
        assert await checksums(settings) == projected
        rebuilt_end = await pool.fetchval("SELECT max(seq) FROM record_events")
        later = record_lives(random.Random(99))[:20]
        for life in later:
            await projector_.on_record_events([Delivery(decode_record_event(e.to_bytes()), None) for e in life])
        assert await pool.fetchval("SELECT count(*) FROM records") == report.records + 20
        assert await pool.fetchval("SELECT min(seq) FROM record_events WHERE record_id = ANY($1::uuid[])",
                                   [life[0].record_id for life in later]) > rebuilt_end
    finally:
        await producer.stop()
        await pool.close()
