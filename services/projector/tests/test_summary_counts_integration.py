"""On generated data with every status present, each activity's summary counts equal the record list's."""

from datetime import date

import pytest

from intake.activities.queries import summary
from intake.keys import Principal
from intake.records.queries import list_records, record_filters
from projector.sample_data import fill_records
from shared.db import create_pool, migrate, quote_schema
from shared.service_registry import PROJECTOR
from shared.settings import Settings

pytestmark = pytest.mark.integration
OPERATOR = Principal("operator", None)
FILTERS = [
    {},
    {"board": "ABA"},
    {"name": "last1"},
    {"completed_from": date(2021, 2, 1), "completed_to": date(2021, 4, 30)},
    {"learner_id": "1234"},
]


@pytest.mark.parametrize("filters", FILTERS)
async def test_summary_counts_equal_the_record_list(settings: Settings, filters: dict) -> None:
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, PROJECTOR.package)
        await fill_records(pool, 20_000)
        await pool.execute(
            "INSERT INTO activities (id, provider_id, title, format)"
            " SELECT DISTINCT activity_id, '0000000', 'Course ' || activity_id, 'Live Course' FROM records"
        )
        statuses = {s for (s,) in await pool.fetch("SELECT DISTINCT status FROM records WHERE NOT deleted")}
        assert statuses == {"Submitted", "Accepted", "Rejected", "Delete Submitted"}
        assert await pool.fetchval("SELECT count(*) FROM records WHERE deleted") > 0

        base = (
            dict.fromkeys(("activity_id", "status", "board", "name", "learner_id", "completed_from", "completed_to"))
            | filters
        )
        where, args = record_filters(OPERATOR, **{**base, "activity_id": None}, with_provider=False)
        _, activities = await summary(
            pool, quote_schema(schema), OPERATOR, where, args, format=None, text=None, sort="id", page=1, per_page=40
        )
        assert len(activities) == 40
        for activity in activities:
            for status in ("Submitted", "Accepted", "Rejected", "Delete Submitted"):
                where, args = record_filters(OPERATOR, **{**base, "activity_id": activity["id"], "status": status})
                total, _ = await list_records(
                    pool, quote_schema(schema), where, args, sort="name", page=1, per_page=1
                )
                assert activity[status.lower().replace(" ", "_")] == total, (activity["id"], status)
    finally:
        await pool.close()
