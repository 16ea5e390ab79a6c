"""A record's lifecycle, pair by pair: every (status, event) the pipeline can meet and what it leaves."""

from typing import get_args

import pytest

from shared import events
from shared.lifecycle import KEPT, KEPT_STATUS_AFTER, WITH_BOARD, RecordStatus, status_after

S = RecordStatus
EVENT_TYPES = [m.model_fields["event_type"].default for m in (
    events.RecordSubmitted, events.RecordRejectedByPars, events.RecordAccepted, events.RecordRejected,
    events.DeleteSubmitted, events.RecordDeleted)]
STATUSES: list[RecordStatus | None] = [None, *RecordStatus]

# The lifecycle as the services implement it; a pair not listed leaves the status as it was (the event is ignored).
MOVES: dict[tuple[RecordStatus | None, str], RecordStatus] = {
    (None, "RecordSubmitted"): S.SUBMITTED,
    (None, "RecordRejectedByPars"): S.REJECTED_BY_PARS,
    **{(kept, "RecordAccepted"): S.ACCEPTED for kept in (S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.DELETE_SUBMITTED)},
    **{(kept, "RecordRejected"): S.REJECTED for kept in (S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.DELETE_SUBMITTED)},
    **{(kept, "DeleteSubmitted"): S.DELETE_SUBMITTED
       for kept in (S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.DELETE_SUBMITTED)},
    **{(kept, "RecordDeleted"): S.DELETED for kept in (S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.DELETE_SUBMITTED)},
}


def test_the_statuses_are_the_ones_providers_read() -> None:
    assert [s.value for s in RecordStatus] == ["Submitted", "Accepted", "Rejected", "Delete Submitted", "Deleted",
                                               "Rejected by PARS"]


def test_every_record_event_is_in_the_table() -> None:
    union = get_args(events.RecordEvent)[0]
    assert set(EVENT_TYPES) == {model.model_fields["event_type"].default for model in get_args(union)}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("status", STATUSES, ids=lambda s: str(s))
def test_status_after(status: RecordStatus | None, event_type: str) -> None:
    assert status_after(status, event_type) == MOVES.get((status, event_type), status)


@pytest.mark.parametrize("status", [s for s in RecordStatus])
def test_a_status_read_back_as_text_moves_like_its_member(status: RecordStatus) -> None:
    for event_type in EVENT_TYPES:
        assert status_after(status.value, event_type) == status_after(status, event_type)
        assert type(status_after(status.value, event_type)) is RecordStatus


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_events_move_every_kept_record_alike(event_type: str) -> None:
    """What the projector and validation's status tracker rely on: they apply an event without reading the row."""
    moved = {status_after(kept, event_type) for kept in KEPT}
    if event_type in KEPT_STATUS_AFTER:
        assert moved == {KEPT_STATUS_AFTER[event_type]}
    else:  # a submission or a PARS rejection changes no kept record
        assert all(status_after(kept, event_type) == kept for kept in KEPT)


def test_a_record_with_its_board_is_a_kept_one() -> None:
    assert {S.SUBMITTED, S.DELETE_SUBMITTED} == WITH_BOARD and WITH_BOARD < KEPT
    assert S.DELETED not in KEPT and S.REJECTED_BY_PARS not in KEPT
