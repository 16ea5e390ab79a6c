"""REMS records carry the fields the REMS programs collect (boards.md).

PARS's code list has no code of its own for these, so a missing or unknown value is 998, the general
processing error, for the record as reported cannot be processed.
"""

from shared.events import ReportedRecord
from validation.rules.context import Context, blank

PROFESSIONS = frozenset({
    "Physician", "Advanced practice nurse", "Physician Assistant", "Dentist", "Podiatrist", "Nurse", "Pharmacist",
    "Optometrist", "Psychologist", "Veterinarian", "Other healthcare professional", "Other",
})
TIME_IN_PRACTICE = frozenset({
    "Trainee", "0-5 years post training", "6-10 years", "11-15 years", "16-20 years", "21+ years",
})
PRACTICE_AREAS = frozenset({
    "Addiction", "Anesthesiology", "Critical Care", "Dentistry", "Emergency", "Family Medicine", "Geriatric",
    "Hematology", "Hospice and/or Palliative Care", "Internal Medicine", "Neurology", "Obstetrics/Gynecology",
    "Oncology", "Ophthalmology", "Pain", "Pediatric", "Physical Medicine and Rehabilitation", "Psychiatry",
    "General Surgery", "Orthopedic surgery", "Other surgical specialty", "Urology", "Other", "N/A",
})
DEA_REGISTRATIONS = frozenset({"Individual", "Institutional", "None"})


def _one_of(value: str | None, allowed: frozenset[str]) -> bool:
    wanted = " ".join((value or "").split()).casefold()
    return any(wanted == a.casefold() for a in allowed)


def rems_fields(r: ReportedRecord, _: Context) -> list[str]:
    if r.target.kind != "rems":
        return []
    f = r.rems
    if f is None or not _one_of(f.profession, PROFESSIONS) or not _one_of(f.time_in_practice, TIME_IN_PRACTICE):
        return ["998"]
    optional = ((f.practice_area, PRACTICE_AREAS), (f.dea_registration, DEA_REGISTRATIONS))
    if any(not blank(value) and not _one_of(value, allowed) for value, allowed in optional):
        return ["998"]
    return []
