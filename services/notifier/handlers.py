"""Keeps every rejection a provider should hear about, with what its digest line shows."""

from uuid import UUID

import asyncpg

from notifier.events import Event, RecordRejected, RecordRejectedByPars, RecordSubmitted
from shared.consumer import Delivery
from shared.inbox import fresh_only
from shared.logging import bind_correlation, get_logger

log = get_logger(__name__)
Row = tuple[UUID, str, UUID, str, list, object, str | None, str | None, str | None, str | None, str | None]


class RejectionCollector:
    EVENTS = (RecordSubmitted, RecordRejected, RecordRejectedByPars)  # what it reads of pars.record-events

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def on_record_events(self, batch: list[Delivery[Event]]) -> None:
        events = [d.message for d in batch if isinstance(d.message, self.EVENTS)]
        if not events:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            todo = await fresh_only(conn, events)
            await _remember_records(conn, [e for e in todo if isinstance(e, RecordSubmitted)])
            rows = await _rejection_rows(conn, todo)
            await conn.executemany(
                "INSERT INTO rejections (event_id, provider_id, record_id, board, errors, occurred_at, activity_id,"
                " first_name, last_name, learner_id, completion_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                " $10, $11) ON CONFLICT (event_id) DO NOTHING", rows)
        correlation = {e.event_id: e.correlation_id for e in events}
        for row in rows:
            with bind_correlation(correlation_id=correlation[row[0]], record_id=str(row[2])):
                log.info("rejection kept for digest", provider_id=row[1], board=row[3],
                         codes=[e["code"] for e in row[4]])


async def _remember_records(conn: asyncpg.Connection, submitted: list[RecordSubmitted]) -> None:
    await conn.executemany(
        "INSERT INTO records (record_id, provider_id, activity_id, first_name, last_name, learner_id,"
        " completion_date) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (record_id) DO NOTHING",
        [(e.record.record_id, e.record.provider_id, e.record.activity_id, e.record.first_name, e.record.last_name,
          e.record.learner_id, e.record.completion_date) for e in submitted])


async def _rejection_rows(conn: asyncpg.Connection, events: list[Event]) -> list[Row]:
    by_board = [e for e in events if isinstance(e, RecordRejected)]
    records = {r["record_id"]: r for r in await conn.fetch(
        "SELECT record_id, activity_id, first_name, last_name, learner_id, completion_date FROM records"
        " WHERE record_id = ANY($1::uuid[])", [e.record_id for e in by_board])}
    by_pars = [e for e in events if isinstance(e, RecordRejectedByPars) and e.record.channel in ("batch", "ws")]
    opted_in = {r["id"] for r in await conn.fetch(
        "SELECT id FROM providers WHERE digest_pars_rejections AND id = ANY($1::text[])",
        list({e.provider_id for e in by_pars}))}
    rows: list[Row] = []
    for e in events:
        errors = getattr(e, "errors", [])
        if isinstance(e, RecordRejected):
            r = records.get(e.record_id)
            rows.append((e.event_id, e.provider_id, e.record_id, e.target.code, errors, e.occurred_at,
                         r and r["activity_id"], r and r["first_name"], r and r["last_name"], r and r["learner_id"],
                         r and r["completion_date"]))
        elif isinstance(e, RecordRejectedByPars) and e.provider_id in opted_in and e.record.channel != "api":
            rec = e.record
            rows.append((e.event_id, e.provider_id, rec.record_id, rec.target.code, errors, e.occurred_at,
                         rec.activity_id, rec.first_name, rec.last_name, rec.learner_id, rec.completion_date))
    return rows
