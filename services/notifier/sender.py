"""Closes each digest window on time and sends its digests; a failing mail server only delays its own.

Order of durability: a digest and its rejections are written before any e-mail leaves; the digest is
marked sent after the SMTP server took it. A crash in between resends the same message (same Message-ID),
which mail clients show once; nothing is ever dropped.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import UUID

import asyncpg

from notifier import storage
from notifier.digests import backoff, compose, window_start
from shared.consumer import TRANSIENT
from shared.logging import get_logger
from shared.metrics import count_digest
from shared.settings import Settings

log = get_logger(__name__)
Send = Callable[[EmailMessage], Awaitable[None]]


class DigestSender:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, send: Send) -> None:
        self._pool = pool
        self._settings = settings
        self._send = send
        self._task: asyncio.Task[None] | None = None

    @property
    def _seconds(self) -> float:
        return self._settings.digest_seconds

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="digest-sender")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def close_windows(self, now: datetime) -> list[UUID]:
        """Close the window that ended last (and with it, anything older still waiting)."""
        end = window_start(now, self._seconds)
        async with self._pool.acquire() as conn, conn.transaction():
            return await storage.close_window(conn, end - timedelta(seconds=self._seconds), end)

    async def send_due(self) -> int:
        due = await storage.lease_due(self._pool)
        results = await asyncio.gather(*(self._send_one(d) for d in due))  # one slow server holds up no other
        return sum(results)

    async def _send_one(self, did: UUID) -> bool:
        digest = await storage.load_digest(self._pool, did)
        try:
            await self._send(compose(digest, self._settings.mail_from, self._settings.record_page_url()))
        except Exception as exc:  # the server refused or is away: this digest waits, the others go on
            tries = await storage.attempts(self._pool, did) + 1
            await storage.mark_failed(self._pool, did, repr(exc), backoff(tries))
            log.warning("digest not sent; will retry", digest_id=str(did), attempts=tries, error=repr(exc))
            count_digest(sent=False)
            return False
        await storage.mark_sent(self._pool, did)
        count_digest(sent=True)
        log.info("digest sent", digest_id=str(did), rejections=len(digest.rejections))
        return True

    async def _run(self) -> None:
        while True:
            now = datetime.now(UTC)
            try:
                await self.close_windows(now)
                await self.send_due()
            except TRANSIENT as exc:
                log.warning("digest round failed; next round retries", error=repr(exc))
            except Exception:  # a bug must not end digests for good: log it, and the next round tries again
                log.exception("digest round failed")
            # Wake at the next window's end, and at least every few seconds for retries.
            next_end = window_start(now, self._seconds) + timedelta(seconds=self._seconds)
            pause = min((next_end - datetime.now(UTC)).total_seconds(), 5.0)
            await asyncio.sleep(max(pause, 0.05) + 0.01)
