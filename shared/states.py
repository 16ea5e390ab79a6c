"""US states and territories as PARS takes them: a two-letter code or the full name (any case, any spacing)."""

STATES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "DC": "District of Columbia",
    "PR": "Puerto Rico",
    "VI": "Virgin Islands",
    "GU": "Guam",
}

# Other spellings of a few names seen in provider files.
_ALIASES = {
    "us virgin islands": "VI",
    "u.s. virgin islands": "VI",
    "united states virgin islands": "VI",
    "virgin islands of the united states": "VI",
    "washington dc": "DC",
    "washington d.c.": "DC",
    "washington, dc": "DC",
    "washington, d.c.": "DC",
    "d.c.": "DC",
}

_BY_NAME = {name.casefold(): code for code, name in STATES.items()} | _ALIASES


def state_code(text: str | None) -> str | None:
    """'la', ' Louisiana ', 'district  of columbia' -> the two-letter code; anything else -> None."""
    if not isinstance(text, str):
        return None
    cleaned = " ".join(text.split())
    if not cleaned:
        return None
    if cleaned.upper() in STATES:
        return cleaned.upper()
    return _BY_NAME.get(cleaned.casefold())
