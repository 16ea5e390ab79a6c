"""How a board judges a request, free of Kafka and SQL."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from board_sim.requests import BoardRequest
from shared.boards import Board
from shared.codes import ParsError, pars_error
from shared.dates import parse_month_day
from shared.names import same_name


@dataclass(frozen=True)
class Diplomate:
    board_id: str
    first_name: str
    last_name: str
    dob: str | None


@dataclass(frozen=True)
class Grant:
    """Credit the board already gave a learner for an activity: through PARS (record_id) or outside it."""

    completion_date: date
    points: Decimal
    record_id: object | None = None


@dataclass
class Ledger:
    """What the board granted, per (board ID, activity); judging a batch adds to it as it accepts."""

    grants: dict[tuple[str, str], list[Grant]] = field(default_factory=dict)

    def of(self, board_id: str, activity_id: str) -> list[Grant]:
        return self.grants.setdefault((board_id, activity_id), [])


def _same(a: str | None, b: str | None) -> bool:
    """Names as PARS compares them; a name reported as the roster spells it (the usual case) needs no normalising."""
    return a == b or same_name(a, b)


def _identity_codes(request: BoardRequest, board: Board, diplomate: Diplomate | None) -> list[str]:
    record = request.record
    if diplomate is None:
        return ["661"]
    codes = []
    reported, on_roster = parse_month_day(record.dob), parse_month_day(diplomate.dob)
    if board.requires_dob and record.dob and diplomate.dob and reported != on_roster:
        codes.append("664")
    if not (_same(record.first_name, diplomate.first_name) and _same(record.last_name, diplomate.last_name)):
        codes.append("665")
    return codes


def _credit_codes(request: BoardRequest, board: Board, granted: list[Grant]) -> list[str]:
    record = request.record
    maximum = board.activity_maximums.get(record.activity_id, record.activity_max_credits)
    points = [record.credits, *record.credit_types.values()]
    if maximum is not None and any(p > maximum for p in points):
        return ["674"]
    if any(g.record_id is None and g.completion_date == record.completion_date for g in granted):
        return ["709"]  # the board holds this completion already, reported outside PARS
    if board.one_completion_per_day and any(g.completion_date == record.completion_date for g in granted):
        return ["717"]
    if maximum is not None:
        held = sum((g.points for g in granted), Decimal(0))
        if held >= maximum:
            return ["710"]
        if held + record.credits > maximum:
            return ["711"]
    return []


def on_roster(request: BoardRequest, board: Board, by_id: Diplomate | None,
              named: list[Diplomate]) -> Diplomate | list[Diplomate] | None:
    """Who the record is on the board's roster: by its board ID, or, where PARS matched the learner without one
    (a board that does not require it), by name and date of birth; several such diplomates are ambiguous."""
    record = request.record
    if not record.learner_id_matched or board.requires_board_id:
        return by_id
    born = parse_month_day(record.dob)
    found = [d for d in named if _same(d.last_name, record.last_name) and
             _same(d.first_name, record.first_name) and (born is None or parse_month_day(d.dob) == born)]
    return found[0] if len(found) == 1 else found or None


def judge(request: BoardRequest, board: Board, diplomate: Diplomate | list[Diplomate] | None,
          ledger: Ledger) -> list[ParsError]:
    """The codes this board answers a request with; none means accepted (and the ledger then holds it)."""
    record = request.record
    if isinstance(diplomate, list):  # several diplomates match the name and date of birth
        return [pars_error("718")]
    if request.action == "delete":  # the board withdraws the credit it granted for this record
        granted = ledger.of(record.learner_id or "", record.activity_id)
        granted[:] = [g for g in granted if g.record_id != record.record_id]
        return []
    codes = _identity_codes(request, board, diplomate)
    if not codes:
        granted = ledger.of(diplomate.board_id if diplomate else "", record.activity_id)
        codes = _credit_codes(request, board, granted)
        if not codes:
            granted.append(Grant(record.completion_date, record.credits, record.record_id))
    return [pars_error(c) for c in codes]
