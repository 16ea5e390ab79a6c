"""Rules for an activity registration (POST /v1/activities): plain functions, no SQL, no I/O.

`ActivityRegistration` takes the body leniently, so that a wrong value comes back as a `Problem` naming the
field and the rule rather than as pydantic's 422. `check_activity` runs every rule, reports every problem in
field order, and builds the strict `shared.world.Activity` only when there is none.

Board-specific facts (../shared/pars/boards.md) are the tables below, so they can change in one place:
ABO cannot offer Improvement in Medical Practice together with Patient Safety; ABPMR takes activities
starting 2025-01-01 or later; ABPath discontinued Self-Assessment from 2021-01-01. The shipped catalogue
does not list Self-Assessment for ABPATH at all, so it is refused there as an unknown credit type whatever
the date; the date rule matters only when a world file adds it back (and then allows it before 2021).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, Field, ValidationError

from shared.boards import Board
from shared.world import Activity

ACTIVITY_ID_DIGITS = 9
CREDIT_STEP = Decimal("0.25")
MAX_CREDITS = Decimal("1000")

# board code -> pairs of credit types one activity cannot offer together
EXCLUSIVE_CREDIT_TYPES: dict[str, list[tuple[str, str]]] = {
    "ABO": [("Improvement in Medical Practice", "Patient Safety")],
}
# board code -> the earliest start date of an activity it takes
EARLIEST_START: dict[str, date] = {
    "ABPMR": date(2025, 1, 1),
}
# (board code, credit type) -> activities starting on or after this date cannot offer it
DISCONTINUED_CREDIT_TYPES: dict[tuple[str, str], date] = {
    ("ABPATH", "Self-Assessment"): date(2021, 1, 1),
}

DateInput = str | date | None
# bool is listed so that true/false reach the rules as booleans (refused) instead of being read as 1 and 0.
CreditsInput = bool | Decimal | float | int | str | None


class ActivityRegistration(BaseModel):
    """An activity registration as received: every field optional so the rules, not pydantic, judge it."""

    id: str | int | None = None
    provider_id: str | int | None = None  # defaults to the caller's
    title: str | None = None
    format: str | None = None
    internal_id: str | int | None = None
    start_date: DateInput = None
    end_date: DateInput = None
    credit_claim_date: DateInput = None
    cme_credits: CreditsInput = None
    moc_credits: CreditsInput = None
    moc: dict[str, list[str]] | None = Field(default_factory=dict)
    rems: list[str] | None = Field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    field: str  # "id", "end_date", "moc.ABO", "moc.ABOHNS.credit_types", "cme_credits", "rems.OPIOID", ...
    reason: str  # a sentence naming the value and the rule

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def _text(value: str | int | float | Decimal | None) -> str | None:
    """A field's text, stripped; None when absent or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(field: str, value: DateInput, problems: list[Problem], *, required: bool) -> date | None:
    if isinstance(value, date):
        return value
    text = _text(value)
    if text is None:
        if required:
            problems.append(Problem(field, f"{field} is required (an ISO date, YYYY-MM-DD)."))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(Problem(field, f"{field} {text!r} is not an ISO date (YYYY-MM-DD)."))
        return None


def _credits(field: str, value: CreditsInput, problems: list[Problem]) -> Decimal | None:
    """The credits value as a Decimal; None when absent or wrong (a wrong value adds a problem)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        problems.append(Problem(field, f"{field} {value!r} is not a number of credits."))
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        problems.append(Problem(field, f"{field} {value!r} is not a number of credits."))
        return None
    if not amount.is_finite():
        problems.append(Problem(field, f"{field} {value!r} is not a number of credits."))
        return None
    if amount <= 0:
        problems.append(Problem(field, f"{field} {value} must be more than 0 (credits are at least {CREDIT_STEP})."))
        return None
    if amount > MAX_CREDITS:
        problems.append(Problem(field, f"{field} {value} is too large: at most {MAX_CREDITS} credits."))
        return None
    if amount % CREDIT_STEP != 0:
        problems.append(Problem(field, f"{field} {value} is not a multiple of {CREDIT_STEP} (credits go in steps of "
                                       f"{CREDIT_STEP})."))
        return None
    return amount


def _find(code: str, boards: dict[str, Board]) -> tuple[str, Board] | None:
    """The catalogue key and board for a code, case forgiven."""
    if code in boards:
        return code, boards[code]
    for key, board in boards.items():
        if key.casefold() == code.casefold():
            return key, board
    return None


def _kind_name(kind: str) -> str:
    return {"moc": "an MOC board", "state": "a state licensing board", "rems": "a REMS program"}.get(kind, kind)


def _check_board(code: str, board: Board, names: list[str], start: date | None,
                 problems: list[Problem]) -> list[str]:
    """The board's canonical credit types for `names`, adding problems for what does not resolve or fit."""
    field = f"moc.{code}.credit_types"
    if not names:
        problems.append(Problem(field, f"MOC board {code} lists no credit type: name at least one of "
                                       f"{', '.join(board.credit_types)}."))
    resolved: list[str] = []
    given_as: dict[str, str] = {}
    for name in names:
        if not name.strip():
            problems.append(Problem(field, f"a credit type of MOC board {code} is blank."))
            continue
        canonical = board.credit_type(name)
        if canonical is None:
            reason = f"credit type {name!r} is not one that {code} accepts ({', '.join(board.credit_types)})"
            for (board_code, discontinued), since in DISCONTINUED_CREDIT_TYPES.items():
                if board_code == code and discontinued.casefold() == " ".join(name.split()).casefold():
                    reason += f"; {code} discontinued {discontinued} from {since.isoformat()}"
            problems.append(Problem(field, reason + "."))
            continue
        if canonical in given_as:
            problems.append(Problem(field, f"credit type {canonical!r} of {code} is listed more than once "
                                           f"(as {given_as[canonical]!r} and {name!r})."))
            continue
        given_as[canonical] = name
        resolved.append(canonical)

    for first, second in EXCLUSIVE_CREDIT_TYPES.get(code, []):
        if first in given_as and second in given_as:
            problems.append(Problem(field, f"{code} activities cannot offer both {first!r} and {second!r}."))
    if start is not None:
        for (board_code, credit_type), since in DISCONTINUED_CREDIT_TYPES.items():
            if board_code == code and credit_type in given_as and start >= since:
                problems.append(Problem(field, f"{code} discontinued {credit_type!r} for activities starting "
                                               f"{since.isoformat()} or later; this one starts "
                                               f"{start.isoformat()}."))
    return resolved


def _check_moc(moc: dict[str, list[str]], start: date | None, boards: dict[str, Board],
               problems: list[Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for given_code, names in moc.items():
        code = given_code.strip().upper()
        if not code:
            problems.append(Problem("moc", "moc has a blank board code."))
            continue
        found = _find(code, boards)
        if found is None:
            problems.append(Problem(f"moc.{code}", f"board {given_code!r} is not a known certifying board."))
            continue
        key, board = found
        if board.kind != "moc":
            problems.append(Problem(f"moc.{code}", f"board {given_code!r} is {_kind_name(board.kind)}, not an MOC "
                                                   f"board; only MOC boards go under moc."))
            continue
        if key in out:
            problems.append(Problem(f"moc.{code}", f"MOC board {code} is listed more than once."))
            continue
        earliest = EARLIEST_START.get(key)
        if earliest is not None and start is not None and start < earliest:
            problems.append(Problem(f"moc.{code}", f"{code} takes only activities starting {earliest.isoformat()} "
                                                   f"or later; this one starts {start.isoformat()}."))
        out[key] = _check_board(key, board, names, start, problems)
    return out


def _check_rems(rems: list[str], boards: dict[str, Board], problems: list[Problem]) -> list[str]:
    out: list[str] = []
    for given in rems:
        code = given.strip().upper()
        if not code:
            problems.append(Problem("rems", "rems has a blank program code."))
            continue
        found = _find(code, boards)
        if found is None:
            problems.append(Problem(f"rems.{code}", f"REMS program {given!r} is not a known REMS program."))
            continue
        key, board = found
        if board.kind != "rems":
            problems.append(Problem(f"rems.{code}", f"{given!r} is {_kind_name(board.kind)}, not a REMS program."))
            continue
        if key in out:
            problems.append(Problem(f"rems.{code}", f"REMS program {code} is listed more than once."))
            continue
        out.append(key)
    return out


def check_activity(reg: ActivityRegistration, provider_id: str,
                   boards: dict[str, Board]) -> tuple[Activity | None, list[Problem]]:
    """Check a registration for the calling provider against the boards PARS knows.

    Answers the strict Activity (provider filled in, board codes as the catalogue keys them, credit types by
    the board's own names) and no problems, or None and every problem found, in field order.
    """
    problems: list[Problem] = []

    activity_id = _text(reg.id)
    if activity_id is None:
        problems.append(Problem("id", "id, the ACCME activity ID, is required."))
    elif not (len(activity_id) == ACTIVITY_ID_DIGITS and activity_id.isascii() and activity_id.isdigit()):
        problems.append(Problem("id", f"id {activity_id!r} must be exactly {ACTIVITY_ID_DIGITS} digits "
                                      f"(the ACCME activity ID)."))

    given_provider = _text(reg.provider_id)
    if given_provider is not None and given_provider != provider_id:
        problems.append(Problem("provider_id", f"provider_id {given_provider!r} is not yours ({provider_id!r}): "
                                               f"a provider registers only its own activities."))

    title = _text(reg.title)
    if title is None:
        problems.append(Problem("title", "title is required."))

    start = _date("start_date", reg.start_date, problems, required=True)
    end = _date("end_date", reg.end_date, problems, required=True)
    if start is not None and end is not None and start > end:
        problems.append(Problem("end_date", f"end_date {end.isoformat()} is before start_date "
                                            f"{start.isoformat()}."))
    claim = _date("credit_claim_date", reg.credit_claim_date, problems, required=False)
    if claim is not None and end is not None and claim < end:
        problems.append(Problem("credit_claim_date", f"credit_claim_date {claim.isoformat()} is before end_date "
                                                     f"{end.isoformat()}: learners must be able to claim credit "
                                                     f"until the activity ends."))

    moc = reg.moc or {}
    cme_given = _text(reg.cme_credits) is not None
    moc_given = _text(reg.moc_credits) is not None
    if not cme_given and not moc_given:
        problems.append(Problem("cme_credits", "at least one of cme_credits or moc_credits is required."))
    cme_credits = _credits("cme_credits", reg.cme_credits, problems)
    moc_credits = _credits("moc_credits", reg.moc_credits, problems)
    if moc and not moc_given:
        problems.append(Problem("moc_credits", f"moc_credits is required when moc names boards "
                                               f"({', '.join(moc)})."))
    if moc_given and not moc:
        problems.append(Problem("moc", f"moc_credits is {reg.moc_credits} but moc names no board: name the MOC "
                                       f"boards and their credit types, or leave moc_credits out."))

    checked_moc = _check_moc(moc, start, boards, problems)
    checked_rems = _check_rems(reg.rems or [], boards, problems)

    if problems:
        return None, problems
    try:
        activity = Activity(
            id=activity_id,
            provider_id=provider_id,
            title=title,
            format=_text(reg.format) or "Live Course",
            internal_id=_text(reg.internal_id),
            start_date=start,
            end_date=end,
            credit_claim_date=claim,
            cme_credits=cme_credits,
            moc_credits=moc_credits,
            moc=checked_moc,
            rems=checked_rems,
        )
    except ValidationError as exc:  # the rules above should leave nothing for the strict model to refuse
        return None, [Problem(".".join(str(p) for p in err["loc"]) or "activity", err["msg"])
                      for err in exc.errors()]
    return activity, []
