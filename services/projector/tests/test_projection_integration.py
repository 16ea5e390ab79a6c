"""The projector against a real PostgreSQL: redelivered and shuffled events leave the same rows."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from projector.events import decode_record_event
from projector.handlers import Projector
from projector.storage import SqlProjection
from shared.codes import pars_error
from shared.consumer import Delivery
from shared.db import create_pool, migrate
from shared.events import (
    DeleteSubmitted,
    Envelope,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordSubmitted,
    Target,
)
from shared.settings import Settings

pytestmark = pytest.mark.integration
RECORDS = 10_000


def record_lives(rng: random.Random) -> list[list[Envelope]]:
    """Each record's events in causal order: submitted, then accepted or rejected, sometimes deleted."""
    lives, start = [], datetime(2021, 11, 1, tzinfo=UTC)
    for i in range(RECORDS):
        rid, target = uuid4(), Target(kind="moc", code=rng.choice(["ABOHNS", "ABA", "ABIM"]))
        common = {"record_id": rid, "provider_id": f"000800{i % 3}", "correlation_id": str(rid)}
        at = start + timedelta(seconds=i)
        record = LearnerRecord(record_id=rid, submission_id=uuid4(), provider_id=common["provider_id"],
                               credit_id=f"ccid:{i}", activity_id=f"2100{i % 50:05d}", first_name="A",
                               last_name=f"L{i}", dob="01/01", completion_date=date(2021, 11, 2), target=target,
                               learner_id=str(i), credits=Decimal(1), credit_types={"Self-Assessment": Decimal(1)})
        life: list[Envelope] = [RecordSubmitted(record=record, occurred_at=at, **common)]
        fate = rng.random()
        if fate < 0.5:
            life.append(RecordAccepted(target=target, response_id=uuid4(), occurred_at=at + timedelta(hours=1),
                                       **common))
            if rng.random() < 0.3:
                life.append(DeleteSubmitted(target=target, occurred_at=at + timedelta(hours=2), **common))
                if rng.random() < 0.5:
                    life.append(RecordDeleted(target=target, occurred_at=at + timedelta(hours=3), **common))
        elif fate < 0.8:
            life.append(RecordRejected(target=target, response_id=uuid4(), errors=[pars_error("661")],
                                       occurred_at=at + timedelta(hours=1), **common))
        lives.append(life)
    return lives


def interleave(lives: list[list[Envelope]], rng: random.Random) -> list[Envelope]:
    """All events in a random order that keeps each record's own events in their order."""
    queues = [list(life) for life in lives]
    order = [i for i, life in enumerate(lives) for _ in life]
    rng.shuffle(order)
    return [queues[i].pop(0) for i in order]


def in_batches(events: list[Envelope], size: int = 1000, step: int | None = None) -> list[list[Envelope]]:
    """Consecutive batches of `size`; with `step` < size they overlap, as a consumer's redelivery after a crash
    replays what the last batch had begun: a record's submission, applied, comes again with its verdict, new."""
    step = step or size
    return [events[i:i + size] for i in range(0, len(events), step)]


async def project(settings: Settings, schema_name: str, batches: list[list[Envelope]]) -> str:
    schema = settings.schema(schema_name)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, "projector")
        projector = Projector(SqlProjection(pool))
        for batch in batches:  # each message as the consumer decodes it off the topic
            await projector.on_record_events([Delivery(decode_record_event(e.to_bytes()), None) for e in batch])
        return await pool.fetchval(
            "SELECT md5(string_agg(r::text, '|' ORDER BY r.record_id)) FROM ("
            " SELECT record_id, provider_id, credit_id, activity_id, board, first_name, last_name, dob, learner_id,"
            " completion_date, submitted_at, credits, credit_types, status, errors, deleted, updated_at"
            " FROM records) r")
    finally:
        await pool.close()


async def test_redelivered_and_shuffled_events_leave_the_same_rows(settings: Settings) -> None:
    rng = random.Random(6)
    lives = record_lives(rng)
    once = [e for life in lives for e in life]
    twice = interleave(lives, rng) + interleave(lives, rng)  # every event delivered twice, shuffled
    checksum_once = await project(settings, "proj_once", in_batches(once))
    checksum_twice = await project(settings, "proj_twice", in_batches(twice))
    assert checksum_once == checksum_twice and checksum_once is not None


def resubmitted(life: list[Envelope]) -> list[Envelope]:
    """The life with a second submission of the record (another event, other values) just before its verdict:
    it changes nothing, whether the batch applying it finds the row or makes it."""
    first = life[0]
    assert isinstance(first, RecordSubmitted)
    again = first.model_copy(update={"event_id": uuid4(), "record": first.record.model_copy(
        update={"first_name": "Other", "credits": Decimal(2)})})
    return [first, again, *life[1:]]


async def test_rows_a_batch_makes_and_rows_it_finds_end_alike(settings: Settings) -> None:
    """A record's events all in one batch (the row is made with its verdict), each in a batch of its own (the
    row is found and changed), and in overlapping batches (a submission seen again with a new verdict)."""
    rng = random.Random(7)
    lives = [resubmitted(life) if i % 3 == 0 else life for i, life in enumerate(record_lives(rng)[:2000])]
    shuffled = interleave(lives, rng)
    one_batch = await project(settings, "proj_one", [shuffled])
    assert one_batch is not None
    assert await project(settings, "proj_small", in_batches(shuffled, 3)) == one_batch
    assert await project(settings, "proj_overlap", in_batches(shuffled, 400, 150)) == one_batch
