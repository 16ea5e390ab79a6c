"""On PostgreSQL: the records hop's claim is its requests table (a request's id is its record's and action's), so an
event delivered again, in the same batch or later, asks its board nothing more, and an event that needs no board
writes nothing."""

from collections.abc import Sequence

import pytest

from board_router.handlers import Router
from board_router.storage import RouterStorage
from board_router.tests.test_router import answers, batch, deleted, learner_record, submitted, verdict
from shared.db import create_pool, migrate
from shared.events import ProcessBoardRequest
from shared.outbox import Outbox, OutboxRow, OutboxWriter
from shared.service_registry import BOARD_ROUTER
from shared.settings import Settings

pytestmark = pytest.mark.integration


async def test_each_request_is_kept_and_sent_once_however_often_its_event_comes(settings: Settings) -> None:
    schema = settings.schema(BOARD_ROUTER.schema)
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=2)
    sent: list[OutboxRow] = []

    async def publish(rows: Sequence[OutboxRow]) -> None:
        sent.extend(rows)

    writer = OutboxWriter(pool, Outbox(schema), publish)
    try:
        await migrate(pool, schema, BOARD_ROUTER.package)
        router = Router(RouterStorage(pool, writer), settings)
        first, second, boardless = learner_record(), learner_record(learner_id="4242"), learner_record()
        await router.on_record_events(batch(submitted(first), submitted(first), submitted(second),
                                            submitted(boardless, needs_board=False)))
        await router.on_record_events(batch(submitted(first), submitted(second)))  # delivered again
        await router.on_verdicts(answers(verdict(first, "add")))
        await router.on_record_events(batch(submitted(first)))  # again, after its board answered
        await router.on_record_events(batch(deleted(second), deleted(second)))
        await writer.stop()  # what was kept is sent

        requests = [ProcessBoardRequest.model_validate_json(r.value) for r in sent
                    if r.topic == settings.topic("pars.board.ABOHNS.requests")]
        assert sorted((q.record.record_id, q.action) for q in requests) == sorted(
            [(first.record_id, "add"), (second.record_id, "add"), (second.record_id, "delete")])
        assert await pool.fetchval("SELECT count(*) FROM requests") == 3
        assert await pool.fetchval("SELECT count(*) FROM routed_records") == 2  # not the record needing no board
        assert await pool.fetchval("SELECT count(*) FROM processed_events") == 0
        verdicts = [r for r in sent if r.topic == settings.topic("pars.record-events")]
        assert len(verdicts) == 1
    finally:
        await writer.stop()
        await pool.close()
