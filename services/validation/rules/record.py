"""Rules about the record itself: its action, its credit ID, the target it names."""

from collections.abc import Callable

from shared.events import ReportedRecord
from shared.lifecycle import WITH_BOARD
from shared.names import same_name
from validation.rules.context import Context, blank, is_delete


def record_action(r: ReportedRecord, _: Context) -> list[str]:
    if blank(r.action):
        return ["601"]
    return [] if (r.action or "").strip().lower() in ("add", "delete") else ["602"]


def credit_id_present(r: ReportedRecord, _: Context) -> list[str]:
    return ["650"] if r.credit_id_required and blank(r.credit_id) else []


def credit_id_state(r: ReportedRecord, ctx: Context) -> list[str]:
    """An Add may not reuse a live credit ID (603); a Delete must name one (605)."""
    if is_delete(r):
        return [] if ctx.live is not None else ["605"]
    return ["603"] if ctx.live is not None else []


def delete_allowed_now(r: ReportedRecord, ctx: Context) -> list[str]:
    """A record still with its board (Submitted, or its delete pending) cannot be deleted yet. PARS has no code
    of its own for this; 998 says the record cannot be processed as reported now."""
    return ["998"] if ctx.live is not None and ctx.live_status in WITH_BOARD else []


def delete_matches_original(r: ReportedRecord, ctx: Context) -> list[str]:
    """A Delete repeats the original's fields; any field it gives that differs means no such record (605)."""
    live = ctx.live
    if live is None:
        return []
    given: list[tuple[str | None, str | None, Callable[[str, str | None], bool]]] = [
        (r.activity_id, live.activity_id, lambda a, b: a.strip() == b),
        (r.first_name, live.first_name, same_name),
        (r.last_name, live.last_name, same_name),
        (r.learner_id, live.learner_id, lambda a, b: a.strip() == (b or "")),
    ]
    if any(value is not None and not blank(value) and not same(value, original) for value, original, same in given):
        return ["605"]
    return []


def target_known(r: ReportedRecord, ctx: Context) -> list[str]:
    """The board (or state, or REMS program) must exist for the record's kind, and match the registration."""
    if ctx.board is None or ctx.board.kind != r.target.kind:
        return ["713"]
    if not blank(r.registration) and (r.registration or "").strip().upper() != ctx.board.code:
        return ["713"]
    return []
