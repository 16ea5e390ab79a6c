"""PARS's rejections in the projection, on a real PostgreSQL: kept once however often they are delivered."""

from uuid import uuid4

import pytest

from projector.events import RecordEvent, decode_record_event
from projector.handlers import Projector
from projector.storage import SqlProjection
from shared.codes import pars_error
from shared.consumer import Delivery
from shared.db import create_pool, migrate
from shared.events import RecordRejectedByPars, ReportedRecord, Target
from shared.service_registry import PROJECTOR
from shared.settings import Settings

pytestmark = pytest.mark.integration


def rejected_by_pars(first_name: str) -> RecordRejectedByPars:
    rid = uuid4()
    record = ReportedRecord(record_id=rid, submission_id=uuid4(), provider_id="0008001",
                            target=Target(kind="moc", code="ABOHNS"), activity_id="999999999",
                            first_name=first_name, last_name="Benton", completion_date="2021-11-02")
    return RecordRejectedByPars(record_id=rid, record=record, errors=[pars_error("690")], correlation_id="c",
                                provider_id="0008001", submission_id=record.submission_id)


def delivered(event: RecordRejectedByPars) -> Delivery[RecordEvent]:
    return Delivery(decode_record_event(event.to_bytes()), None)


async def test_a_redelivered_rejection_changes_nothing_and_stays_out_of_records(settings: Settings) -> None:
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, PROJECTOR.package)
        projector = Projector(SqlProjection(pool))
        first, second = rejected_by_pars("Harper"), rejected_by_pars("Avery")
        await projector.on_record_events([delivered(first), delivered(first)])
        kept = await pool.fetch("SELECT * FROM pars_rejections ORDER BY first_name")
        # The same event again, in a later batch, and a copy carrying other values under the same event ID.
        copy = first.model_copy(update={"errors": [pars_error("999")]})
        await projector.on_record_events([delivered(first), delivered(copy), delivered(second)])
        rows = await pool.fetch("SELECT * FROM pars_rejections ORDER BY first_name")
        assert [r["first_name"] for r in rows] == ["Avery", "Harper"]
        assert dict(rows[1]) == dict(kept[0])
        assert rows[1]["errors"] == [pars_error("690").model_dump()]
        assert await pool.fetchval("SELECT count(*) FROM records") == 0
        assert await pool.fetchval("SELECT count(*) FROM record_events") == 2
    finally:
        await pool.close()
