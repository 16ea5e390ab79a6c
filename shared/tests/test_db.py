"""Pooled connections skip asyncpg's reset statement on release: what a borrower did still ends with it."""

import asyncio
import contextvars
import gc
import re
import weakref
from pathlib import Path

import asyncpg
import pytest

from shared.db import PooledConnection, create_pool, migrate
from shared.outbox import Outbox
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
async def test_a_release_leaves_no_transaction_setting_or_lock_and_a_listeners_channels_go(settings: Settings) -> None:
    pool = await create_pool(settings.database_url, settings.schema("dbtest"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert isinstance(conn._con, PooledConnection)  # type: ignore[attr-defined]  # the proxied connection
            assert conn.get_reset_query() == ""  # nothing to undo: no round trip on release
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            async with conn.transaction():
                await conn.execute("SET LOCAL work_mem = '7MB'")
                await conn.execute("SELECT pg_advisory_xact_lock(4242)")
            left_open = conn.transaction()  # a borrower that forgot its transaction: rolled back on release
            await left_open.start()
            await conn.execute("SET LOCAL statement_timeout = '1234ms'")
            await conn.execute("SELECT pg_advisory_xact_lock(4243)")
        conn = await pool.acquire()
        assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # the same connection, reused
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SHOW work_mem") != "7MB"
        assert await conn.fetchval("SHOW statement_timeout") == "0"
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                   " AND pid = pg_backend_pid()") == 0
        assert await conn.fetchval("SHOW search_path") == settings.schema("dbtest")  # the pool's own setting
        await conn.add_listener("dbtest_channel", lambda *_: None)
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 1
        with pytest.warns(asyncpg.InterfaceWarning, match="active notification listener"):
            await pool.release(conn)  # still listening (the outbox relay removes its listener first)
        async with pool.acquire() as conn:  # a connection that listened got the full reset
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            assert conn.get_reset_query() == ""
            assert await conn.fetchval("SHOW search_path") == settings.schema("dbtest")
    finally:
        await pool.close()


# Session state a pooled connection would keep after its release, now that no reset statement clears it.
SESSION_STATE = re.compile(
    r"""(["';]\s*SET\s+(?!LOCAL\b|CONSTRAINTS\b|TRANSACTION\b)|^\s*SET\s+(?!LOCAL\b)|set_config\s*\(|SET\s+SESSION"""
    r"""|pg_(try_)?advisory_lock|(?-i:\bLISTEN\s)|WITH\s+HOLD|CREATE\s+TEMP|\bPREPARE\s)""",
    re.IGNORECASE | re.MULTILINE)


def test_no_service_code_leaves_session_state_on_a_pooled_connection() -> None:
    """SET LOCAL and transaction-level advisory locks end with the transaction; session-level state would outlive
    the borrower (PooledConnection). LISTEN goes through add_listener, which asks for the full reset."""
    found = []
    for folder in ("services", "shared", "pars_cli"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix not in {".py", ".sql"} or "tests" in path.parts or path == Path(__file__):
                continue
            text = path.read_text(encoding="utf-8")
            found += [f"{path.relative_to(REPO)}: {m.group(0)!r}" for m in SESSION_STATE.finditer(text)]
    assert found == []


def test_the_scan_sees_session_statements() -> None:
    for sql in ('"SET search_path TO x"', "'SET work_mem = 1'", "SELECT set_config('a', 'b', false)",
                "SELECT pg_advisory_lock(1)", "LISTEN x", "DECLARE c CURSOR WITH HOLD FOR", "CREATE TEMP TABLE t"):
        assert SESSION_STATE.search(sql), sql
    for sql in ('"SET LOCAL search_path TO x"', "UPDATE t SET a = 1", "SELECT pg_advisory_xact_lock(1)",
                "ALTER TABLE t ALTER c SET DEFAULT 1", "ON CONFLICT DO UPDATE SET a = 1"):
        assert not SESSION_STATE.search(sql), sql


@pytest.mark.integration
async def test_a_statement_is_planned_for_the_table_as_it_is_not_as_it_was_when_first_prepared(
        settings: Settings) -> None:
    """A plan made while the outbox was empty is not used once it holds a backlog: the settler's DELETE of a few ids
    reads them by the primary key, not the whole table."""
    pool = await create_pool(settings.database_url, settings.schema("plantest"), min_size=1, max_size=1)
    try:
        await migrate(pool, settings.schema("plantest"), "projector")
        async with pool.acquire() as conn:
            await conn.execute("ANALYZE outbox")  # empty: what autovacuum sees between bursts
            for _ in range(10):  # PostgreSQL keeps a generic plan after five executions of a prepared statement
                await Outbox.settle(conn, [1, 2])
            await conn.execute("INSERT INTO outbox (topic, value) SELECT 't', 'v' FROM generate_series(1, 20000)")
            scans = ("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables"
                     " WHERE relname = 'outbox' AND schemaname = current_schema()")
            async with conn.transaction():  # inside one, the backend's counts are not flushed meanwhile
                before = await conn.fetchrow(scans)
                await Outbox.settle(conn, [5, 6])
                after = await conn.fetchrow(scans)
            assert before is not None and after is not None
            assert after["seq_scan"] == before["seq_scan"]  # with the first plan kept: one, over 20,000 rows
            assert after["idx_scan"] > before["idx_scan"]
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 19998
    finally:
        await pool.close()


@pytest.mark.integration
async def test_no_statement_is_compiled_to_machine_code(settings: Settings) -> None:
    """A statement whose estimated cost passes PostgreSQL's JIT threshold (as a batch's statement on a young table or
    a bloated outbox did) is run as planned, not compiled first (25-46 ms a statement)."""
    costly = "EXPLAIN (FORMAT JSON) SELECT count(*) FROM pg_class a, pg_class b, pg_class c"
    pool = await create_pool(settings.database_url, settings.schema("jittest"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert "JIT" not in (await conn.fetchval(costly))[0]
            async with conn.transaction():
                await conn.execute("SET LOCAL jit = on")
                assert "JIT" in (await conn.fetchval(costly))[0]  # what the server would do by default
    finally:
        await pool.close()


class _Batch:
    """Stands in for a consumer's batch, reached from the context its handler ran in (FastStream's message)."""


_handled = contextvars.ContextVar[_Batch | None]("handled", default=None)


@pytest.mark.integration
async def test_a_pool_keeps_nothing_of_the_context_its_statements_ran_in(settings: Settings) -> None:
    """asyncpg's own timers (a prepared statement's lifetime, an idle connection's) are made in the caller's context
    and keep it: a batch handled while a statement was first prepared, or before a connection went back to the pool,
    stayed alive for five minutes after the service went quiet. The pool arms none (shared/db.py)."""
    pool = await create_pool(settings.database_url, settings.schema("dbtest"), min_size=1, max_size=2)
    try:
        async def handle() -> weakref.ref[_Batch]:
            batch = _Batch()
            _handled.set(batch)
            async with pool.acquire() as conn:  # a statement prepared, then the connection released, in this context
                assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
            return weakref.ref(batch)

        gone = await asyncio.create_task(handle())  # a task of its own, as FastStream's consumer runs its handler
        for _ in range(3):  # the loop lets go of the finished task within its next turns
            await asyncio.sleep(0)
        gc.collect()
        assert gone() is None, "the batch is still reachable after its handler ended"
    finally:
        await pool.close()
