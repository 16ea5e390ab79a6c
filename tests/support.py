"""Helpers for tests: unique names (and dropping what was made under them), free ports, plans and reads."""

import asyncio
import contextlib
import random
import re
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

# Below the kernel's ephemeral range (32768 and up here), so no outgoing connection takes a port between the
# moment a test picks it and the moment its server binds it.
_LOW, _HIGH = 20000, 32000
KAFKA_POM = Path(__file__).resolve().parent.parent / "deploy" / "local" / "kafka" / "pom.xml"


def kafka_release() -> str:
    """The project's one Kafka version, as deploy/local/kafka.sh resolves its jars (kafka.version in the pom)."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", KAFKA_POM.read_text(encoding="utf-8"))
    assert found, f"no kafka.version in {KAFKA_POM}"
    return found[1]


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of an `EXPLAIN (FORMAT JSON)` plan, the top one first."""
    return [plan, *(n for child in plan.get("Plans", []) for n in plan_nodes(child))]


async def rows_read(conn: Any, table: str) -> int:
    """Rows `table` (of the connection's current schema) has given its readers in this transaction: sequential scans'
    and index fetches'. Read before and after a statement, inside one transaction, it counts the statement's reads."""
    return await conn.fetchval(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
        " WHERE relname = $1 AND schemaname = current_schema()", table)


NAMESPACES: set[str] = set()  # every namespace this process made up, to drop when its test session ends


def unique_namespace(prefix: str = "t") -> str:
    namespace = f"{prefix}{uuid.uuid4().hex[:10]}"
    NAMESPACES.add(namespace)
    return namespace


async def drop_namespaces(kafka: str, database_url: str, namespaces: Iterable[str]) -> int:
    """Deletes the topics and PostgreSQL schemas made under these namespaces; answers how many topics went.
    Test sessions and benchmarks leave thousands of partitions behind otherwise, and a broker that keeps them
    all (its data folder outlives each run) ends up out of heap."""
    prefixes = tuple(f"{ns}." for ns in namespaces)
    if not prefixes:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka, request_timeout_ms=60_000)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        for start in range(0, len(doomed), 200):
            await admin.delete_topics(doomed[start:start + 200])
    finally:
        await admin.close()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SET lock_timeout = '2s'")  # a schema some straggler still holds is not waited for
        schemas = [r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace")
                   if r["nspname"].startswith(tuple(f"{ns.lower()}_" for ns in namespaces))]
        for schema in schemas:
            with contextlib.suppress(asyncpg.PostgresError):  # one still in use is left for next time
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()
    return len(doomed)


def drop_namespaces_now(kafka: str, database_url: str) -> None:
    """Drops every namespace this process made up (best effort: a failure here must not fail a run)."""
    with contextlib.suppress(Exception):
        asyncio.run(drop_namespaces(kafka, database_url, sorted(NAMESPACES)))


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_block(size: int) -> int:
    """A base port such that base .. base+size-1 are all free now."""
    for _ in range(500):
        base = random.randrange(_LOW, _HIGH - size)
        if all(_bindable(port) for port in range(base, base + size)):
            return base
    raise RuntimeError("no free block of ports")


def free_port() -> int:
    return free_port_block(1)
