"""The column names of both PARS layouts (CONTRACT.md section 4) and recognising a header by them: names match
loosely (numbering such as "3. ACCME Activity ID" and notes such as "(MM/DD) -" are ignored, as are unknown
columns and a rejection file's `Error Code` / `Error Message`), and a layout's required columns are checked."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from intake.batch_files.model import BatchFileError, Layout

MIN_HEADER_COLUMNS = 3  # fewer recognised names than this and a row is data or noise, not a header

TEMPLATE_B_HEADER = (
    "Template", "Activity Registration", "ACCME Activity ID", "Learner ID Type", "Learner ID", "First Name",
    "Last Name", "Date of Birth", "Date of Completion", "Action", "Number of Credits",
    "Activity Certification (1st)", "Activity Certification (2nd)", "Activity Certification (3rd)",
    "Activity Certification (4th)", "Activity Certification (5th)", "Activity Certification (6th)",
)
CERTS = tuple(f"cert{n}" for n in range(1, 7))

# field -> (name as the template writes it, other names seen or plausible), per layout
_TEMPLATE_B_NAMES: dict[str, tuple[str, ...]] = {
    "template": ("Template", "Template Name"),
    "registration": ("Activity Registration", "Registration"),
    "activity_id": ("ACCME Activity ID", "Activity ID"),
    "learner_id_type": ("Learner ID Type",),
    "learner_id": ("Learner ID",),
    "first_name": ("First Name",),
    "last_name": ("Last Name",),
    "dob": ("Date of Birth", "DOB"),
    "completion_date": ("Date of Completion", "Completion Date"),
    "action": ("Action", "Record Action"),
    "credits": ("Number of Credits", "Credits"),
} | {cert: (f"activity certification #{n}",) for n, cert in enumerate(CERTS, start=1)}

# REMS columns: boards.md lists the fields, not the template's names for them, so these are chosen (and
# matched with a few alternatives): REMS Program, Learner Local ID, Profession, Time in Practice, State of
# Primary Practice, Practice Area, DEA Registration, Surgical Procedures.
REMS_NAMES: dict[str, tuple[str, ...]] = {
    "rems_program": ("REMS Program", "REMS Program Name"),
    "rems_learner_id": ("Learner Local ID", "Local Learner ID", "Local ID", "REMS Learner ID",
                        "Provider Learner ID"),
    "profession": ("Profession", "Learner Profession"),
    "time_in_practice": ("Time in Practice", "Years in Practice"),
    "practice_state": ("State of Primary Practice", "Primary Practice State", "Practice State"),
    "practice_area": ("Practice Area", "Area of Practice"),
    "dea_registration": ("DEA Registration", "DEA"),
    "surgical_procedures": ("Surgical Procedures", "Performs Surgical Procedures"),
}
_CME_MOC_NAMES: dict[str, tuple[str, ...]] = {
    "action": ("Record Action", "Action"),
    "activity_id": ("ACCME Activity ID", "Activity ID"),
    "completion_date": ("Completion Date", "Date of Completion"),
    "first_name": ("First Name",),
    "last_name": ("Last Name",),
    "dob": ("Date of Birth", "DOB"),
    "license_state": ("Licensing State", "License State", "State of Licensure"),
    "license_id": ("Licensing ID or NPI", "License ID or NPI", "Licensing ID", "License ID", "License Number"),
    "cme_credits": ("Number of CME Credits", "CME Credits"),
    "board": ("Certifying Board",),
    "board_id": ("Certifying Board ID", "Board ID"),
    "board_credits": ("Total Board Credits", "Board Credits"),
} | REMS_NAMES

_REQUIRED = {
    Layout.TEMPLATE_B: ("registration", "activity_id", "learner_id", "first_name", "last_name", "dob",
                        "completion_date", "action", "credits"),
    Layout.CME_MOC: ("action", "activity_id", "completion_date", "first_name", "last_name", "dob"),
}
# CME/MOC targets come in groups of columns: a group that is there at all needs these, and one group is needed.
_TARGET_GROUPS = {
    "state": ("license_state", "license_id", "cme_credits"),
    "board": ("board", "board_id", "board_credits"),
    "rems": ("rems_program", "rems_learner_id"),  # a REMS record missing the rest gets 998 from validation
}
# A rejection file's own columns: no field reads them on upload, and the writer replaces them.
ERROR_COLUMN_KEYS = frozenset({"error code", "error codes", "error message", "error messages"})
_CREDIT_TYPE = re.compile(r"^(?:additional )?credit type(?: \d+)?$")
_CREDIT_POINTS = re.compile(r"^(?:credits? awarded (?:for )?(?:additional )?credit type(?: \d+)?"
                            r"|(?:additional )?credit type(?: \d+)? credits?(?: awarded)?)$")

_NUMBERING = re.compile(r"^\s*\d+\s*[.)]?\s+|^\s*\d+\s*[.)]\s*")
_CERTIFICATION = re.compile(r"^activity certification\s*\(?\s*(\d)\s*(?:st|nd|rd|th)?\s*\)?")
_NOTE = re.compile(r"\s*(?:[(\[:*–—]|\s-|-\s*$)")
_NOT_WORD = re.compile(r"[^a-z0-9# ]+")


def column_key(name: str) -> str:
    """A header cell as a lookup key: 'Date of Birth (MM/DD) -' -> 'date of birth'; the ordinal of
    'Activity Certification (2nd)' is kept ('activity certification #2')."""
    text = " ".join(name.casefold().split())
    text = _NUMBERING.sub("", text, count=1)
    if match := _CERTIFICATION.match(text):
        return f"activity certification #{match[1]}"
    text = _NOTE.split(text, maxsplit=1)[0]
    return " ".join(_NOT_WORD.sub(" ", text).split())


def _lookup(names: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {column_key(alias): field for field, aliases in names.items() for alias in aliases}


_LOOKUPS = {Layout.TEMPLATE_B: _lookup(_TEMPLATE_B_NAMES), Layout.CME_MOC: _lookup(_CME_MOC_NAMES)}


@dataclass(frozen=True)
class Columns:
    """Where a layout's fields sit in the file (0-based column indexes)."""

    layout: Layout
    fields: Mapping[str, int]
    pairs: tuple[tuple[int, int | None], ...] = ()  # CME/MOC (credit type, credits awarded) columns
    width: int = 0

    @property
    def roles(self) -> list[str]:
        """Per column, how its date cells read: a birthday as month/day, a completion as a day, others as ISO."""
        roles = [""] * self.width
        for field, role in (("dob", "dob"), ("completion_date", "completion")):
            if field in self.fields:
                roles[self.fields[field]] = role
        return roles


def columns_for(layout: Layout, header: Sequence[str]) -> Columns:
    lookup = _LOOKUPS[layout]
    fields: dict[str, int] = {}
    pairs: list[list[Any]] = []
    unnumbered = count(1)  # 'Activity Certification' written without its ordinal: taken in order
    for index, name in enumerate(header):
        key = column_key(name)
        if layout is Layout.TEMPLATE_B and key == "activity certification":
            key = f"activity certification #{next(unnumbered)}"
        field = lookup.get(key)
        if field is not None:
            fields.setdefault(field, index)  # a repeated column: the first one counts
        elif layout is Layout.CME_MOC and _CREDIT_TYPE.match(key):
            pairs.append([index, None])
        elif layout is Layout.CME_MOC and _CREDIT_POINTS.match(key) and pairs and pairs[-1][1] is None:
            pairs[-1][1] = index
    return Columns(layout, fields, tuple((t, p) for t, p in pairs), len(header))


def recognise(header: Sequence[str], fallback: Layout) -> Columns | None:
    """The layout whose column names the row carries most of; None when the row is not a header."""
    candidates = [columns_for(layout, header) for layout in (Layout.TEMPLATE_B, Layout.CME_MOC)]
    scores = [len(c.fields) + len(c.pairs) for c in candidates]
    if max(scores) < MIN_HEADER_COLUMNS:
        return None
    if scores[0] == scores[1]:  # only the columns both layouts share: the file's usual layout decides
        return candidates[0] if fallback is Layout.TEMPLATE_B else candidates[1]
    return candidates[0] if scores[0] > scores[1] else candidates[1]


def _display(layout: Layout, field: str) -> str:
    names = _TEMPLATE_B_NAMES if layout is Layout.TEMPLATE_B else _CME_MOC_NAMES
    return names[field][0]


def check_required(columns: Columns) -> None:
    missing = [f for f in _REQUIRED[columns.layout] if f not in columns.fields]
    no_target = ""
    if columns.layout is Layout.CME_MOC:
        present = [g for g in _TARGET_GROUPS.values() if any(f in columns.fields for f in g)]
        missing += [f for group in present for f in group if f not in columns.fields]
        if not present:
            no_target = ("The header row names no target: the CME/MOC template needs the Licensing State, "
                         "Certifying Board or REMS Program columns.")
    if missing:
        names = ", ".join(_display(columns.layout, f) for f in missing)
        raise BatchFileError("missing_column", f"The header row is missing required column(s) of the "
                                               f"{columns.layout} layout: {names}. {no_target}".rstrip())
    if no_target:
        raise BatchFileError("missing_column", no_target)
