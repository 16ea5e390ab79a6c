"""The validation schema: activities, board overrides, the physician directory, rosters, live credit IDs; and the
handlers' ports (validation.ports) kept in it."""

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from uuid import UUID

import asyncpg

from shared.boards import Board, BoardOverride, apply_overrides
from shared.db import Connection
from shared.events import LearnerRecord, SubmitRecord
from shared.inbox import claim_all, handled_before, keep_fresh
from shared.lifecycle import RecordStatus
from shared.outbox import Alongside, KeptRows, OutboxMessage, OutboxWriter
from shared.states import state_code
from shared.world import Activity, Physician
from validation.matching import DirectoryEntry
from validation.ports import Known, LiveKey, LiveRecord
from validation.rules import RosterEntry

__all__ = ["LiveKey", "LiveRecord"]  # where they were before validation.ports


async def activities(conn: Connection, ids: Iterable[str]) -> dict[str, Activity]:
    rows = await conn.fetch("SELECT data FROM activities WHERE id = ANY($1::text[])", list(set(ids)))
    return {a.id: a for a in (Activity.model_validate(r["data"]) for r in rows)}


async def lock_activity_owner(conn: Connection, activity_id: str) -> str | None:
    """The provider an activity is registered by (None: nobody yet), locked until the transaction ends."""
    return await conn.fetchval("SELECT provider_id FROM activities WHERE id = $1 FOR UPDATE", activity_id)


async def live_records(conn: Connection, keys: Iterable[LiveKey]) -> dict[LiveKey, LiveRecord]:
    keys = list(set(keys))
    rows = await conn.fetch(
        "SELECT l.provider_id, l.credit_id, l.target_code, l.record, l.status FROM live_records l"
        " JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(p, c, t)"
        " ON l.provider_id = k.p AND l.credit_id = k.c AND l.target_code = k.t",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
    )
    return {(r["provider_id"], r["credit_id"], r["target_code"]):
            LiveRecord(LearnerRecord.model_validate(r["record"]), RecordStatus(r["status"])) for r in rows}


# The board overrides, the activities ($1) and the live records ($2, $3, $4: provider, credit ID and target of each key)
# a batch needs, in one statement: at batches of one (API completions) each round trip costs more than deciding.
_KNOWN = (
    "SELECT ARRAY(SELECT data::text FROM board_overrides ORDER BY code) AS boards,"
    " ARRAY(SELECT data FROM activities WHERE id = ANY($1::text[])) AS activities,"
    " ARRAY(SELECT jsonb_build_array(l.provider_id, l.credit_id, l.target_code, l.status, l.record) FROM live_records l"
    "  JOIN unnest($2::text[], $3::text[], $4::text[]) AS k(p, c, t)"
    "  ON l.provider_id = k.p AND l.credit_id = k.c AND l.target_code = k.t) AS live"
)
# The same with which of the batch's command ids ($5) were handled before, in that round trip too (they are claimed by
# the statement that keeps the batch: `keep_batch`).
_HANDLED_AND_KNOWN = _KNOWN + f", {handled_before('$5')} AS handled"


async def _read_known(conn: Connection, query: str, activity_ids: Iterable[str], live_keys: Iterable[LiveKey],
                      *more: object) -> tuple[Known, asyncpg.Record]:
    keys = list(set(live_keys))
    row = await conn.fetchrow(query, list(set(activity_ids)), [k[0] for k in keys], [k[1] for k in keys],
                              [k[2] for k in keys], *more)
    assert row is not None
    live = {(p, c, t): LiveRecord(LearnerRecord.model_validate(record), RecordStatus(status))
            for p, c, t, status, record in row["live"]}
    activities = {a.id: a for a in (Activity.model_validate(data) for data in row["activities"])}
    return Known(dict(_boards(tuple(row["boards"]))), activities, live), row


@lru_cache(maxsize=8)  # overrides seldom change, and applying them validates every overridden board again
def _boards(overrides: tuple[str, ...]) -> dict[str, Board]:
    """The boards with these overrides (each as its JSON) applied; callers copy the answer."""
    return apply_overrides([BoardOverride.model_validate(json.loads(o)) for o in overrides])


def live_changes(before: dict[LiveKey, LiveRecord], after: dict[LiveKey, LiveRecord],
                 ) -> tuple[list[LiveKey], list[LiveRecord], list[tuple[object, str]]]:
    """What a batch changed: credit IDs released, records kept, (record ID, status) moved. `after` starts as a copy
    of `before` and a batch replaces the entries it changes, so an entry that is still the same object is unchanged:
    only the batch's own keys are compared (comparing every entry's record ID was 5% of validation's samples)."""
    released: list[LiveKey] = []
    kept = [after[k] for k in after.keys() - before.keys()]
    moved: list[tuple[object, str]] = []
    for key, was in before.items():
        now = after.get(key)
        if now is was:
            continue
        if now is None or now.record.record_id != was.record.record_id:
            released.append(key)
            if now is not None:
                kept.append(now)
        elif now.status != was.status:
            moved.append((now.record.record_id, now.status))
    return released, kept, moved


def _claimed_and_kept(first: int) -> str:
    """The CTEs that keep a batch with its events (shared.outbox.Alongside): its commands' ids claimed, and the records
    it kept holding their credit IDs. Both are plain INSERTs: if another instance handled a command, or kept the same
    credit ID, meanwhile, the statement fails and the batch is retried, and then finds the command handled or that
    record (603). Exactly one Add wins."""
    c, p, credit, t, i, e, s = (f"${first + n}" for n in range(7))
    return (f"{claim_all(c)},"
            " live AS (INSERT INTO live_records (provider_id, credit_id, target_code, record_id, record, status)"
            f" SELECT p, c, t, i, convert_from(e, 'UTF8')::jsonb -> 'record', s FROM unnest({p}::text[],"
            f" {credit}::text[], {t}::text[], {i}::uuid[], {e}::bytea[], {s}::text[]) AS k(p, c, t, i, e, s))")


async def keep_batch(conn: Connection, writer: OutboxWriter, before: dict[LiveKey, LiveRecord],
                     after: dict[LiveKey, LiveRecord], submitted: Mapping[UUID, bytes], handled: Sequence[UUID],
                     messages: Sequence[OutboxMessage]) -> KeptRows:
    """Keep a decided batch: claim its commands (`handled`), write what it changed of the live records and keep its
    events in the outbox, in one statement, which is atomic without a transaction: at a batch of one, BEGIN and
    COMMIT were two of its five round trips. A batch that released credit IDs or moved statuses (deletes) runs those
    first in a transaction with it (released first: a batch may release a credit ID and keep it again).
    `submitted`: the RecordSubmitted event (its JSON) that kept a record, by record ID: its `record` is kept as it
    is, and PostgreSQL takes it out of the event (dumping each record again cost ≈ 5% of validation's CPU per
    record); a record without one is dumped."""
    released, kept, moved = live_changes(before, after)
    records = [k.record for k in kept]
    alongside = Alongside(_claimed_and_kept, [
        list(handled), [r.provider_id for r in records], [r.credit_id for r in records],
        [r.target.code for r in records], [r.record_id for r in records],
        [submitted.get(r.record_id) or b'{"record":%b}' % r.model_dump_json().encode() for r in records],
        [k.status for k in kept]])
    if not released and not moved:
        return await writer.enqueue(conn, messages, alongside=alongside)
    async with conn.transaction():
        if released:
            await conn.execute(
                "DELETE FROM live_records l USING unnest($1::text[], $2::text[], $3::text[]) AS k(p, c, t)"
                " WHERE l.provider_id = k.p AND l.credit_id = k.c AND l.target_code = k.t",
                [k[0] for k in released], [k[1] for k in released], [k[2] for k in released])
        if moved:
            await set_statuses(conn, moved)
        return await writer.enqueue(conn, messages, alongside=alongside)


async def set_statuses(conn: Connection, statuses: Sequence[tuple[object, str]]) -> None:
    """Live records' new statuses, in one statement; a record named twice takes its last status."""
    last = dict(statuses)
    await conn.execute(
        "UPDATE live_records l SET status = k.s FROM unnest($1::uuid[], $2::text[]) AS k(i, s) WHERE l.record_id = k.i",
        list(last), list(last.values()))


async def track_statuses(conn: Connection, statuses: Sequence[tuple[object, str]],
                         gone: Sequence[object]) -> None:
    """What the record events say became of live records: a board's verdict, a completed delete."""
    if statuses:
        await set_statuses(conn, statuses)
    if gone:
        await conn.execute("DELETE FROM live_records WHERE record_id = ANY($1::uuid[])", list(gone))


async def roster_entries(conn: Connection,
                         keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RosterEntry]:
    keys = list(set(keys))
    rows = await conn.fetch(
        "SELECT r.board, r.board_id, r.first_name, r.last_name, r.dob FROM roster r"
        " JOIN unnest($1::text[], $2::text[]) AS k(b, i) ON r.board = k.b AND r.board_id = k.i",
        [k[0] for k in keys], [k[1] for k in keys],
    )
    return {(r["board"], r["board_id"]): RosterEntry(r["board_id"], r["first_name"], r["last_name"], r["dob"])
            for r in rows}


def _entry(data: dict) -> DirectoryEntry:
    p = Physician.model_validate(data)
    return DirectoryEntry(
        first_name=p.first_name, last_name=p.last_name, dob=p.dob, npi=p.npi, medical_school=p.medical_school,
        licenses=tuple((state_code(lic.state) or lic.state.upper(), lic.id) for lic in p.licenses),
        certifications=tuple((c.board.upper(), c.id) for c in p.certifications),
    )


async def directory_candidates(conn: Connection | asyncpg.Pool, *, licenses: Iterable[tuple[str, str]] = (),
                               npis: Iterable[str] = (), names: Iterable[tuple[str, str]] = (),
                               certifications: Iterable[tuple[str, str]] = ()) -> list[DirectoryEntry]:
    """Every directory entry that any of these licences, NPIs, (last, first) name keys or board IDs points at."""
    licenses, names, certifications = list(set(licenses)), list(set(names)), list(set(certifications))
    rows = await conn.fetch(
        "SELECT p.data FROM physicians p WHERE p.physician_key IN ("
        " SELECT l.physician_key FROM physician_licenses l"
        "  JOIN unnest($1::text[], $2::text[]) AS k(s, i) ON l.state = k.s AND l.license_key = k.i"
        " UNION SELECT physician_key FROM physicians WHERE npi = ANY($3::text[])"
        " UNION SELECT n.physician_key FROM physicians n"
        "  JOIN unnest($4::text[], $5::text[]) AS k(l, f) ON n.last_key = k.l AND n.first_key = k.f"
        " UNION SELECT c.physician_key FROM physician_certifications c"
        "  JOIN unnest($6::text[], $7::text[]) AS k(b, i) ON c.board = k.b AND c.board_id = k.i)",
        [k[0] for k in licenses], [k[1] for k in licenses], list(set(npis)),
        [k[0] for k in names], [k[1] for k in names], [k[0] for k in certifications], [k[1] for k in certifications],
    )
    return [_entry(r["data"]) for r in rows]


async def save_activity(conn: Connection, activity: Activity) -> None:
    await conn.execute(
        "INSERT INTO activities (id, provider_id, data) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET"
        " provider_id = EXCLUDED.provider_id, data = EXCLUDED.data, updated_at = now()",
        activity.id, activity.provider_id, activity.model_dump(mode="json"))


class SqlLookups:
    """validation.ports.LookupReader over one connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def known(self, activity_ids: Iterable[str], live_keys: Iterable[LiveKey]) -> Known:
        return (await _read_known(self._conn, _KNOWN, activity_ids, live_keys))[0]

    async def roster_entries(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RosterEntry]:
        return await roster_entries(self._conn, keys)

    async def directory_candidates(self, *, licenses: Iterable[tuple[str, str]] = (), npis: Iterable[str] = (),
                                   names: Iterable[tuple[str, str]] = (),
                                   certifications: Iterable[tuple[str, str]] = ()) -> list[DirectoryEntry]:
        return await directory_candidates(self._conn, licenses=licenses, npis=npis, names=names,
                                          certifications=certifications)


class SqlSubmissionBatch(SqlLookups):
    """validation.ports.SubmissionBatch: one batch's reads, then its writes and events kept in one statement."""

    def __init__(self, conn: Connection, writer: OutboxWriter) -> None:
        super().__init__(conn)
        self._writer = writer

    async def fresh_and_known(self, commands: list[SubmitRecord], activity_ids: Iterable[str],
                              live_keys: Iterable[LiveKey]) -> tuple[list[SubmitRecord], Known]:
        ids = [c.event_id for c in commands]
        known, row = await _read_known(self._conn, _HANDLED_AND_KNOWN, activity_ids, live_keys, ids)
        return keep_fresh(commands, set(ids).difference(row["handled"])), known

    async def keep(self, before: dict[LiveKey, LiveRecord], after: dict[LiveKey, LiveRecord],
                   submitted: Mapping[UUID, bytes], handled: Sequence[UUID],
                   messages: Sequence[OutboxMessage]) -> KeptRows:
        return await keep_batch(self._conn, self._writer, before, after, submitted, handled, messages)


class SqlSubmissions:
    """validation.ports.SubmissionStore over the validation schema."""

    def __init__(self, pool: asyncpg.Pool, writer: OutboxWriter) -> None:
        self._pool = pool
        self._writer = writer

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[SqlSubmissionBatch]:
        async with self._pool.acquire() as conn:  # no transaction: `keep` writes atomically
            yield SqlSubmissionBatch(conn, self._writer)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlLookups]:
        async with self._pool.acquire() as conn:
            yield SqlLookups(conn)

    async def publish(self, rows: KeptRows) -> None:
        await self._writer.publish_soon(rows)  # sent while the consumer takes its next batch


class SqlStatuses:
    """validation.ports.StatusStore over the validation schema."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def track_statuses(self, statuses: list[tuple[UUID, RecordStatus]], gone: list[UUID]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await track_statuses(conn, statuses, gone)
