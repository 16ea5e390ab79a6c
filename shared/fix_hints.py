"""One line per PARS code on how a provider fixes the record: the digest shows it under the message, the portal
beside it on the record's page and the Add Learner form. PARS's messages say what is wrong; these, what to do."""

HINTS: dict[str, str] = {
    "601": "Give the record an action: Add or Delete.",
    "602": "Use Add or Delete as the record action.",
    "603": "This credit ID is already used by a live record: give the new record its own credit ID.",
    "605": "A Delete must repeat the credit ID and fields of a live record; check them against the original.",
    "621": "Add the learner's board ID (diplomate ID) for this board.",
    "622": "Add the learner's first name.",
    "623": "Add the learner's last name.",
    "624": "Add the learner's date of birth as MM/DD.",
    "630": "Add the 9-digit ACCME activity ID.",
    "631": "Add the date the learner completed the activity.",
    "632": "Add the number of credits the learner earned.",
    "650": "Give every web-service and XML record its credit ID.",
    "661": "Check the board ID with the learner: the board has no diplomate with this ID.",
    "664": "Check the date of birth (MM/DD) with the learner: it differs from the board's record.",
    "665": "Check the spelling of the learner's name against the board's record.",
    "670": "Register the activity for this board, or report the record to a board it is registered for.",
    "671": "Use a completion date inside the activity's dates, not in the future.",
    "672": "The completion date falls before the activity started: correct it.",
    "673": "Report credits as a number, such as 1.5.",
    "674": "Report no more credits than the activity offers.",
    "675": "Report credits in steps of 0.25.",
    "676": "Use a credit type the board knows and the activity is registered for.",
    "677": "Name at least one credit type for this board.",
    "678": "Name each credit type once per record.",
    "680": "The activity offers no patient safety credit: remove it or update the activity.",
    "681": "The activity offers no practice assessment credit: remove it or update the activity.",
    "690": "Check the activity ID: your organization has no activity with it.",
    "705": "The reporting year is closed for this board; contact the board about late credit.",
    "706": "The delete deadline has passed; contact the board to withdraw the credit.",
    "709": "The board already holds this completion, reported outside PARS: no need to report it again.",
    "710": "The learner already has the most points this activity can give.",
    "711": "Report fewer points: this record would pass the activity's maximum for the learner.",
    "712": "Use the learner ID type the board expects.",
    "713": "Use the registration (board or program) the activity is registered for.",
    "717": "The board credits one completion of this activity a day: report the other completion on its own day.",
    "718": "Add the NPI, licence or board ID so PARS can tell which learner this is.",
    "998": "Check the record's fields against the PARS template and send it again.",
    "999": "Send the record again; if it fails again, contact PARS support.",
}


def fix_hint(code: str) -> str:
    return HINTS.get(code, "Correct the record and report it again.")
