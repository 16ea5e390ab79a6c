"""glibc set for a long run: large blocks keep their own mappings, threads share an arena, freed memory goes back."""
from __future__ import annotations

import subprocess
import sys

import pytest

from shared.heap import ARENAS, MMAP_THRESHOLD, give_back_after_bursts

# In a fresh interpreter: free an 8 MiB block (glibc then raises its mmap threshold to 8 MiB unless it is fixed),
# hold twenty blocks of 512 KiB, and print how much the [heap] mapping grew for them.
_PROBE = """
import sys
from shared.heap import tune_malloc
if sys.argv[1] == "fixed":
    assert tune_malloc()

def heap_kb():
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            return (end - start) // 1024
    return 0

big = bytearray(8 * 1024 * 1024)
del big
before = heap_kb()
held = [bytearray(512 * 1024) for _ in range(20)]
print(heap_kb() - before)
"""


def _heap_growth_kb(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps; glibc's allocator")
def test_large_blocks_stay_out_of_the_heap_after_a_larger_one_is_freed() -> None:
    assert MMAP_THRESHOLD < 512 * 1024  # the probe's blocks are ones the fixed threshold maps on their own
    # glibc's own adjustment: the freed 8 MiB block raised the threshold, so the 10 MiB came from the heap
    assert _heap_growth_kb("default") >= 18 * 512  # most of it: the heap may have had some room
    # fixed: each block is a mapping of its own, given back when freed
    assert _heap_growth_kb("fixed") < 512


# In a fresh interpreter: four threads allocate at once, each holding its blocks until all have; then glibc's own
# statistics, one "Arena N:" per arena, on standard error.
_THREADS = """
import ctypes, sys, threading
from shared.heap import tune_malloc
if sys.argv[1] == "tuned":
    assert tune_malloc()
all_hold = threading.Barrier(4)

def allocate():
    held = [bytearray(1000) for _ in range(2000)]
    all_hold.wait()

threads = [threading.Thread(target=allocate) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _THREADS, mode], capture_output=True, text=True, check=True)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_stats")
def test_threads_share_one_arena_besides_the_main_one() -> None:
    assert _arenas("default") > ARENAS  # glibc's own: an arena for each thread that allocated at once
    assert _arenas("tuned") == ARENAS


class _Done(Exception):
    pass


async def test_freed_memory_goes_back_once_after_each_burst() -> None:
    # The process's CPU seconds at start and at each check: a burst (1 s a check), quiet twice, a short stir
    # (0.1 s: no burst), quiet, another burst, quiet twice.
    readings = iter([0.0, 1.0, 2.0, 2.0, 2.0, 2.1, 2.1, 3.1, 4.1, 4.1, 4.1])
    trims: list[float] = []
    now = 0.0

    def clock() -> float:
        nonlocal now
        try:
            now = next(readings)
        except StopIteration:
            raise _Done from None
        return now

    def trim(pad: int) -> int:
        trims.append(now)
        return 1

    with pytest.raises(_Done):
        await give_back_after_bursts(0.001, clock=clock, trim=trim)
    assert trims == [2.0, 4.1]  # once at the end of each burst; never while busy, never again while quiet
