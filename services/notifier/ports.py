"""What the notifier's handlers need of storage; storage.py answers it with PostgreSQL, the tests with fakes."""

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar
from uuid import UUID

from notifier.events import Event
from notifier.rejections import KeptRejection, SubmittedDetails

E = TypeVar("E", bound=Event)


class RejectionTables(Protocol):
    """One transaction over the tables a batch of record events changes."""

    async def fresh_only(self, events: list[E]) -> list[E]:
        """The events not applied before, claimed in this transaction."""
        ...

    async def submitted_details(self, record_ids: Collection[UUID]) -> dict[UUID, SubmittedDetails]:
        """The details kept of these records while rejections did not carry them (before 2026-12-03)."""
        ...

    async def opted_in(self, provider_ids: Collection[str]) -> set[str]:
        """Of these providers, those who asked for PARS's own rejections in their digest."""
        ...

    async def keep(self, rejections: list[KeptRejection]) -> None:
        """Keep each rejection for its provider's digest, once (by event id)."""
        ...


class RejectionStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[RejectionTables]: ...


class ActivityTitles(Protocol):
    async def save_titles(self, titles: list[tuple[str, str]]) -> None:
        """(activity id, title) in order: the last one of an activity wins."""
        ...
