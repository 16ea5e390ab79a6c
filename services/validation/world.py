"""Loads the world file's activities, board overrides, physician directory and rosters into the validation schema."""

import hashlib

import asyncpg

from shared.board_overrides import write_overrides
from shared.names import name_key
from shared.states import state_code
from shared.world import Physician, World
from validation.matching import id_key


def license_key(license_id: str) -> str:
    """Licence IDs are stored and looked up the way matching compares them ('MD.205357' is 'md205357')."""
    return id_key(license_id) or ""


def physician_key(p: Physician) -> str:
    """A stable id for a directory entry: its NPI, or a digest of name, birthday and first licence."""
    if p.npi:
        return f"npi:{p.npi}"
    first_license = f"{p.licenses[0].state}:{p.licenses[0].id}" if p.licenses else ""
    raw = f"{p.first_name}|{p.last_name}|{p.dob}|{first_license}".lower()
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()[:24]


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    keys = [physician_key(p) for p in world.physicians]
    licenses = [(state_code(lic.state) or lic.state.upper(), license_key(lic.id), key)
                for p, key in zip(world.physicians, keys, strict=True) for lic in p.licenses]
    certifications = [(c.board.upper(), c.id.strip(), key)
                      for p, key in zip(world.physicians, keys, strict=True) for c in p.certifications]
    roster = [(c.board.upper(), c.id.strip(), (c.roster and c.roster.first_name) or p.first_name,
               (c.roster and c.roster.last_name) or p.last_name, (c.roster and c.roster.dob) or p.dob)
              for p in world.physicians for c in p.certifications]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO activities (id, provider_id, data) VALUES ($1, $2, $3)"
            " ON CONFLICT (id) DO UPDATE SET provider_id = EXCLUDED.provider_id, data = EXCLUDED.data,"
            " updated_at = now() WHERE activities.data IS DISTINCT FROM EXCLUDED.data",
            [(a.id, a.provider_id, a.model_dump(mode="json")) for a in world.activities],
        )
        await write_overrides(conn, world.boards)
        await conn.executemany(
            "INSERT INTO physicians (physician_key, last_name, first_name, dob, npi, data, last_key, first_key)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (physician_key) DO UPDATE SET"
            " last_name = EXCLUDED.last_name, first_name = EXCLUDED.first_name, dob = EXCLUDED.dob,"
            " npi = EXCLUDED.npi, data = EXCLUDED.data, last_key = EXCLUDED.last_key, first_key = EXCLUDED.first_key",
            [(key, p.last_name, p.first_name, p.dob, p.npi, p.model_dump(mode="json"), name_key(p.last_name),
              name_key(p.first_name)) for p, key in zip(world.physicians, keys, strict=True)],
        )
        # A physician's licences and certifications are replaced as a whole, so a reload updates them.
        await conn.execute("DELETE FROM physician_licenses WHERE physician_key = ANY($1::text[])", keys)
        await conn.execute("DELETE FROM physician_certifications WHERE physician_key = ANY($1::text[])", keys)
        await conn.executemany("INSERT INTO physician_licenses VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", licenses)
        await conn.executemany("INSERT INTO physician_certifications VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                               certifications)
        await conn.executemany(
            "INSERT INTO roster (board, board_id, first_name, last_name, dob) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (board, board_id) DO UPDATE SET first_name = EXCLUDED.first_name,"
            " last_name = EXCLUDED.last_name, dob = EXCLUDED.dob", roster)
