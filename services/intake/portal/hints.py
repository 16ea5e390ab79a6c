"""A fix hint for each PARS and board error code: what the provider's staff can change so the record goes through."""

from shared.codes import catalogue

# Filled per code; a code without its own hint gets one built from the catalogue's condition.
HINTS: dict[str, str] = {}


def fix_hint(code: str) -> str:
    if code in HINTS:
        return HINTS[code]
    info = catalogue().get(code)
    if info is None:
        return "Check the record's fields against the activity's registration and report it again."
    return f"PARS refuses a record when {info.condition}: correct that and report the record again."
