"""How a board judges a request, free of Kafka and SQL."""

from dataclasses import dataclass

from shared.boards import Board
from shared.codes import ParsError, pars_error
from shared.dates import parse_month_day
from shared.events import ProcessBoardRequest
from shared.names import same_name


@dataclass(frozen=True)
class Diplomate:
    board_id: str
    first_name: str
    last_name: str
    dob: str | None


def judge(request: ProcessBoardRequest, board: Board, diplomate: Diplomate | None) -> list[ParsError]:
    """The codes this board answers a request with; none means accepted."""
    if request.action == "delete":
        return []
    record = request.record
    if diplomate is None:
        return [pars_error("661")]
    codes = []
    reported, on_roster = parse_month_day(record.dob), parse_month_day(diplomate.dob)
    if board.requires_dob and record.dob and diplomate.dob and reported != on_roster:
        codes.append("664")
    if not (same_name(record.first_name, diplomate.first_name) and same_name(record.last_name, diplomate.last_name)):
        codes.append("665")
    return [pars_error(c) for c in codes]
