"""glibc's allocator set for a long-running service: fixed thresholds and two arenas, so freed memory goes back.

glibc starts by serving blocks of 128 KiB or more with their own mmap, but each time such a block is freed it raises
that threshold to the block's size (up to 32 MiB) and the heap's trim threshold to twice it. Each larger buffer
freed ratchets both up, and from then on buffers of that size come from the heap and its free top stays resident: a
service's RSS creeps through a long run while its Python objects hold flat (docs/PERFORMANCE.md, "Memory through a
million records"). Setting the thresholds turns that adjustment off. Each thread that allocates gets an arena of its
own by default (up to eight a core), each keeping its own freed memory: intake's file parses and uvloop's resolver
threads share one instead. And glibc returns only the free top of a heap: the free pages inside it go back when the
process calls `malloc_trim`, which each service does once a burst of work is over.
"""
from __future__ import annotations

import asyncio
import ctypes
import time
from collections.abc import Callable
from typing import Any

# mallopt's parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 256 * 1024  # blocks this large get their own mapping, returned when freed
TRIM_THRESHOLD = 512 * 1024  # a free top of the heap larger than this is returned at once
ARENAS = 2  # the main thread's heap and one that every other thread shares


def tune_malloc() -> bool:
    """Fixes glibc's mmap and trim thresholds and its arena count; False where the C library is not glibc (musl has
    no mallopt)."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) for param, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, ARENAS)))


def _libc_function(name: str) -> Any:
    """The C library's function, from the process's own symbols (no search for the library, which runs ldconfig), or
    None where it has none (musl has no malloc_trim)."""
    return getattr(ctypes.CDLL(None), name, None)


# A burst is over when the process used less than this share of a core over a whole check, after at least BURST_CPU
# seconds of work since the last trim.
QUIET_SHARE = 0.02
BURST_CPU = 0.5
CHECK_SECONDS = 5.0  # the workers' own tick: no more wake-ups at rest than there are now


async def give_back_after_bursts(check_seconds: float = CHECK_SECONDS, *,
                                 clock: Callable[[], float] = time.process_time,
                                 trim: Callable[[int], int] | None = None) -> None:
    """Once a burst of work is over, glibc's `malloc_trim(0)`: the free pages inside the heap, which glibc never
    returns by itself, go back to the system. On the loop's thread, as the process is quiet then (a trim takes
    13-40 ms for a fragmented 120 MB heap; a thread of its own would be one more arena)."""
    trim = trim or _libc_function("malloc_trim")
    if trim is None:
        return
    used = last = clock()
    while True:
        await asyncio.sleep(check_seconds)
        now = clock()
        if now - used >= BURST_CPU and now - last < QUIET_SHARE * check_seconds:
            trim(0)  # its own CPU (tens of ms) lands in the next check's, below what a burst is
            used = now
        last = now
