"""What the notifier's handlers need of storage; storage.py answers it with PostgreSQL, the tests with fakes."""

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from notifier.rejections import KeptRejection, SubmittedDetails


class RejectionTables(Protocol):
    """One transaction over the tables a batch of record events changes."""

    async def submitted_details(self, record_ids: Collection[UUID]) -> dict[UUID, SubmittedDetails]:
        """The details kept of these records while rejections did not carry them (before 2026-12-03)."""
        ...

    async def opted_in(self, provider_ids: Collection[str]) -> set[str]:
        """Of these providers, those who asked for PARS's own rejections in their digest."""
        ...

    async def keep(self, rejections: list[KeptRejection]) -> list[KeptRejection]:
        """Keep each rejection for its provider's digest, once: the rejections kept are the notifier's claim on their
        events (by event id, for good: digests mark them, nothing deletes them). Answers those not kept before."""
        ...


class RejectionStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[RejectionTables]: ...


class ActivityTitles(Protocol):
    async def save_titles(self, titles: list[tuple[str, str]]) -> None:
        """(activity id, title) in order: the last one of an activity wins."""
        ...
