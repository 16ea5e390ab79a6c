"""The submission path (intake/submitting/) on the real Kafka and PostgreSQL: all or nothing, published at once
after the commit, left to the relay when Kafka fails, refused before anything is kept when it cannot be."""

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from intake.completions import idempotency
from intake.completions.idempotency import IdempotencyKey
from intake.completions.schemas import Completion, SubmissionAnswer
from intake.errors import ApiError
from intake.submitting import writer as submissions_module
from intake.submitting.completions import split_into_records, submit_once
from intake.submitting.messages import MAX_SUBMISSION_BYTES, submission
from intake.submitting.writer import Submissions
from intake.waiters import Waiters
from shared.db import create_pool, migrate
from shared.events import CreditTypeClaim, ReportedRecord
from shared.kafka import KafkaHealth, ensure_topics, kafka_answers, make_broker, row_publisher
from shared.outbox import Outbox, OutboxRelay, OutboxRow, PublishRows
from shared.service_registry import INTAKE
from shared.settings import Settings
from shared.topics import SUBMISSIONS

pytestmark = pytest.mark.integration

PROVIDER = "0008001"
BODY = {"activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": "2021-11-02", "cme": {"credits": 8, "state": "LA", "license_id": "MD.205357"},
        "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 8, "credit_types": {"Self-Assessment": 8}},
                {"board": "ABIM", "board_id": "1", "credits": 8, "credit_types": {"Medical Knowledge": 8}}]}


@dataclass
class Path:
    settings: Settings
    pool: asyncpg.Pool
    outbox: Outbox
    health: KafkaHealth
    publish: PublishRows

    def submissions(self, publish: PublishRows | None = None) -> Submissions:
        return Submissions(self.pool, self.outbox, publish or self.publish, self.health, self.settings, Waiters())

    async def outbox_rows(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT id, not_before <= now() AS due FROM outbox ORDER BY id")

    async def until_settled(self) -> None:
        """Until the writer's settler deleted what was published: it gathers the rows published within a moment into
        one DELETE, and tells nobody."""
        async with asyncio.timeout(10):
            while await self.outbox_rows():  # noqa: ASYNC110 - the settler tells nobody when it has deleted
                await asyncio.sleep(0.05)

    async def published(self, count: int, timeout: float = 20.0) -> list[UUID]:  # noqa: ASYNC109
        """The record IDs on pars.submissions, in log order, once `count` are there (or the time is out)."""
        consumer = AIOKafkaConsumer(self.settings.topic(SUBMISSIONS.name), auto_offset_reset="earliest",
                                    bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        got: list[UUID] = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while len(got) < count and asyncio.get_running_loop().time() < deadline:
                for batch in (await consumer.getmany(timeout_ms=300)).values():
                    got += [UUID(json.loads(m.value)["record"]["record_id"]) for m in batch]
        finally:
            await consumer.stop()
        return got


@pytest.fixture
async def path(settings: Settings) -> AsyncIterator[Path]:
    schema = settings.schema(INTAKE.schema)
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, INTAKE.package)
    await ensure_topics(settings, [SUBMISSIONS])
    broker = make_broker(settings, "test")
    await broker.start()
    try:
        yield Path(settings, pool, Outbox(schema), KafkaHealth(), row_publisher(broker))
    finally:
        await broker.stop()
        await pool.close()


def records(body: dict | None = None) -> list[ReportedRecord]:
    return split_into_records(Completion.model_validate(body or BODY), PROVIDER, uuid4())


async def kafka_is_down(_: Sequence[OutboxRow]) -> None:
    raise KafkaConnectionError("no broker answers")


async def test_a_submission_is_published_after_its_commit_and_leaves_the_outbox(path: Path) -> None:
    submitted = records()
    answers = await path.submissions().submit(submitted, "c1", wait_seconds=0)
    assert answers is not None  # no claim to refuse them
    assert [(a.record_id, a.status) for a in answers] == [(r.record_id, "Processing") for r in submitted]
    assert await path.published(3) == [r.record_id for r in submitted]  # in the completion's order
    await path.until_settled()  # every row leaves the outbox (a timeout here fails the test)


async def test_one_record_too_large_keeps_nothing_of_its_completion(path: Path) -> None:
    # The state record is fine; the second board's entry is too large for Kafka (the API's limits refuse such a
    # completion earlier: this is the last line, for whatever a channel lets through).
    state, first_board, second_board = records()
    huge = [CreditTypeClaim(name=f"Credit type {n}", points="1") for n in range(MAX_SUBMISSION_BYTES // 20)]
    too_large = second_board.model_copy(update={"credit_types": huge})
    with pytest.raises(ApiError) as refused:
        await path.submissions().submit([state, first_board, too_large], "c1", wait_seconds=0)
    assert refused.value.status == 413 and refused.value.code == "record_too_large"
    [detail] = refused.value.details
    assert (detail["target"], detail["field"]) == ("ABIM", "credit_types")
    assert "ABIM" in refused.value.message and "credit_types" in refused.value.message
    assert await path.outbox_rows() == []
    assert await path.published(1, timeout=2.0) == []


async def test_while_kafka_is_known_unreachable_a_submission_is_refused_with_503(path: Path) -> None:
    path.health.reachable = False
    with pytest.raises(ApiError) as refused:
        await path.submissions().submit(records(), "c1", wait_seconds=5)
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "5"}
    assert await path.outbox_rows() == []


async def test_when_kafka_fails_after_the_commit_the_relay_delivers_the_whole_submission(path: Path) -> None:
    submitted = records()
    answers = await path.submissions(publish=kafka_is_down).submit(submitted, "c1", wait_seconds=5)
    assert answers is not None  # no claim to refuse them
    assert [a.status for a in answers] == ["Processing"] * 3  # kept: the 202 is true
    rows = await path.outbox_rows()
    assert len(rows) == 3 and all(r["due"] for r in rows)  # handed to the relay at once
    relay = OutboxRelay(path.pool, path.outbox, path.publish)
    await relay.start()
    try:
        assert await path.published(3) == [r.record_id for r in submitted]
    finally:
        await relay.stop()
    assert await path.outbox_rows() == []


async def test_a_publish_that_takes_too_long_is_left_to_the_relay(path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    async def stuck(_: Sequence[OutboxRow]) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(submissions_module, "PUBLISH_SECONDS", 0.2)
    answers = await path.submissions(publish=stuck).submit(records(), "c1", wait_seconds=5)
    assert answers is not None  # no claim to refuse them
    assert [a.status for a in answers] == ["Processing"] * 3
    assert [r["due"] for r in await path.outbox_rows()] == [True] * 3


async def test_the_relay_leaves_a_submission_to_its_request_for_a_while(path: Path) -> None:
    messages = [submission(path.settings, r, "c1") for r in records()]
    async with path.pool.acquire() as conn, conn.transaction():
        await path.outbox.enqueue(conn, messages, notify=False, hand_over_after=submissions_module.HAND_OVER_SECONDS)
    relay = OutboxRelay(path.pool, path.outbox, path.publish)
    assert await relay.drain_once() == (0, pytest.approx(submissions_module.HAND_OVER_SECONDS, abs=2.0))
    assert [r["due"] for r in await path.outbox_rows()] == [False] * 3


async def test_an_idempotency_key_submits_a_completion_once(path: Path) -> None:
    completion = Completion.model_validate(BODY)
    key = idempotency.idempotency_key(PROVIDER, "retry-1", completion)
    assert key is not None
    first, replayed = await submit_once(path.submissions(), path.pool, records(), uuid4(), key, 0.0)
    assert not replayed
    again, replayed = await submit_once(path.submissions(), path.pool, records(), uuid4(), key, 0.0)
    assert replayed and again == first
    assert len(await path.published(6, timeout=3.0)) == 3  # the retry published nothing

    other = idempotency.idempotency_key(PROVIDER, "retry-1", Completion.model_validate(BODY | {"dob": "12/12"}))
    assert other is not None
    with pytest.raises(ApiError) as refused:
        await submit_once(path.submissions(), path.pool, records(), uuid4(), other, 0.0)
    assert refused.value.status == 422 and refused.value.code == "idempotency_key_reused"
    # Another provider's key of the same name is its own.
    elsewhere = IdempotencyKey("0008002", "retry-1", key.fingerprint)
    _, replayed = await submit_once(path.submissions(), path.pool, records(), uuid4(), elsewhere, 0.0)
    assert not replayed


async def test_concurrent_retries_with_one_key_make_one_submission(path: Path) -> None:
    key = idempotency.idempotency_key(PROVIDER, "together", Completion.model_validate(BODY))
    assert key is not None
    answers = await asyncio.gather(*(submit_once(path.submissions(), path.pool, records(), uuid4(), key, 0.0)
                                     for _ in range(5)))
    assert len({a.submission_id for a, _ in answers}) == 1
    assert sorted(replayed for _, replayed in answers) == [False, True, True, True, True]
    assert len(await path.published(15, timeout=3.0)) == 3


async def test_a_key_older_than_a_day_is_free_again_and_deleted(path: Path) -> None:
    key = idempotency.idempotency_key(PROVIDER, "old", Completion.model_validate(BODY))
    assert key is not None
    answer = SubmissionAnswer(submission_id=uuid4(), credit_id="c", records=[])
    async with path.pool.acquire() as conn:
        assert await idempotency.claim(conn, key, answer)
        assert not await idempotency.claim(conn, key, answer)
        await conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        assert await idempotency.claim(conn, key, answer)  # expired: claimed anew
        await conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    assert await idempotency.forget_expired(path.pool) == 1
    assert await path.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_the_kafka_probe_answers_while_the_broker_runs_and_not_once_it_stopped(settings: Settings) -> None:
    broker = make_broker(settings, "test")
    await broker.start()
    try:
        assert await kafka_answers(broker, 3.0)
    finally:
        await broker.stop()
    assert not await kafka_answers(broker, 1.0)
