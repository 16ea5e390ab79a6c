"""Rules about credits: points present and valid, within the activity's maximum, credit types offered."""

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from shared.boards import Board
from shared.codes import ParsError, pars_error
from shared.events import ReportedRecord
from shared.world import Activity
from validation.rules.context import Context, blank

# Credit types with a code of their own when the activity does not offer them.
NOT_OFFERED = {"Patient Safety": "680", "Practice Assessment": "681"}
MAX_POINTS = Decimal(1000)  # no activity offers more; larger numbers are typing errors


@lru_cache(maxsize=4096)  # a batch repeats a few values thousands of times, each read by three rules
def points(text: str | None) -> Decimal | None:
    """Reported points as a number, or None when they are not a valid non-negative number."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() and Decimal(0) <= value <= MAX_POINTS else None


@lru_cache(maxsize=4096)
def _point_codes(text: str) -> tuple[str, ...]:
    value = points(text)
    if value is None:
        return ("673",)
    return () if (value * 4) % 1 == 0 else ("675",)


def credits_valid(r: ReportedRecord, _: Context) -> list[str]:
    codes: list[str] = []
    if blank(r.credits):
        if r.target.kind != "rems":  # a REMS record reports the completion, not credit
            codes.append("632")
    else:
        codes += _point_codes(r.credits or "")
    for claim in r.credit_types:  # each credit type's points are points too
        if not blank(claim.points):
            codes += _point_codes(claim.points or "")
    return codes


def credits_within_maximum(r: ReportedRecord, ctx: Context) -> list[str]:
    activity = ctx.activity
    if activity is None:
        return []
    maximum = activity.moc_credits if r.target.kind == "moc" else activity.cme_credits
    if maximum is None:
        return []
    value = points(r.credits)
    if value is not None and value > maximum:
        return ["674"]
    for claim in r.credit_types:  # each credit type's own points too
        value = points(claim.points) if not blank(claim.points) else None
        if value is not None and value > maximum:
            return ["674"]
    return []


def credit_type_names(board: Board) -> dict[str, str]:
    """Board.credit_type as a table: each name it knows (case folded) to the board's own name; the board's names win
    over aliases, and earlier ones over later ones, as there."""
    names = {alias.casefold(): known for alias, known in reversed(board.credit_type_aliases.items())}
    names.update((known.casefold(), known) for known in reversed(board.credit_types))
    return names


def credit_type(ctx: Context, name: str) -> str | None:
    """The board's own name for a reported credit type (case and spacing forgiven), or None; by the table the
    handler derived once per board and batch when there is one (Board.credit_type scans its lists each time)."""
    if ctx.board is None:
        return None
    if ctx.credit_type_names is None:
        return ctx.board.credit_type(name)
    return ctx.credit_type_names.get(" ".join(name.split()).casefold())


def offered_credit_types(activity: Activity, board: Board) -> frozenset[str]:
    """The activity's credit types for the board, by the board's own names (a world file may use aliases)."""
    return frozenset(board.credit_type(name) or name for name in activity.moc.get(board.code, []))


def credit_types_valid(r: ReportedRecord, ctx: Context) -> list[str | ParsError]:
    if r.target.kind != "moc":
        return []
    if not r.credit_types:
        return ["677"]
    board, activity = ctx.board, ctx.activity
    offered = None  # what the activity offers at this board, when it is registered for the board
    if activity is not None and board is not None and r.target.code in activity.moc:
        offered = ctx.offered if ctx.offered is not None else offered_credit_types(activity, board)
    codes: list[str | ParsError] = []
    seen: set[str] = set()
    for claim in r.credit_types:
        canonical = credit_type(ctx, claim.name)
        key = canonical or " ".join(claim.name.split()).casefold()
        if key in seen:
            codes.append(pars_error("678", certificate=claim.name.strip()))
        seen.add(key)
        if board is None:
            continue
        if canonical is None:
            codes.append("676")
        elif offered is not None and canonical not in offered:
            codes.append(NOT_OFFERED.get(canonical, "676"))
    return codes
