"""A learner record's life: its statuses, and which event moves it from which status to which. Free of Kafka and SQL.

Validation keeps each live record's status (whether a Delete may go, and where), the projector shows it to the
provider, intake answers a waiting caller with it; all three read the moves here. Events are named by their
`event_type`, so pydantic models and the services' msgspec views look up alike.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class RecordStatus(StrEnum):
    SUBMITTED = "Submitted"  # kept; its board has yet to answer
    ACCEPTED = "Accepted"  # by its board, or by PARS alone for a target no board processes
    REJECTED = "Rejected"  # by its board
    DELETE_SUBMITTED = "Delete Submitted"  # its board has yet to withdraw the credit
    DELETED = "Deleted"  # its credit ID is free again (the projection keeps the row, flagged deleted)
    REJECTED_BY_PARS = "Rejected by PARS"  # never kept: PARS itself refused it


# A kept record holds its credit ID; while its board has yet to answer it cannot be deleted.
KEPT = frozenset({RecordStatus.SUBMITTED, RecordStatus.ACCEPTED, RecordStatus.REJECTED,
                  RecordStatus.DELETE_SUBMITTED})
WITH_BOARD = frozenset({RecordStatus.SUBMITTED, RecordStatus.DELETE_SUBMITTED})

# What a board's verdict or a delete makes of a kept record, whatever its status: these events move every kept
# record alike, which is what lets the projector and validation's status tracker apply them without reading the
# record's row (the table test checks it).
KEPT_STATUS_AFTER: Mapping[str, RecordStatus] = MappingProxyType({
    "RecordAccepted": RecordStatus.ACCEPTED,
    "RecordRejected": RecordStatus.REJECTED,
    "DeleteSubmitted": RecordStatus.DELETE_SUBMITTED,
    "RecordDeleted": RecordStatus.DELETED,
})
# What starts a record's life (it had no status).
_FIRST = {"RecordSubmitted": RecordStatus.SUBMITTED, "RecordRejectedByPars": RecordStatus.REJECTED_BY_PARS}

_MOVES: dict[tuple[str | None, str], RecordStatus] = {
    **{(None, event_type): status for event_type, status in _FIRST.items()},
    **{(kept, event_type): status for kept in KEPT for event_type, status in KEPT_STATUS_AFTER.items()},
}


def status_after(status: RecordStatus | str | None, event_type: str) -> RecordStatus | None:
    """A record's status after an event; `status` None: no record yet. A pair the lifecycle has no move for leaves
    the status as it was (the event is ignored): a second submission, a verdict on a record PARS never kept,
    anything after Deleted or Rejected by PARS."""
    moved = _MOVES.get((status, event_type))  # a status read as text hashes as its member does
    if moved is not None:
        return moved
    return None if status is None else RecordStatus(status)
