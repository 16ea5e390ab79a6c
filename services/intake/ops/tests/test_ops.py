"""The operators' Kafka views on the real broker, and what they hide (HTTP: tests/e2e/test_ops_console.py)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from intake.errors import ApiError, install_error_handlers
from intake.keys import Principal
from intake.ops import kafka_admin, messages
from intake.ops.redaction import REDACTED, redact, shown_value
from intake.ops.router import ReplayRequest, current_operator, replay_board_responses, router
from shared.kafka import ensure_topics
from shared.logging import scrub_error_text
from shared.settings import Settings
from shared.topics import RECORD_EVENTS, dead_letters
from tests.support import free_port

RECORD = {"record_id": "r1", "first_name": "Harper", "dob": "11/11", "learner_id": "MD.205357",
          "target": {"kind": "state", "code": "LA"}}


def test_personal_fields_are_redacted_at_any_depth() -> None:
    moc = dict(RECORD, learner_id="19927", target={"kind": "moc", "code": "ABOHNS"})
    shown = redact({"event_type": "SubmitRecord", "record": RECORD, "others": [moc, {"license_id": "X1"}]})
    assert shown["record"] == dict(RECORD, dob=REDACTED, learner_id=REDACTED)  # a state learner ID is the licence
    assert shown["others"] == [dict(moc, dob=REDACTED), {"license_id": REDACTED}]  # a board ID is not


def test_error_texts_lose_the_input_pydantic_quotes() -> None:
    error = ("ValidationError: 1 validation error for SubmitRecord\nrecord\n  Field required [type=missing, "
             "input_value={'dob': '11/11', 'learner_id': 'MD.205357'}, input_type=dict]")
    assert "11/11" not in scrub_error_text(error) and "MD.205357" not in scrub_error_text(error)
    assert scrub_error_text(error).endswith(f"input_value={REDACTED}, input_type=dict]")
    assert "11/11" not in scrub_error_text("Invalid JSON [type=json_invalid, input_value='{\"dob\": \"11/11\"")


def test_values_that_are_not_json_objects_show_with_digits_masked() -> None:
    assert shown_value(json.dumps({"dob": "11/11"}).encode()) == {"value": {"dob": REDACTED}}
    assert shown_value(b"dob 11/11 licence MD.205357") == {
        "value": None, "value_text": "dob ##/## licence MD.######", "value_bytes": 27}
    assert shown_value(b'"11/11"')["value_text"] == '"##/##"'


async def publish(settings: Settings, topic: str, values: list[bytes], headers: dict[str, str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    # A millisecond apart each: two sent within one would tie on the timestamp the newest are picked by.
    start = int(time.time() * 1000)
    try:
        for i, value in enumerate(values):
            await producer.send_and_wait(settings.topic(topic), value, key=f"k{i}".encode(), timestamp_ms=start + i,
                                         headers=[(k, v.encode()) for k, v in headers.items()])
    finally:
        await producer.stop()


@pytest.mark.integration
async def test_streams_tail_and_lag_on_the_broker(settings: Settings) -> None:
    await ensure_topics(settings, [RECORD_EVENTS, dead_letters("projector")])
    values = [json.dumps({"event_type": "RecordSubmitted", "n": i, "record": RECORD}).encode() for i in range(8)]
    await publish(settings, RECORD_EVENTS.name, values, {"event_type": "RecordSubmitted"})

    streams = {s["name"]: s for s in await kafka_admin.streams(settings)}
    assert streams["pars.record-events"]["messages"] == 8
    assert streams["pars.record-events"]["partition_count"] == settings.kafka_partitions
    assert streams["pars.dlq.projector"]["exists"] and not streams["pars.submissions"]["exists"]
    assert streams["pars.record-events"]["topic"] == settings.topic("pars.record-events")

    tail = await messages.last_messages(settings, [settings.topic(RECORD_EVENTS.name)], 3)
    shown = [messages.view(settings, r) for r in tail]
    assert [m["value"]["n"] for m in shown] == [5, 6, 7]  # the newest, newest last
    assert {m["event_type"] for m in shown} == {"RecordSubmitted"}
    assert all(m["value"]["record"]["dob"] == REDACTED for m in shown)

    # The projector's group has read 2 of them: the rest is its lag.
    consumer = AIOKafkaConsumer(settings.topic(RECORD_EVENTS.name), group_id=settings.group("pars.projector"),
                                bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=2)
    await consumer.start()
    try:
        read = await consumer.getmany(timeout_ms=10_000, max_records=2)
        await consumer.commit({tp: records[-1].offset + 1 for tp, records in read.items()})
    finally:
        await consumer.stop()
    done = sum(len(records) for records in read.values())
    groups = {g["group"]: g for g in (await kafka_admin.lag(settings))["groups"]}
    projector = groups["pars.projector"]
    assert projector["exists"] and projector["topics"] == ["pars.record-events"]
    assert projector["lag"] == 8 - done and len(projector["partitions"]) == settings.kafka_partitions
    assert groups["pars.notifier"] == dict(groups["pars.notifier"], exists=False, lag=8)


@pytest.mark.integration
async def test_dead_letters_and_following_a_topic(settings: Settings) -> None:
    dlq = dead_letters("projector").name
    await ensure_topics(settings, [RECORD_EVENTS, dead_letters("projector")])
    await publish(settings, dlq, [b"not json 11/11"], {
        "dlq.error": "ValidationError: [type=json_invalid, input_value='not json 11/11', input_type=str]",
        "dlq.service": "projector", "dlq.source.topic": settings.topic(RECORD_EVENTS.name),
        "dlq.source.partition": "3", "dlq.source.offset": "41"})
    [letter] = [messages.dead_letter_view(settings, r)
                for r in await messages.last_messages(settings, [settings.topic(dlq)], 10)]
    assert letter["source"] == {"topic": "pars.record-events", "partition": 3, "offset": 41}
    assert letter["service"] == "projector" and "11/11" not in json.dumps(letter)

    follower = messages.follow(settings, settings.topic(RECORD_EVENTS.name))
    try:
        assert await anext(follower) == []  # positioned at the end
        assert await anext(follower) == []  # nothing old comes back
        await publish(settings, RECORD_EVENTS.name, [b'{"n": "new"}'], {"event_type": "RecordAccepted"})
        async with asyncio.timeout(15):
            while not (batch := await anext(follower)):
                pass
        assert [messages.view(settings, r)["value"] for r in batch] == [{"n": "new"}]
    finally:
        await follower.aclose()


@pytest.mark.integration
async def test_a_live_client_that_leaves_closes_its_consumer(settings: Settings,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    await ensure_topics(settings, [RECORD_EVENTS])
    open_readers: list[int] = []
    real_reader = messages.reader

    @asynccontextmanager
    async def counted(s: Settings) -> AsyncIterator[AIOKafkaConsumer]:
        open_readers.append(1)
        try:
            async with real_reader(s) as consumer:
                yield consumer
        finally:
            open_readers.pop()

    monkeypatch.setattr(messages, "reader", counted)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(ops_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as client, \
                client.stream("GET", "/v1/ops/streams/pars.record-events/live") as live:
            first = await anext(live.aiter_lines())
            assert first.startswith(": following pars.record-events") and open_readers == [1]
        async with asyncio.timeout(10):  # the client left: the server notices and stops the consumer
            while open_readers:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        server.should_exit = True
        await serving


def ops_app(settings: Settings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[current_operator] = lambda: Principal("operator", None)
    return app


async def test_a_second_replay_while_one_runs_is_refused(settings: Settings) -> None:
    lock = asyncio.Lock()
    async with lock:
        with pytest.raises(ApiError) as refused:
            await replay_board_responses(ReplayRequest(since=datetime(2021, 1, 1)), settings, lock)
    assert (refused.value.status, refused.value.code) == (409, "replay_running")
