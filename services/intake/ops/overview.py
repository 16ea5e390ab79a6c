"""The console's other views: every service's readiness, and the batch files in progress."""

import asyncio
from typing import Any

import asyncpg
import httpx

from shared.service_registry import SERVICES, Service
from shared.settings import Settings, connect_host

HEALTH_WITHIN = 5.0  # seconds; a service that does not answer by then is shown as not answering
RECENT_BATCHES = "10 minutes"  # finished batches stay on the page this long, at 100 %


async def _ready(client: httpx.AsyncClient, name: str, url: str) -> dict[str, Any]:
    try:
        answer = await client.get(url)
    except httpx.HTTPError as exc:
        return {"service": name, "ready": False, "status": None, "error": type(exc).__name__}
    return {"service": name, "ready": answer.status_code == 200, "status": answer.status_code, "error": None}


async def services_health(settings: Settings) -> list[dict[str, Any]]:
    """Each service's /readyz, asked on the port the stack's settings give it (intake: the API's own)."""
    def url(service: Service) -> str:
        host = settings.api_host if service.health_port_offset is None else settings.health_host
        return f"http://{connect_host(host)}:{settings.service_port(service.name)}/readyz"

    async with httpx.AsyncClient(timeout=HEALTH_WITHIN) as client:
        return list(await asyncio.gather(*(_ready(client, s.name, url(s)) for s in SERVICES)))


async def batches_in_progress(pool: asyncpg.Pool, limit: int = 50) -> list[dict[str, Any]]:
    """Batches still processing, and those finished lately, with how many of their records are decided (the tally
    intake keeps as validation answers: added + rejected of records)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT batch_id::text, provider_id, file_name, format, status, records, added + rejected AS decided,"
            " added, rejected, uploaded_at, completed_at FROM batches"
            f" WHERE status = 'processing' OR completed_at > now() - interval '{RECENT_BATCHES}'"
            " ORDER BY uploaded_at DESC LIMIT $1", limit)
    return [dict(r, uploaded_at=r["uploaded_at"].isoformat(),
                 completed_at=r["completed_at"] and r["completed_at"].isoformat()) for r in rows]
