"""From a checked record to the events that record's life starts with."""

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from shared.codes import pars_error
from shared.dates import normalize_month_day, parse_completion_date
from shared.events import (
    DeleteSubmitted,
    Envelope,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejectedByPars,
    RecordSubmitted,
    ReportedRecord,
    SubmitRecord,
)
from shared.lifecycle import KEPT_STATUS_AFTER, RecordStatus, status_after
from validation.rules import Context, check, credit_key, is_delete
from validation.rules.context import blank
from validation.rules.credits import credit_type, points

# A batch repeats a few birthdays thousands of times (as dates.parse_month_day, which it calls, is cached for).
_month_day = lru_cache(maxsize=8192)(normalize_month_day)


@dataclass(frozen=True)
class Decision:
    events: list[Envelope]
    keep: LearnerRecord | None = None  # becomes the live record for its credit ID
    keep_status: RecordStatus = RecordStatus.SUBMITTED
    release: LearnerRecord | None = None  # no longer holds its credit ID
    mark: RecordStatus | None = None  # the live record's new status


def _learner_id(r: ReportedRecord, ctx: Context) -> str | None:
    """The reported ID; for a board that matches without one (ABS), the ID the directory found."""
    if r.learner_id and r.learner_id.strip():
        return r.learner_id.strip()
    if r.target.kind == "moc" and ctx.match is not None and ctx.match.learner is not None:
        return next((cid for board, cid in ctx.match.learner.certifications if board == r.target.code), None)
    return r.npi


def kept_record(command: SubmitRecord, ctx: Context) -> LearnerRecord:
    """The record as PARS keeps it; called only once every rule passed, so each value parses."""
    r = command.record
    assert r.activity_id and r.first_name and r.last_name and r.completion_date
    completed = parse_completion_date(r.completion_date)
    assert completed is not None
    total = points(r.credits) or Decimal(0)
    credit_types = {
        credit_type(ctx, c.name) or c.name: points(c.points) if not blank(c.points) else total for c in r.credit_types
    }
    return LearnerRecord(
        record_id=r.record_id, submission_id=r.submission_id, provider_id=r.provider_id, channel=r.channel,
        credit_id=credit_key(r), activity_id=r.activity_id.strip(),
        first_name=r.first_name.strip(), last_name=r.last_name.strip(), dob=_month_day(r.dob), npi=r.npi,
        completion_date=completed, target=r.target, learner_id=_learner_id(r, ctx), credits=total,
        learner_id_matched=r.target.kind == "moc" and blank(r.learner_id) and ctx.match is not None,
        credit_types={name: value or Decimal(0) for name, value in credit_types.items()},
        activity_max_credits=_maximum(ctx, r.target.kind), batch_id=r.batch_id, row_number=r.row_number,
    )


def _maximum(ctx: Context, kind: str) -> Decimal | None:
    if ctx.activity is None:
        return None
    return ctx.activity.moc_credits if kind == "moc" else ctx.activity.cme_credits


def decide(command: SubmitRecord, ctx: Context) -> Decision:
    r = command.record
    envelope = {"correlation_id": command.correlation_id, "provider_id": r.provider_id,
                "submission_id": r.submission_id}
    errors = check(r, ctx)
    if errors:
        return Decision([RecordRejectedByPars(record_id=r.record_id, record=r, errors=errors, **envelope)])
    needs_board = ctx.board is not None and ctx.board.needs_board
    if is_delete(r):
        live = ctx.live
        assert live is not None
        common = {"record_id": live.record_id, "target": live.target, "reported_as": r.record_id, **envelope}
        if needs_board and ctx.live_status == RecordStatus.ACCEPTED:  # the board granted credit: it must withdraw it
            withdraw = DeleteSubmitted(**common)
            return Decision([withdraw], mark=status_after(ctx.live_status, withdraw.event_type))
        return Decision([RecordDeleted(**common)], release=live)  # rejected, or never at a board: gone at once
    record = kept_record(command, ctx)
    events: list[Envelope] = [RecordSubmitted(record_id=r.record_id, record=record, needs_board=needs_board,
                                              **envelope)]
    if not needs_board:
        events.append(RecordAccepted(record_id=r.record_id, target=r.target, **envelope))
    return Decision(events, keep=record, keep_status=status_of(None, events))


def status_of(status: RecordStatus | str | None, events: list[Envelope]) -> RecordStatus:
    """A record's status once `events` (a decision's, in order) apply to it."""
    for event in events:
        status = status_after(status, event.event_type)
    assert status is not None
    return RecordStatus(status)


def unexpected_failure(command: SubmitRecord) -> Decision:
    """A record PARS could not process (unreadable, or a failure no rule foresaw): rejected with 999."""
    r = command.record
    return Decision([RecordRejectedByPars(
        record_id=r.record_id, record=r, errors=[pars_error("999")], correlation_id=command.correlation_id,
        provider_id=r.provider_id, submission_id=r.submission_id)])


def dry_run_answer(r: ReportedRecord, decision: Decision) -> dict[str, object]:
    """What the learner validation tool tells a provider about one record: its would-be status and codes."""
    first = decision.events[0]
    if isinstance(first, RecordRejectedByPars):
        return {"record_id": str(r.record_id), "status": status_of(None, [first]),
                "errors": [e.model_dump(mode="json") for e in first.errors]}
    # A Delete's events apply to the record it deletes, a kept one: they move every kept record alike.
    status = KEPT_STATUS_AFTER.get(first.event_type) or decision.keep_status
    return {"record_id": str(r.record_id), "status": status, "errors": []}
