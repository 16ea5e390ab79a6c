"""What the CLI does against the servers: load worlds into each service's schema, issue keys, make topics.

Each service owns its schema and its world loader; the CLI only calls them in turn (migrating first, so a
world can be loaded before the services ever ran).
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

import board_router.world
import board_sim.world
import intake.world
import notifier.world
import projector.world
import validation.world
from intake.keys import issue_key as issue_api_key
from intake.keys import list_keys as list_api_keys
from intake.keys import revoke_key as revoke_api_key
from intake.keys import revoke_key_id
from shared.boards import apply_overrides
from shared.db import create_pool, migrate
from shared.kafka import ensure_topics
from shared.service_registry import BOARD_ROUTER, BOARD_SIM, INTAKE, NOTIFIER, PROJECTOR, SERVICES, VALIDATION, Service
from shared.settings import Settings
from shared.topics import all_topics, board_requests
from shared.world import World

Loader = Callable[[asyncpg.Pool, World], Awaitable[None]]

# Each service's world loader, filling its own schema.
WORLD_LOADERS: list[tuple[Service, Loader]] = [
    (INTAKE, intake.world.load_world),
    (VALIDATION, validation.world.load_world),
    (BOARD_ROUTER, board_router.world.load_world),
    (BOARD_SIM, board_sim.world.load_world),
    (NOTIFIER, notifier.world.load_world),
    (PROJECTOR, projector.world.load_world),
]


async def _pool(settings: Settings, service: Service) -> asyncpg.Pool:
    """A small pool in the service's schema, migrated first."""
    pool = await create_pool(settings.database_url, settings.schema(service.schema), max_size=2)
    await migrate(pool, settings.schema(service.schema), service.package)
    return pool


async def load_world(settings: Settings, world: World) -> None:
    for service, load in WORLD_LOADERS:
        pool = await _pool(settings, service)
        try:
            await load(pool, world)
        finally:
            await pool.close()
    boards = apply_overrides(world.boards)
    await ensure_topics(settings, [board_requests(b.code) for b in world.boards if boards[b.code].needs_board])


async def issue_key(settings: Settings, role: str, provider_id: str | None = None, *, sandbox: bool = False) -> str:
    pool = await _pool(settings, INTAKE)
    try:
        async with pool.acquire() as conn:
            return await issue_api_key(conn, role, provider_id, sandbox=sandbox)
    finally:
        await pool.close()


async def load_demo_world(settings: Settings) -> tuple[World, list[tuple[str, str]]]:
    """Load the demo world (`pars stack run`, compose's demo job); answer it with (who, key) for its first provider
    and for an operator."""
    from pars_cli.generate import demo_world  # the generator is only needed here

    world = demo_world(today=settings.today or datetime.now(UTC).date())
    await load_world(settings, world)
    provider = world.providers[0]
    return world, [(f"provider {provider.id} ({provider.name})", await issue_key(settings, "provider", provider.id)),
                   ("operator", await issue_key(settings, "operator"))]


async def revoke_key(settings: Settings, key: str) -> None:
    pool = await _pool(settings, INTAKE)
    try:
        await revoke_api_key(pool, key)
    finally:
        await pool.close()


async def keys(settings: Settings) -> list[asyncpg.Record]:
    pool = await _pool(settings, INTAKE)
    try:
        return await list_api_keys(pool)
    finally:
        await pool.close()


async def revoke_key_by_id(settings: Settings, key_id: str) -> bool:
    pool = await _pool(settings, INTAKE)
    try:
        return await revoke_key_id(pool, key_id)
    finally:
        await pool.close()


async def create_topics(settings: Settings) -> list[str]:
    boards = [code for code, b in apply_overrides([]).items() if b.needs_board]
    return await ensure_topics(settings, all_topics(boards))


async def migrate_schemas(settings: Settings) -> list[str]:
    """Every service's schema migrated (each service does its own at start too): the schemas, by name."""
    for service in SERVICES:
        pool = await _pool(settings, service)
        await pool.close()
    return [settings.schema(s.schema) for s in SERVICES]


async def sent_mail(settings: Settings, limit: int = 50) -> list[asyncpg.Record]:
    """The newest digests, sent or still waiting, with their provider and counts."""
    pool = await _pool(settings, NOTIFIER)
    try:
        return await pool.fetch(
            "SELECT d.window_start, d.window_end, d.provider_id, p.email, d.status, d.rejections, d.attempts,"
            " d.sent_at, d.last_error, d.digest_id FROM digests d JOIN providers p ON p.id = d.provider_id"
            " ORDER BY d.window_start DESC, d.provider_id LIMIT $1", limit)
    finally:
        await pool.close()
