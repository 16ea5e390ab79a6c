"""Rules about the activity and the completion date: registration, activity window, reporting deadlines."""

from datetime import date
from functools import lru_cache

from shared.dates import parse_completion_date
from shared.events import ReportedRecord
from validation.rules.context import Context, blank


def activity_present(r: ReportedRecord, _: Context) -> list[str]:
    return ["630"] if blank(r.activity_id) else []


def activity_registered(r: ReportedRecord, ctx: Context) -> list[str]:
    if blank(r.activity_id):
        return []
    activity = ctx.activity
    if activity is None:
        return ["690"]
    kind = r.target.kind  # only the record's kind is looked at (building all three cost more than the rule)
    if kind == "moc":
        offered = r.target.code in activity.moc
    elif kind == "state":
        offered = activity.cme_credits is not None
    else:
        offered = any(p.upper() == r.target.code for p in activity.rems)
    return [] if offered else ["670"]


def completion_date_valid(r: ReportedRecord, ctx: Context) -> list[str]:
    if blank(r.completion_date):
        return ["631"]
    completed = parse_completion_date(r.completion_date or "")
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


@lru_cache(maxsize=1024)  # a few years and deadlines, asked for every record
def _month_day_in(year: int, month_day: str) -> date:
    month, day = (int(part) for part in month_day.split("-"))
    return date(year, month, min(day, 28) if month == 2 and day == 29 else day)


def reporting_deadline(r: ReportedRecord, ctx: Context) -> list[str]:
    """A year's completions are taken until the board's deadline (March 31 by default) of the next year."""
    completed = parse_completion_date(r.completion_date or "")
    if completed is None or ctx.board is None:
        return []
    return ["705"] if ctx.today > _month_day_in(completed.year + 1, ctx.board.report_deadline) else []


def delete_deadline(r: ReportedRecord, ctx: Context) -> list[str]:
    """A record of a past year can be deleted until the board's delete deadline (December 31) of its year."""
    if ctx.live is None or ctx.board is None:
        return []
    completed = ctx.live.completion_date
    return ["706"] if ctx.today > _month_day_in(completed.year, ctx.board.delete_deadline) else []
