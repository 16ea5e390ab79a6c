"""A batch's ledger is read by its learners' keys, before autovacuum has ever analyzed the credits: as a join,
PostgreSQL took the board's credits for a hundred rows and read all of them for each batch."""

from collections.abc import Sequence

import pytest

from board_sim.storage import DeskTablesSql
from shared.db import create_pool, migrate
from shared.outbox import Outbox, OutboxRow, OutboxWriter
from shared.service_registry import BOARD_SIM
from shared.settings import Settings
from tests.support import rows_read

pytestmark = pytest.mark.integration

async def _nowhere(rows: Sequence[OutboxRow]) -> None:  # nothing here publishes
    raise AssertionError(rows)


async def test_a_batch_reads_the_credits_of_its_own_learners_before_the_table_is_ever_analyzed(
        settings: Settings) -> None:
    schema = settings.schema(BOARD_SIM.schema)
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=2)
    try:
        await migrate(pool, schema, BOARD_SIM.package)
        # 60,000 credits of one board: 20,000 learners, each with three activities of 60
        await pool.execute(
            "INSERT INTO credits (credit_key, board, board_id, activity_id, completion_date, points, record_id)"
            " SELECT 'ck' || g, 'ABIM', 'b' || (g % 20000), 'a' || (g % 60), current_date, 1, gen_random_uuid()"
            " FROM generate_series(1, 60000) g")
        keys = [(f"b{n}", f"a{n % 60}") for n in range(500)]  # each learner's first credit, and one it lacks
        keys += [(f"b{n}", "a-none") for n in range(500)]
        writer = OutboxWriter(pool, Outbox(schema), _nowhere)
        async with pool.acquire() as conn, conn.transaction():  # the transaction's own counts
            before = await rows_read(conn, "credits")
            book = await DeskTablesSql(conn, writer).ledger("ABIM", keys)
            read = await rows_read(conn, "credits") - before
        found = {key: grants for key, grants in book.grants.items() if grants}
        assert set(found) == set(keys[:500])
        assert all(len(grants) == 1 for grants in found.values())
        assert read <= 2 * len(found)  # before: the board's 60,000 credits
    finally:
        await pool.close()
