"""A batch of verdicts finds its requests by their key, however few requests were open when the table was last
analyzed: with the partial index's predicate ("settled_at IS NULL") in the statement, PostgreSQL read every open
request for each batch; with "verdict_id IS NULL" as a condition of the table alone, it took none to be open, and
compared every open request with every verdict of the batch."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import pytest

from board_router.storage import RouterTablesSql
from shared.db import create_pool, migrate
from shared.outbox import Outbox, OutboxRow, OutboxWriter
from shared.service_registry import BOARD_ROUTER
from shared.settings import Settings
from tests.support import rows_read

pytestmark = pytest.mark.integration

_OPEN = ("INSERT INTO requests (request_id, record_id, board, action, correlation_id, provider_id, answer_due,"
         " settled_at, verdict_id) SELECT gen_random_uuid(), gen_random_uuid(), 'ABIM', 'add', 'c', 'p', now(),"
         " {settled}, {verdict} FROM generate_series(1, $1) RETURNING request_id")


async def _nowhere(rows: Sequence[OutboxRow]) -> None:  # nothing here publishes
    raise AssertionError(rows)


@pytest.mark.parametrize(("settled", "still_open", "asked_count"), [(200_000, 5_000, 300), (20_000, 3_000, 500)])
async def test_a_batch_of_verdicts_reads_its_own_requests_not_every_open_one(
        settings: Settings, settled: int, still_open: int, asked_count: int) -> None:
    schema = settings.schema(BOARD_ROUTER.schema)
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=2)
    try:
        await migrate(pool, schema, BOARD_ROUTER.package)
        await pool.fetch(_OPEN.format(settled="now()", verdict="gen_random_uuid()"), settled)
        await pool.execute("ANALYZE requests")  # every request settled: what autovacuum saw in a quiet hour
        opened: list[UUID] = [r[0] for r in await pool.fetch(_OPEN.format(settled="NULL", verdict="NULL"), still_open)]
        asked, verdicts = opened[:asked_count], {i: UUID(int=n + 1) for n, i in enumerate(opened[:asked_count])}
        writer = OutboxWriter(pool, Outbox(schema), _nowhere)
        async with pool.acquire() as conn, conn.transaction():  # the transaction's own counts
            tables = RouterTablesSql(conn, writer)
            before = await rows_read(conn, "requests")
            found = await tables.settle_open([(i, verdicts[i]) for i in asked])
            read = await rows_read(conn, "requests") - before
        assert set(found) == set(asked)
        assert read <= 2 * len(asked)  # before: every open request, once (by the partial index) or for each verdict
        now_settled = await pool.fetch("SELECT request_id, verdict_id FROM requests WHERE settled_at > $1",
                                       datetime(2000, 1, 1, tzinfo=UTC))
        assert {r[0]: r[1] for r in now_settled if r[0] in verdicts} == verdicts
        assert await pool.fetchval("SELECT count(*) FROM requests WHERE settled_at IS NULL") == still_open - asked_count
        async with pool.acquire() as conn, conn.transaction():  # settled now: a second verdict settles nothing
            tables = RouterTablesSql(conn, writer)
            assert await tables.settle_open([(i, UUID(int=0)) for i in asked]) == {}
            # the replay's look: settled ones only
            again = await tables.settled_requests(asked + opened[asked_count:asked_count + 10])
            assert {i: r.verdict_id for i, r in again.items()} == verdicts
    finally:
        await pool.close()
