"""Reading the dates providers write: ISO, M/D/YYYY and MM/DD/YY."""

from datetime import date, datetime

_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")


def parse_completion_date(text: str) -> date | None:
    text = text.strip()
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
