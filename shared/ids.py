"""The ids PARS mints (records, submissions, batches, events, board requests): time-ordered UUIDs.

A random id (version 4) puts each new row at a random page of every b-tree that indexes it: once a table outgrows
the CPU's cache, each insert misses it, and after each checkpoint the first change of each page writes its whole
image to the WAL. An id that begins with the time (RFC 9562's version 7) adds each new entry at the right edge,
where the last ones went (docs/PERFORMANCE.md, "Time-ordered ids"). The ids stay UUIDs of 128 bits in the same
text form; what they reveal is when they were made, which every record's own timestamps say anyway.
"""

import itertools
import random
from collections.abc import Iterator
from datetime import datetime
from hashlib import sha1
from uuid import NAMESPACE_URL, UUID, uuid5

from uuid_utils.compat import uuid7

# Ids made by this module begin with their time: version 7 (random) and 8 (derived, below).
_TIME_ORDERED = frozenset({7, 8})
_TIME_SHIFT = 80  # the 48 bits of milliseconds lead
_CUSTOM_BITS = 74  # what the version and variant leave of the other 80


def new_id() -> UUID:
    """A new id: the time in milliseconds (48 bits), then 74 random bits (UUID version 7)."""
    return uuid7()


def time_ordered_id(milliseconds: int, bits: int, version: int = 7) -> UUID:
    """The id that `milliseconds` (since 1970) and 74 `bits` of the caller's make, laid out as RFC 9562 lays out
    version 7 (and 8)."""
    bits &= (1 << _CUSTOM_BITS) - 1
    high, low = bits >> 62, bits & ((1 << 62) - 1)  # 12 bits after the version, 62 after the variant
    return UUID(int=(milliseconds & ((1 << 48) - 1)) << _TIME_SHIFT | version << 76 | high << 64 | 0b10 << 62 | low)


def repeatable_ids(seed: int, start: datetime) -> Iterator[UUID]:
    """Time-ordered ids a millisecond apart from `start` on, the same ones for the same seed: for benchmarks whose
    runs compare the rows two versions of the code wrote."""
    draws = random.Random(seed)
    for milliseconds in itertools.count(int(start.timestamp() * 1000)):
        yield time_ordered_id(milliseconds, draws.getrandbits(_CUSTOM_BITS))


def derived_id(parent: UUID, name: str) -> UUID:
    """The id `name` always makes (a retry is recognised by it), in the place of its `parent` in time.

    A time-ordered parent gives its 48 bits of time and 74 bits of the name's SHA-1 (version 8: RFC 9562's layout
    for ids made some other way). Any other parent, an id minted before ids were time-ordered, gives
    uuid5(NAMESPACE_URL, name) as it always did, so a message about such a record still makes the same id."""
    if parent.version not in _TIME_ORDERED:
        return uuid5(NAMESPACE_URL, name)
    digest = int.from_bytes(sha1(name.encode(), usedforsecurity=False).digest()[:10], "big")
    return time_ordered_id(parent.int >> _TIME_SHIFT, digest, version=8)
