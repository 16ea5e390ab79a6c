"""The notifier's tables on a real PostgreSQL: a batch's rows in one statement each, as they came."""

import uuid
from datetime import UTC, datetime

import pytest

from notifier.rejections import KeptRejection, SubmittedDetails
from notifier.storage import RejectionTablesSql
from shared.db import create_pool, migrate
from shared.settings import Settings

pytestmark = pytest.mark.integration


async def test_a_batch_of_rejections_is_kept_whole_and_a_repeat_changes_nothing(
        settings: Settings) -> None:
    schema = settings.schema("notifierstore")
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, "notifier")
    first, second = uuid.uuid4(), uuid.uuid4()
    # What the notifier kept of every submission until 2026-12-03, which rejections from routers before then need.
    records = [(first, "P1", "A1", "Ann", "Lee", "L1", "2026-11-02"),
               (second, "P1", "A2", "Bo", "Ng", None, "2026-11-03")]
    errors = [{"code": "B01", "message": "Learner not found"}, {"code": "B02", "message": "Second reason"}]
    event = uuid.uuid4()
    kept = [KeptRejection(event, "P1", first, "ABIM", errors, datetime.now(UTC), "A1", "Ann", "Lee", "L1",
                          "2026-11-02"),
            KeptRejection(event, "P1", first, "ABIM", [], datetime.now(UTC))]  # the same event again
    try:
        async with pool.acquire() as conn:
            tables = RejectionTablesSql(conn)
            await conn.executemany("INSERT INTO records (record_id, provider_id, activity_id, first_name, last_name,"
                                   " learner_id, completion_date) VALUES ($1, $2, $3, $4, $5, $6, $7)", records)
            assert await tables.keep(kept) == kept[:1]  # the claim: what was kept, once
            assert await tables.keep(kept) == []  # delivered again
            assert await tables.submitted_details([first, second]) == {
                first: SubmittedDetails("A1", "Ann", "Lee", "L1", "2026-11-02"),
                second: SubmittedDetails("A2", "Bo", "Ng", None, "2026-11-03")}
            rows = await conn.fetch("SELECT event_id, errors, activity_id, completion_date FROM rejections")
        assert [tuple(r) for r in rows] == [(event, errors, "A1", "2026-11-02")]  # errors a list, as they came
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()
