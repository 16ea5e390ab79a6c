"""When a board answers: after its latency, or in its overnight run; scaled for demos and tests."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.boards import shipped_boards

RECEIVED = datetime(2021, 11, 2, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("scale", "wait"), [(1.0, timedelta(days=1)), (0.001, timedelta(seconds=86.4)), (0, timedelta())]
)
def test_a_board_answers_after_its_latency(scale: float, wait: timedelta) -> None:
    assert shipped_boards()["ABOHNS"].answer_time(RECEIVED, scale) == RECEIVED + wait


@pytest.mark.parametrize(
    ("overnight_at", "answer"),
    [
        ("02:00", datetime(2021, 11, 3, 2, 0, tzinfo=UTC)),  # tonight's run
        ("18:00", datetime(2021, 11, 2, 18, 0, tzinfo=UTC)),  # today's run is still to come
        ("15:30", datetime(2021, 11, 3, 15, 30, tzinfo=UTC)),  # received as the run starts: the next one
    ],
)
def test_an_overnight_board_answers_in_its_next_run(overnight_at: str, answer: datetime) -> None:
    board = shipped_boards()["ABOHNS"].model_copy(update={"overnight_at": overnight_at})
    assert board.answer_time(RECEIVED, 1.0) == answer
    assert board.answer_time(RECEIVED, 0) == RECEIVED
    # Everything received before a run is answered in that same run.
    later = RECEIVED + timedelta(minutes=20)
    assert board.answer_time(later, 1.0) == answer
