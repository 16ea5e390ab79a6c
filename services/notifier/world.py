"""Loads providers (digest addresses and preferences) and activity titles into the notifier schema."""

import asyncpg

from notifier import storage
from shared.world import World


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await storage.save_providers(conn, [(p.id, p.name, p.email, p.digest_pars_rejections) for p in world.providers])
        await storage.save_titles(conn, [(a.id, a.title) for a in world.activities])
