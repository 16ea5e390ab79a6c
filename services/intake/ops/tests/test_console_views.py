"""The console's newer views on the real broker and PostgreSQL: browsing with filters, a record's story, group
members (Kafka 4's DescribeGroups answer), dead-letter actions done once, live tickets and lag trends."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from intake.ops import browse, dead_letter_actions, kafka_admin, live_tickets
from intake.ops.lag_history import LagHistory
from intake.ops.redaction import REDACTED
from intake.ops.tests.test_ops import RECORD, publish
from shared.db import create_pool, migrate
from shared.kafka import ensure_topics
from shared.service_registry import INTAKE
from shared.settings import Settings
from shared.topics import BOARD_RESPONSES, RECORD_EVENTS, SUBMISSIONS, dead_letters


def test_a_ticket_names_its_key_until_it_expires_and_cannot_be_forged(settings: Settings) -> None:
    ticket = live_tickets.issue(settings, "abc123", now=1000.0)
    assert "pars_" not in ticket and live_tickets.redeem(settings, ticket, now=1000.0 + 59) == "abc123"
    assert live_tickets.redeem(settings, ticket, now=1000.0 + 61) is None  # expired
    key_id, expires, signature = ticket.split(".")
    assert live_tickets.redeem(settings, f"other.{expires}.{signature}", now=1000.0) is None  # another key's
    assert live_tickets.redeem(settings, f"{key_id}.{int(expires) + 3600}.{signature}", now=1000.0) is None
    other_stack = settings.model_copy(update={"service_token": "another stack"})
    assert live_tickets.redeem(other_stack, ticket, now=1000.0) is None
    assert live_tickets.redeem(settings, "garbage", now=1000.0) is None


def test_lag_history_gives_each_group_and_partition_its_trend() -> None:
    history = LagHistory(keep=2)

    def answer(lag: int) -> dict:
        return {"groups": [{"group": "g", "lag": lag, "partitions": [{"topic": "t", "partition": 0, "lag": lag}]}]}

    for lag in (5, 3, 1):
        shown = history.add(answer(lag), at=datetime(2026, 1, 1, 0, 0, lag, tzinfo=UTC))
    assert [v for _, v in shown["groups"][0]["trend"]] == [3, 1]  # the newest two samples, oldest first
    assert shown["groups"][0]["partitions"][0]["trend"] == [3, 1] and shown["sampled"] == 2


def test_fields_are_found_at_any_depth_up_to_a_limit() -> None:
    value = {"record_id": "r1", "record": {"credit_id": "c1", "moc": [{"provider_id": "p1"}]}}
    assert browse.field_values(value, "record_id") == {"r1"}
    assert browse.field_values(value, "credit_id") == {"c1"}
    assert browse.field_values(value, "provider_id") == {"p1"}
    assert browse.field_values({"a": {"b": {"c": {"d": {"record_id": "deep"}}}}}, "record_id") == set()


def _event(record_id: str, event_type: str, n: int) -> bytes:
    return json.dumps({"event_type": event_type, "record_id": record_id, "n": n,
                       "record": dict(RECORD, record_id=record_id, credit_id=f"c{n}")}).encode()


@pytest.mark.integration
async def test_browsing_seeks_by_offset_and_time_and_filters(settings: Settings) -> None:
    await ensure_topics(settings, [RECORD_EVENTS])
    topic = settings.topic(RECORD_EVENTS.name)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    await publish(settings, RECORD_EVENTS.name, [_event(ids[i % 3], "RecordSubmitted", i) for i in range(6)],
                  {"event_type": "RecordSubmitted"})
    middle = int(time.time() * 1000)
    await asyncio.sleep(0.05)
    await publish(settings, RECORD_EVENTS.name, [_event(ids[0], "RecordAccepted", 10)],
                  {"event_type": "RecordAccepted"})

    newest = await browse.browse(settings, topic, limit=3)
    assert len(newest["messages"]) == 3 and newest["messages"][-1]["value"]["n"] == 10 and newest["complete"]
    assert newest["messages"][-1]["value"]["record"]["dob"] == REDACTED

    mine = await browse.browse(settings, topic, filters=browse.Filters(fields={"record_id": ids[0]}))
    assert [m["value"]["n"] for m in mine["messages"]] == [0, 3, 10] and mine["scanned"] == 7
    by_credit = await browse.browse(settings, topic, filters=browse.Filters(fields={"credit_id": "c4"}))
    assert [m["value"]["n"] for m in by_credit["messages"]] == [4]
    by_type = await browse.browse(settings, topic, filters=browse.Filters(event_type="RecordAccepted"))
    accepted = browse.Filters(header=browse.Filters.parse_header("event_type=RecordAccepted"))
    by_header = await browse.browse(settings, topic, filters=accepted)
    assert [m["value"]["n"] for m in by_type["messages"]] == [m["value"]["n"] for m in by_header["messages"]] == [10]
    by_key = await browse.browse(settings, topic, filters=browse.Filters(key="k0"))
    assert [m["value"]["n"] for m in by_key["messages"]] == [0, 10]  # k0 begins both sends

    since = await browse.browse(settings, topic, since=datetime.fromtimestamp(middle / 1000, UTC))
    assert [m["value"]["n"] for m in since["messages"]] == [10]
    partition = newest["messages"][-1]["partition"]
    at = await browse.browse(settings, topic, partition=partition, offset=0, limit=1)
    assert at["partitions"] == [partition] and at["messages"][0]["offset"] == 0
    with pytest.raises(LookupError):
        await browse.browse(settings, topic, partition=99)


@pytest.mark.integration
async def test_a_record_story_gathers_every_topic_that_names_it(settings: Settings) -> None:
    await ensure_topics(settings, [SUBMISSIONS, RECORD_EVENTS, BOARD_RESPONSES, dead_letters("projector")])
    record_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    await publish(settings, SUBMISSIONS.name, [_event(record_id, "SubmitRecord", 1), _event(other, "SubmitRecord", 2)],
                  {"event_type": "SubmitRecord"})
    await publish(settings, RECORD_EVENTS.name, [_event(record_id, "RecordSubmitted", 3)], {})
    await publish(settings, BOARD_RESPONSES.name, [_event(record_id, "BoardVerdict", 4)], {})
    await publish(settings, dead_letters("projector").name, [_event(record_id, "RecordAccepted", 5)], {})

    story = await browse.story(settings, record_id)
    assert [(m["topic"], m["value"]["n"]) for m in story["messages"]] == [
        ("pars.submissions", 1), ("pars.record-events", 3), ("pars.board-responses", 4), ("pars.dlq.projector", 5)]
    assert story["complete"] and other not in json.dumps(story["messages"])


@pytest.mark.integration
async def test_group_members_are_described_on_kafka_4(settings: Settings) -> None:
    await ensure_topics(settings, [RECORD_EVENTS])
    group = settings.group("pars.projector")
    consumer = AIOKafkaConsumer(settings.topic(RECORD_EVENTS.name), group_id=group, client_id="projector-test",
                                bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.assignment():  # noqa: ASYNC110 - joined once it has partitions
                await asyncio.sleep(0.2)
        async with kafka_admin.admin_client(settings) as admin:
            described = await kafka_admin.members(settings, admin, [group])
            parts = await kafka_admin.partitions(admin, [settings.topic(RECORD_EVENTS.name)])
        lag = {g["group"]: g for g in (await kafka_admin.lag(settings))["groups"]}
    finally:
        await consumer.stop()
    [member] = described[group]["members"]
    assert described[group]["state"] == "Stable" and member["client_id"] == "projector-test"
    assert member["assignment"] == [{"topic": "pars.record-events",
                                     "partitions": parts[settings.topic(RECORD_EVENTS.name)]}]
    assert lag["pars.projector"]["members"] == [member] and lag["pars.notifier"]["state"] == "absent"


@pytest.fixture
async def intake_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    schema = settings.schema(INTAKE.schema)
    pool = await create_pool(settings.database_url, schema, max_size=4)
    await migrate(pool, schema, INTAKE.package)
    yield pool
    await pool.close()


@pytest.mark.integration
async def test_a_dead_letter_is_redriven_once_however_often_asked(settings: Settings,
                                                                 intake_pool: asyncpg.Pool) -> None:
    dlq = dead_letters("projector")
    await ensure_topics(settings, [RECORD_EVENTS, dlq])
    source = settings.topic(RECORD_EVENTS.name)
    await publish(settings, dlq.name, [b'{"event_type": "RecordSubmitted", "dob": "11/11"}', b"no source"], {
        "dlq.error": "ValidationError", "dlq.service": "projector", "dlq.source.topic": source,
        "dlq.source.partition": "2", "dlq.source.offset": "7", "event_type": "RecordSubmitted"})
    producer = dead_letter_actions.new_producer(settings)
    await producer.start()
    try:
        # A double click: two at once, one re-drive.
        first, second = await asyncio.gather(*(dead_letter_actions.act(
            intake_pool, settings, producer, "key abc", "redrive", dlq.name, 0, 0) for _ in range(2)))
        again = await dead_letter_actions.act(intake_pool, settings, producer, "key other", "skip", dlq.name, 0, 0)
        with pytest.raises(dead_letter_actions.DeadLetterRefused, match="no dead letter"):
            await dead_letter_actions.act(intake_pool, settings, producer, "key abc", "skip", dlq.name, 0, 99)
        with pytest.raises(dead_letter_actions.DeadLetterRefused, match="not a dead-letter topic"):
            await dead_letter_actions.act(intake_pool, settings, producer, "key abc", "skip", RECORD_EVENTS.name, 0, 0)
        rest = await dead_letter_actions.act_on_all(intake_pool, settings, producer, "cli:ops", "skip", "projector")
    finally:
        await producer.stop()
    assert sorted([first.done, second.done]) == [False, True] and not again.done
    row = first.row if first.done else second.row
    assert row["action"] == "redrive" and row["operator"] == "key abc" and row["source_topic"] == "pars.record-events"
    assert again.row["action"] == "redrive"  # the first action holds
    assert rest == {"done": 1, "already": 1, "refused": 0}

    copies = await browse.browse(settings, source, filters=browse.Filters(header=("dlq.redriven.from", None)))
    [copy] = copies["messages"]
    assert copy["headers"] == {"event_type": "RecordSubmitted", "dlq.redriven.from": "pars.dlq.projector/0/0"}
    assert row["redriven_to"] == f"{copy['partition']}/{copy['offset']}"
    actions = await dead_letter_actions.recent_actions(intake_pool)
    assert [(a["dlq_offset"], a["action"], a["operator"]) for a in actions] == [(1, "skip", "cli:ops"),
                                                                               (0, "redrive", "key abc")]
