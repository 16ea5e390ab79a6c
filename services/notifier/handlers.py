"""Keeps every board rejection for its provider's next digest (the e-mail itself comes with the digests)."""

import asyncpg

from shared.consumer import Delivery
from shared.events import Envelope, RecordRejected
from shared.logging import bind_correlation, get_logger

log = get_logger(__name__)


class RejectionCollector:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def on_record_events(self, batch: list[Delivery[Envelope]]) -> None:
        rejections = [d.message for d in batch if isinstance(d.message, RecordRejected)]
        if not rejections:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            new = await conn.fetch(
                "INSERT INTO rejections (event_id, provider_id, record_id, board, errors, occurred_at)"
                " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[]::jsonb[],"
                " $6::timestamptz[]) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                [r.event_id for r in rejections], [r.provider_id for r in rejections],
                [r.record_id for r in rejections], [r.target.code for r in rejections],
                [f"[{','.join(e.model_dump_json() for e in r.errors)}]" for r in rejections],
                [r.occurred_at for r in rejections],
            )
        fresh = {r["event_id"] for r in new}
        for r in rejections:
            if r.event_id in fresh:
                with bind_correlation(correlation_id=r.correlation_id):
                    log.info("rejection kept for digest", provider_id=r.provider_id, record_id=str(r.record_id),
                             board=r.target.code, codes=[e.code for e in r.errors])
