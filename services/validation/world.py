"""Loads the world file's activities, board overrides and physician directory into the validation schema."""

import hashlib

import asyncpg

from shared.world import Physician, World


def physician_key(p: Physician) -> str:
    """A stable id for a directory entry: its NPI, or a digest of name, birthday and first licence."""
    if p.npi:
        return f"npi:{p.npi}"
    first_license = f"{p.licenses[0].state}:{p.licenses[0].id}" if p.licenses else ""
    raw = f"{p.first_name}|{p.last_name}|{p.dob}|{first_license}".lower()
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()[:24]


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO activities (id, provider_id, data) VALUES ($1, $2, $3)"
            " ON CONFLICT (id) DO UPDATE SET provider_id = EXCLUDED.provider_id, data = EXCLUDED.data,"
            " updated_at = now() WHERE activities.data IS DISTINCT FROM EXCLUDED.data",
            [(a.id, a.provider_id, a.model_dump(mode="json")) for a in world.activities],
        )
        await conn.executemany(
            "INSERT INTO board_overrides (code, data) VALUES ($1, $2)"
            " ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data",
            [(b.code, b.model_dump(mode="json", exclude_none=True)) for b in world.boards],
        )
        await conn.executemany(
            "INSERT INTO physicians (physician_key, last_name, first_name, dob, npi, data)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (physician_key) DO UPDATE SET"
            " last_name = EXCLUDED.last_name, first_name = EXCLUDED.first_name, dob = EXCLUDED.dob,"
            " npi = EXCLUDED.npi, data = EXCLUDED.data",
            [(physician_key(p), p.last_name, p.first_name, p.dob, p.npi, p.model_dump(mode="json"))
             for p in world.physicians],
        )
