"""PostgreSQL helpers: a pool per service schema, and versioned migrations run at start-up."""

import re
from collections.abc import Callable, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import msgspec

from shared.logging import get_logger

log = get_logger(__name__)

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What service code runs its SQL on: a connection of its own or one a pool lends. asyncpg-stubs types a pool's
    # proxy apart from asyncpg.Connection, though at run time it passes isinstance(proxy, asyncpg.Connection).
    Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
else:
    Connection = asyncpg.Connection
# PostgreSQL is restarting, shutting down, out of connection slots or unreachable: not the work's fault. Query
# errors (our bugs) are not among them. Intake answers these with 503; consumers rewind and redeliver.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or was lost
    asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,  # 57P01-03
    asyncpg.TooManyConnectionsError,  # 53300
    ConnectionError,  # refused or reset while connecting
)

_SAFE_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]*$")


def quote_schema(schema: str) -> str:
    if not _SAFE_SCHEMA.match(schema):
        raise ValueError(f"not a safe schema name: {schema!r}")
    return f'"{schema}"'


class PooledConnection(asyncpg.Connection):
    """A pool's connection, released without asyncpg's reset statement (advisory unlock, CLOSE ALL, UNLISTEN *,
    RESET ALL: a round trip to PostgreSQL on every release, ~7% of intake's busy samples) unless it listened.

    No service code leaves session state on a pooled connection: its settings are SET LOCAL and its advisory locks
    transaction-level, both ended with the transaction (which asyncpg still rolls back on release if left open), and
    its cursors live inside transactions. A listener is the one exception (the outbox relay's), so a connection that
    listened gets the full reset. shared/tests/test_db.py keeps session-level statements out of the code."""

    _listened = False

    async def add_listener(self, channel: str, callback: Callable[..., Any]) -> None:
        self._listened = True
        await super().add_listener(channel, callback)

    def get_reset_query(self) -> str:
        if not self._listened:
            return ""
        self._listened = False
        return str(super().get_reset_query())


def array_columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as one list per column: the arguments of `INSERT ... SELECT * FROM unnest($1::t1[], ...)`, a batch's rows
    in one statement (executemany runs, and plans, its statement once per row)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


_JSON = msgspec.json.Encoder()


def _json_text(value: Any) -> str:
    # msgspec, not json.dumps: every outbox row's headers pass through here, ≈ 0.3 µs a dict against ≈ 4.9.
    return _JSON.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("jsonb", "json"):
        await conn.set_type_codec(kind, encoder=_json_text, decoder=msgspec.json.decode, schema="pg_catalog")


async def create_pool(database_url: str, schema: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    """A pool whose connections see `schema` first, so service SQL names its tables without a schema.

    Each statement is planned for its own arguments and the tables as they are (`force_custom_plan`). asyncpg
    prepares every statement once per connection, and PostgreSQL then keeps a generic plan, made from the statistics
    of that moment, until the table is analyzed again: a queue like the outbox, nearly empty when analyzed, was then
    read by sequential scans while a backlog of thousands of rows waited (the settler's DELETE took 31 ms for 290
    rows during an upload of four files, 0.3 ms planned for its arguments), and so were young tables (the
    projection's records) that grew faster than autovacuum looked. Planning each time cost nothing measurable on the
    API's path (docs/PERFORMANCE.md).

    No statement is compiled to machine code (`jit` off): the services' statements are short (a batch's rows by key,
    a page of a list). Planned on a young table or an outbox full of dead rows, a batch's statement was estimated
    past the cost at which PostgreSQL compiles it, and compiling took 25-46 ms, several times the statement's own
    work (docs/PERFORMANCE.md).

    A page read at random costs the planner 1.1 sequential ones, not 4: the services' tables live in memory (or on
    solid-state disks), where looking up each of a batch's 500 keys by index costs less than reading a table of
    20,000 rows, and with 4 PostgreSQL read a whole table for each batch until it passed ~100,000 rows (the
    projection's records, the router's requests; docs/PERFORMANCE.md).

    asyncpg arms no timer of its own here: by default it drops a prepared statement 300 s after preparing it, and an
    idle connection 300 s after its release, each with a `call_later` made in the caller's context, which the timer
    keeps. A consumer's batch runs in a context that holds FastStream's message, and with it the whole batch: each
    timer kept a batch (2-3 MB of records) for five minutes after the service went quiet, and the statements, prepared
    again every five minutes, caught whichever batch ran then, so a service held more or less after each burst by
    chance (docs/PERFORMANCE.md, "What a quiet service kept"). Statements stay prepared for the connection's life
    (asyncpg's cache keeps the 100 last used), and the pool keeps its connections open, as it does under load."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_schema(schema)}")
    except asyncpg.UniqueViolationError:
        pass  # another process created it at the same moment
    finally:
        await conn.close()
    return await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection, connection_class=PooledConnection,
        max_cached_statement_lifetime=0, max_inactive_connection_lifetime=0,
        server_settings={"search_path": schema, "application_name": schema, "plan_cache_mode": "force_custom_plan",
                         "jit": "off", "random_page_cost": "1.1"},
    )


async def migrate(pool: asyncpg.Pool, schema: str, package: str) -> list[str]:
    """Apply the shared migrations, then `package`'s own `migrations/*.sql`, each once, in name order."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_schema(schema)}")
        await conn.execute(f"SET LOCAL search_path TO {quote_schema(schema)}")
        # Several instances of a service start together: one migrates, the others wait and find it done.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        done = []
        for owner in ("shared", package):
            folder = files(owner).joinpath("migrations")
            for path in sorted(folder.iterdir(), key=lambda p: p.name):
                version = f"{owner}:{path.name}"
                if not path.name.endswith(".sql") or version in applied:
                    continue
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                done.append(version)
    if done:
        log.info("schema migrated", schema=schema, versions=done)
    return done
