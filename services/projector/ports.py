"""What the projector's handlers need of storage, as protocols: storage.py keeps them in PostgreSQL, the handler
tests in dicts (tests/fakes.py)."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from projector.events import RecordEvent
from projector.folding import RecordChange, RejectionRow
from shared.world import Activity


class GenerationWriter(Protocol):
    """One generation of the projection's tables, inside one transaction; each call is one statement."""

    async def append_timeline(self, events: Sequence[RecordEvent]) -> set[UUID]:
        """Add the events to their records' timelines; answers the ids that were new (the ones to apply)."""
        ...

    async def save_changes(self, changes: dict[UUID, RecordChange]) -> None:
        """Create the rows the batch submitted and the projection has not, patch the ones it has."""
        ...

    async def save_rejections(self, rows: Sequence[RejectionRow]) -> None:
        """Keep PARS's rejections; one seen before stays as it was."""
        ...


class ProjectionStore(Protocol):
    def active(self) -> AbstractAsyncContextManager[GenerationWriter]:
        """A transaction on the generation readers see, which no rebuild swaps meanwhile."""
        ...

    async def save_activities(self, activities: Sequence[Activity]) -> None:
        """The latest registration of each activity wins; saving one twice changes nothing."""
        ...
