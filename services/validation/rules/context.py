"""What PARS knows about a record while it checks it; the rules read only this and the record."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from shared.boards import Board
from shared.events import LearnerRecord, ReportedRecord
from shared.lifecycle import RecordStatus
from shared.world import Activity
from validation.matching import MatchResult


@dataclass(frozen=True)
class RosterEntry:
    """A real-time board's own record of a diplomate, checked while PARS validates."""

    board_id: str
    first_name: str
    last_name: str
    dob: str | None


@dataclass(frozen=True)
class Context:
    activity: Activity | None  # the provider's activity with the record's ID, if there is one
    board: Board | None  # the record's target (certifying board, state board, REMS program)
    today: date
    live: LearnerRecord | None = None  # the live record holding this credit ID for this target
    live_status: RecordStatus | None = None  # its status: one of lifecycle.KEPT
    diplomate: RosterEntry | None = None  # real-time boards: the roster entry for the board ID, if any
    match: MatchResult | None = None  # the physician directory's answer, for targets matched against it
    # credits.offered_credit_types(activity, board), derived once per batch by the handler (it was 5% of
    # validation's samples per record); None: the rule derives it
    offered: frozenset[str] | None = None
    # credits.credit_type_names(board), derived once per board and batch by the handler; None: the rules ask the board
    credit_type_names: Mapping[str, str] | None = None


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def is_delete(r: ReportedRecord) -> bool:
    return (r.action or "").strip().lower() == "delete"


def credit_key(r: ReportedRecord) -> str:
    """The credit ID a record is kept under; a record reported without one cannot collide with another."""
    return (r.credit_id or "").strip() or str(r.record_id)
