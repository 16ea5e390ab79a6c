"""The notifier's storage ports in memory: what the handler tests run against."""

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

from notifier.rejections import KeptRejection, SubmittedDetails


@dataclass
class FakeNotifierStore:
    """The notifier's tables as dicts; a transaction that raises leaves them as they were."""

    opted_in_providers: set[str] = field(default_factory=set)
    records: dict[UUID, SubmittedDetails] = field(default_factory=dict)
    rejections: dict[UUID, KeptRejection] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["FakeNotifierStore"]:
        saved = (dict(self.records), dict(self.rejections))
        try:
            yield self
        except BaseException:
            self.records, self.rejections = saved
            raise

    async def submitted_details(self, record_ids: Collection[UUID]) -> dict[UUID, SubmittedDetails]:
        return {i: self.records[i] for i in record_ids if i in self.records}

    async def opted_in(self, provider_ids: Collection[str]) -> set[str]:
        return set(provider_ids) & self.opted_in_providers

    async def keep(self, rejections: list[KeptRejection]) -> list[KeptRejection]:
        new = []
        for k in rejections:
            if k.event_id not in self.rejections:
                self.rejections[k.event_id] = k
                new.append(k)
        return new

    async def save_titles(self, titles: list[tuple[str, str]]) -> None:
        self.titles.update(titles)
