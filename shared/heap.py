"""glibc's allocator set for a long-running service: fixed thresholds and two arenas, so freed memory goes back.

glibc starts by serving blocks of 128 KiB or more with their own mmap, but each time such a block is freed it raises
that threshold to the block's size (up to 32 MiB) and the heap's trim threshold to twice it. A Kafka fetch or a large
statement result now and then ratchets both up, and from then on such buffers come from the heap and its free top
stays resident: a service's RSS creeps through a long run while its Python objects hold flat (docs/PERFORMANCE.md,
"Memory through a million records"). Setting the thresholds turns that adjustment off. Each thread that allocates
gets an arena of its own by default (up to eight a core), each keeping its own freed memory: intake's file parses
and uvloop's resolver threads share one instead.
"""
from __future__ import annotations

import ctypes
import ctypes.util

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
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) for param, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, ARENAS)))
