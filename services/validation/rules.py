"""The PARS rules, as plain functions over one reported record and what PARS knows about it.

Each rule answers the codes it raises; `check` runs them all and answers every code, in code order.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from shared.boards import Board
from shared.codes import ParsError, pars_error
from shared.dates import parse_completion_date
from shared.events import LearnerRecord, ReportedRecord
from shared.world import Activity


@dataclass(frozen=True)
class Context:
    """What PARS holds for a record: its activity (if the provider has one with that ID) and its board."""

    activity: Activity | None
    board: Board | None
    today: date
    live: LearnerRecord | None = None  # the live record holding this credit ID for this target


Rule = Callable[[ReportedRecord, Context], list[str]]


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def credit_key(r: ReportedRecord) -> str:
    """The credit ID a record is kept under; a record reported without one cannot collide with another."""
    return (r.credit_id or "").strip() or str(r.record_id)


def record_action(r: ReportedRecord, _: Context) -> list[str]:
    if _blank(r.action):
        return ["601"]
    return [] if r.action.strip().lower() in ("add", "delete") else ["602"]


def is_delete(r: ReportedRecord) -> bool:
    return (r.action or "").strip().lower() == "delete"


def credit_id_state(r: ReportedRecord, ctx: Context) -> list[str]:
    if is_delete(r):
        return [] if ctx.live is not None else ["605"]
    return ["603"] if ctx.live is not None else []


def required_fields(r: ReportedRecord, ctx: Context) -> list[str]:
    codes = []
    needs_id = ctx.board is None or ctx.board.requires_board_id
    if needs_id and _blank(r.learner_id):
        codes.append("621")
    if _blank(r.first_name):
        codes.append("622")
    if _blank(r.last_name):
        codes.append("623")
    needs_dob = ctx.board is None or ctx.board.requires_dob
    if needs_dob and _blank(r.dob):
        codes.append("624")
    if _blank(r.activity_id):
        codes.append("630")
    if _blank(r.completion_date):
        codes.append("631")
    if _blank(r.credits):
        codes.append("632")
    return codes


def activity_known(r: ReportedRecord, ctx: Context) -> list[str]:
    if _blank(r.activity_id):
        return []
    if ctx.activity is None:
        return ["690"]
    if r.target.kind == "moc" and r.target.code not in ctx.activity.moc:
        return ["670"]
    return []


def board_known(r: ReportedRecord, ctx: Context) -> list[str]:
    return ["713"] if ctx.board is None or ctx.board.kind != r.target.kind else []


def completion_date_valid(r: ReportedRecord, ctx: Context) -> list[str]:
    if _blank(r.completion_date):
        return []
    completed = parse_completion_date(r.completion_date)
    if completed is None or completed > ctx.today:
        return ["671"]
    activity = ctx.activity
    if activity is None:
        return []
    if completed < activity.start_date:
        return ["672"]
    last_day = activity.end_date
    if r.target.kind == "moc" and activity.credit_claim_date is not None:
        last_day = max(last_day, activity.credit_claim_date)  # MOC credit may be claimed until this date
    return ["671"] if completed > last_day else []


def _credit_codes(text: str) -> list[str]:
    try:
        credits = Decimal(text.strip())
    except InvalidOperation:
        return ["673"]
    if not credits.is_finite() or credits < 0:
        return ["673"]
    return [] if (credits * 4) % 1 == 0 else ["675"]


def credits_valid(r: ReportedRecord, _: Context) -> list[str]:
    codes = [] if _blank(r.credits) else _credit_codes(r.credits or "")
    for points in r.credit_types.values():  # each credit type's points are MOC points too
        codes += _credit_codes(points)
    return codes


ADD_RULES: tuple[Rule, ...] = (record_action, credit_id_state, required_fields, board_known, activity_known,
                               completion_date_valid, credits_valid)
# A Delete names a live record by its credit ID; its other fields are checked against that record later.
DELETE_RULES: tuple[Rule, ...] = (record_action, credit_id_state)


def check(record: ReportedRecord, ctx: Context) -> list[ParsError]:
    rules = DELETE_RULES if is_delete(record) else ADD_RULES
    codes = sorted({code for rule in rules for code in rule(record, ctx)})
    return [pars_error(code) for code in codes]
