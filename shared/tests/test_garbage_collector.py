"""A running service's cyclic collector passes over the young objects its batches hold far less often."""

import gc

import pytest

from shared.service import COLLECTOR_THRESHOLDS, Running, worker_app
from shared.settings import Settings

pytestmark = pytest.mark.integration
PYTHONS_THRESHOLDS = (700, 10, 10)


def passes_while_batches_are_held(batches: int = 200, held: int = 3_000) -> list[int]:
    """The collector's passes of each generation while `batches` batches of `held` containers come and go."""
    before = [generation["collections"] for generation in gc.get_stats()]
    for _ in range(batches):
        batch = [{"record": i} for i in range(held)]  # what a batch or a request holds while it is handled
        del batch
    return [generation["collections"] - b for generation, b in zip(gc.get_stats(), before, strict=True)]


async def test_a_running_service_collects_its_batches_young_objects_far_less_often(settings: Settings) -> None:
    async def setup(_settings: Settings, _broker: object) -> Running:
        return Running()

    app = worker_app("collector-test", setup, settings)
    thresholds = gc.get_threshold()
    try:
        gc.set_threshold(*PYTHONS_THRESHOLDS)  # another test's service may have set them in this process
        with_pythons = passes_while_batches_are_held()
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == COLLECTOR_THRESHOLDS
            running = passes_while_batches_are_held()
    finally:
        gc.set_threshold(*thresholds)
    assert with_pythons[0] >= 200  # Python's first threshold: a pass (or more) in every batch
    assert running[0] * 10 <= with_pythons[0]
    assert running[2] <= with_pythons[2]
