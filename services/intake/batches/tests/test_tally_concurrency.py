"""Two intake processes note outcomes of one batch at the same time (its records are on partitions each of them
reads): the batch's tallies count both, whichever commits first."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from intake.batches import storage
from intake.batches.service import accept_batch, parse_to_queue
from intake.batches.storage import Outcome, apply_outcomes
from intake.batches.tests.conftest import P
from intake.batches.tests.test_queue import TB_ROW, TEMPLATE_B, xlsx_bytes
from shared.outbox import Outbox
from shared.service_registry import INTAKE
from shared.settings import Settings

pytestmark = pytest.mark.integration


async def test_outcomes_noted_at_once_by_two_processes_both_count(settings: Settings,
                                                                 intake_pool: asyncpg.Pool) -> None:
    pool, schema = intake_pool, settings.schema(INTAKE.schema)
    batch_id = uuid4()
    parsed = parse_to_queue(settings, "b.xlsx", xlsx_bytes([TEMPLATE_B, TB_ROW, TB_ROW]), P, batch_id)
    await accept_batch(pool, Outbox(schema), batch_id, P, "b.xlsx", parsed)
    first, second = (row.records[0].record_id for row in parsed.rows)
    async with pool.acquire() as one, pool.acquire() as other:
        mine = one.transaction()
        await mine.start()
        assert await apply_outcomes(one, [Outcome(first, "added", [])]) == 1  # holds the batch's row
        theirs = asyncio.create_task(apply_outcomes(other, [Outcome(second, "rejected", [{"code": "661"}])]))
        await asyncio.sleep(0.5)
        assert not theirs.done()  # waits for the first one's row lock
        await mine.commit()
        assert await theirs == 1
    batch = await storage.get_batch(pool, batch_id, P)
    assert batch is not None
    assert (batch["added"], batch["rejected"], batch["status"]) == (1, 1, "complete")
    assert batch["completed_at"] is not None
    async with pool.acquire() as conn:  # a redelivery changes nothing
        assert await apply_outcomes(conn, [Outcome(first, "rejected", []), Outcome(second, "added", [])]) == 0
    again = await storage.get_batch(pool, batch_id, P)
    assert again is not None and (again["added"], again["rejected"]) == (1, 1)
