"""The PARS rules, as plain functions over one reported record and what PARS knows about it.

Each rule answers the codes it raises; `check` runs them all and answers every code, in code order.
"""

from collections.abc import Callable, Sequence
from functools import lru_cache

from shared.codes import ParsError, pars_error
from shared.events import ReportedRecord
from validation.rules.activity import (
    activity_present,
    activity_registered,
    completion_date_valid,
    delete_deadline,
    reporting_deadline,
)
from validation.rules.context import Context, RosterEntry, credit_key, is_delete
from validation.rules.credits import credit_types_valid, credits_valid, credits_within_maximum
from validation.rules.learner import (
    directory_match,
    identity_present,
    learner_id_type_valid,
    needs_directory_match,
    realtime_roster,
)
from validation.rules.record import (
    credit_id_present,
    credit_id_state,
    delete_allowed_now,
    delete_matches_original,
    record_action,
    target_known,
)
from validation.rules.rems import rems_fields

Rule = Callable[[ReportedRecord, Context], Sequence[str | ParsError]]

ADD_RULES: tuple[Rule, ...] = (
    record_action, credit_id_present, credit_id_state, target_known, identity_present, learner_id_type_valid,
    realtime_roster, directory_match, activity_present, activity_registered, completion_date_valid,
    reporting_deadline, credits_valid, credits_within_maximum, credit_types_valid, rems_fields,
)
# A Delete names a live record by its credit ID and repeats its fields; the board's delete deadline applies.
DELETE_RULES: tuple[Rule, ...] = (record_action, credit_id_present, credit_id_state, delete_matches_original,
                                  delete_allowed_now, delete_deadline)


# A code's error, built once: events only read it (678, which names a certificate, comes built by its rule).
_error = lru_cache(maxsize=None)(pars_error)


def check(record: ReportedRecord, ctx: Context) -> list[ParsError]:
    rules = DELETE_RULES if is_delete(record) else ADD_RULES
    found: dict[tuple[str, str], ParsError] = {}
    for rule in rules:
        items = rule(record, ctx)
        if not items:  # most records pass most rules
            continue
        for item in items:
            error = item if isinstance(item, ParsError) else _error(item)
            found[(error.code, error.message)] = error
    return [found[key] for key in sorted(found)] if found else []


__all__ = [
    "ADD_RULES", "DELETE_RULES", "Context", "RosterEntry", "check", "completion_date_valid", "credit_key",
    "credits_valid", "is_delete", "needs_directory_match",
]
