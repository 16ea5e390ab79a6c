"""The cyclic garbage collector held off while a batch is worked through.

A batch holds thousands of young objects (decoded messages, rows, statements' arguments) for the milliseconds it
takes. Every 700 allocations the collector's young pass walks the ones still held and promotes them, to be walked
again by the older generations' passes, though nearly all of them are freed by their reference counts once the batch
is done. Held off for the batch, the collector runs its next young pass after it, over what the batch left: the
cyclic garbage it made (collected then, as young as it would have been) and what it keeps. Raising the thresholds
instead saved as much CPU but let cyclic garbage reach the old generation and wait there: the services' memory grew
(docs/PERFORMANCE.md, "FastStream's header dicts" and "A batch freed when it is handled"). Used by every batch
consumer (shared/consumer.py), intake's file parses, the projection's rebuild and the generation of a world (pars_cli).
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_held() -> Iterator[None]:
    """No collection until the block ends. Nested or overlapping holds (two consumers' batches, a parse's thread)
    are one hold: the one that turned the collector off turns it on, so it is off at most as long as one block
    runs, never for good; a collector already off (`gc.disable()` elsewhere) stays off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
