"""A fix hint for each PARS and board error code: what a provider's staff can change so the record goes through.

PARS's messages say what is wrong (and are reproduced exactly, typos included); these say what to do about it.
"""

from shared.codes import catalogue

HINTS: dict[str, str] = {
    "601": "Choose the record's action: Add to report a completion, Delete to withdraw one.",
    "602": "Set the action to Add or Delete; no other word is accepted.",
    "603": "This credit ID is already used by a record you reported. Give the new record its own credit ID, or "
           "delete the earlier record first.",
    "605": "A Delete must repeat the credit ID and the fields of the record it withdraws. Check the credit ID on "
           "the record's page, or delete the record from there.",
    "621": "Enter the learner's ID with this board (diplomate ID); the board needs it to find the learner.",
    "622": "Enter the learner's first name.",
    "623": "Enter the learner's last name.",
    "624": "Enter the learner's date of birth (month and day, MM/DD).",
    "630": "Enter the ACCME activity ID of the activity the learner completed.",
    "631": "Enter the date the learner completed the activity.",
    "632": "Enter the number of points (credits) the learner earned.",
    "650": "Give each record in the file or web-service report its own credit ID.",
    "661": "Check the learner's board ID against the learner's certificate: the board has no diplomate with it.",
    "664": "Check the learner's date of birth: it differs from the board's record for this ID.",
    "665": "Check the spelling of the learner's name: it differs from the board's record for this ID.",
    "670": "Register this activity for MOC with this board (Register Activity), or report the learner to a board "
           "the activity is registered with.",
    "671": "Enter a completion date within the activity's dates and not in the future (YYYY-MM-DD).",
    "672": "The completion date is before the activity started: correct the date.",
    "673": "Enter the points as a number of zero or more.",
    "674": "Report no more points (in all, and for each credit type) than the activity offers.",
    "675": "Report points in steps of a quarter point: 1, 1.25, 1.5, 1.75 and so on.",
    "676": "Choose only credit types this board knows and the activity is registered for.",
    "677": "Choose at least one credit type for the board.",
    "678": "Name each credit type once in a record; add its points together instead.",
    "680": "The activity is not registered for patient safety credit: leave that credit type out, or register it.",
    "681": "The activity is not registered for practice assessment credit: leave that credit type out, or register "
           "it.",
    "690": "Check the activity ID, or register the activity first (Register Activity).",
    "705": "The board's deadline for this reporting year has passed; the record cannot be reported through PARS. "
           "Contact the board.",
    "706": "The board's deadline for deleting records of that year has passed; contact the board to withdraw the "
           "credit.",
    "709": "The board already has this completion (reported outside PARS): nothing more to report.",
    "710": "The learner already holds the activity's maximum points: nothing more can be granted.",
    "711": "Lower the points so the learner's total for this activity stays within the activity's maximum.",
    "712": "Choose a learner ID type this board accepts.",
    "713": "Check the activity's registration with this board (its registration type or collaboration code).",
    "717": "The learner was already credited for this activity on that date; report another date or leave it out.",
    "718": "Add the learner's board ID, NPI or medical school so PARS can tell which learner this is.",
    "998": "Something failed while the record was processed. Report it again; if it fails again, contact ACCME.",
    "999": "Something failed while the record was processed. Report it again; if it fails again, contact ACCME.",
}


def fix_hint(code: str) -> str:
    if code in HINTS:
        return HINTS[code]
    info = catalogue().get(code)
    if info is None:  # an error the API raised itself (not a PARS code): its message says what to change
        return "Correct the field the message names and send the record again."
    return f"PARS refuses a record when {info.condition}: correct that and report the record again."
