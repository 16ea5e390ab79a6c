"""Loads providers (digest addresses and preferences) and activity titles into the notifier schema."""

import asyncpg

from shared.world import World


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO providers (id, name, email, digest_pars_rejections) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,"
            " digest_pars_rejections = EXCLUDED.digest_pars_rejections",
            [(p.id, p.name, p.email, p.digest_pars_rejections) for p in world.providers],
        )
        await conn.executemany(
            "INSERT INTO activities (id, title) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title",
            [(a.id, a.title) for a in world.activities],
        )
