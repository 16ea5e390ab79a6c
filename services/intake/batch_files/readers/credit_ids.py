"""Credit IDs for records reported without one (spreadsheet templates have no Credit ID column)."""

import hashlib

from shared.dates import parse_completion_date


def derived_credit_id(provider_id: str, activity_id: str, target_code: str, learner_id: str,
                      completion_date: str) -> str:
    """The same completion always gets the same credit ID, so a template's Delete row finds its Add row."""
    completed = parse_completion_date(completion_date)
    when = completed.isoformat() if completed else completion_date.strip()
    identity = "|".join(part.strip().upper() for part in (provider_id, activity_id, target_code, learner_id, when))
    return f"ccid:template:{hashlib.sha256(identity.encode()).hexdigest()[:24]}"
