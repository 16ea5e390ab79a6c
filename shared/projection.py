"""What the projection offers its readers: the columns of the projector's `records` and `pars_rejections` views.

The projector writes them (projector/storage.py, in generations behind these views); intake reads them for record
lists, downloads and timelines. Both take the names from here, so a column renamed on one side fails at import
on the other instead of in a provider's request.
"""

from collections.abc import Iterable

# Each column with the type the projector sends it as (JSON columns go as their UTF-8 text).
RECORD_COLUMNS = {
    "record_id": "uuid", "submission_id": "uuid", "provider_id": "text", "credit_id": "text", "activity_id": "text",
    "target_kind": "text", "board": "text", "first_name": "text", "last_name": "text", "dob": "text",
    "learner_id": "text", "completion_date": "date", "submitted_at": "timestamptz", "credits": "numeric",
    "credit_types": "json", "status": "text", "errors": "json", "deleted": "boolean", "updated_at": "timestamptz",
}
REJECTION_COLUMNS = {
    "record_id": "uuid", "submission_id": "uuid", "provider_id": "text", "credit_id": "text", "activity_id": "text",
    "target_kind": "text", "board": "text", "first_name": "text", "last_name": "text", "dob": "text",
    "learner_id": "text", "completion_date": "date", "errors": "json", "rejected_at": "timestamptz",
}


def select_list(view: dict[str, str], columns: Iterable[str]) -> str:
    """`a, b, c` for a SELECT of these columns of a view; a name the view lacks is refused at once."""
    names = list(columns)
    unknown = [name for name in names if name not in view]
    if unknown:
        raise ValueError(f"the projection has no column {', '.join(unknown)}")
    return ", ".join(names)
