"""Learner matching against the physician directory, with the PARS guide's examples."""

import pytest

from shared.npi import is_valid_npi
from shared.states import state_code
from validation.matching import DirectoryEntry, LearnerQuery, MatchResult, learner_fields, match_learner

HARPER = DirectoryEntry(
    first_name="Harper",
    last_name="Benton",
    dob="11/11",
    npi="1234567893",
    medical_school="Tulane University School of Medicine",
    licenses=(("LA", "MD.205357"),),
    certifications=(("ABOHNS", "19927"),),
)
GARCIA = DirectoryEntry(
    first_name="María",
    last_name="García-López",
    dob="03/04",
    npi="1987654328",
    licenses=(("NC", "2010-0042"),),
)
OKEEFFE = DirectoryEntry(
    first_name="Siobhan",
    last_name="O'Keeffe",
    dob="7/9",
    npi="1456789019",
    licenses=(("WI", "55123-20"),),
    certifications=(("ABS", "A-40412"),),
)
SMITH_DUKE = DirectoryEntry(
    first_name="John",
    last_name="Smith",
    dob="01/02",
    npi="1765432103",
    medical_school="Duke University School of Medicine",
    licenses=(("NC", "2001-1111"),),
)
SMITH_UNC = DirectoryEntry(
    first_name="John",
    last_name="Smith",
    dob="1/2",
    npi="1122334455",
    medical_school="UNC School of Medicine",
    licenses=(("NC", "2005-2222"),),
)
DIRECTORY = (HARPER, GARCIA, OKEEFFE, SMITH_DUKE, SMITH_UNC)

HARPER_NAME = {"first_name": "Harper", "last_name": "Benton", "dob": "11/11"}


def match(**fields: str | None) -> MatchResult:
    return match_learner(LearnerQuery(**fields), DIRECTORY)


# --- matches --------------------------------------------------------------------------------------------

MATCHES = [
    ("guide example, state code", {**HARPER_NAME, "state": "LA", "license_id": "MD.205357"}, HARPER),
    ("guide example, state name", {**HARPER_NAME, "state": "Louisiana", "license_id": "MD.205357"}, HARPER),
    ("licence id case, dots, spaces", {**HARPER_NAME, "state": " la ", "license_id": "md 205-357"}, HARPER),
    ("licence id without dot", {**HARPER_NAME, "state": "LA", "license_id": "md205357"}, HARPER),
    ("name case and spacing forgiven",
     {"first_name": "harper ", "last_name": "  BENTON", "dob": "11/11", "state": "LA", "license_id": "MD.205357"},
     HARPER),
    ("dob without leading zeros", {**HARPER_NAME, "dob": "11/11", "npi": "1234567893"}, HARPER),
    ("accents and hyphen forgiven",
     {"first_name": "maria", "last_name": "garcia lopez", "dob": "3/4", "state": "North Carolina",
      "license_id": "20100042"}, GARCIA),
    ("apostrophe forgiven",
     {"first_name": "Siobhan", "last_name": "OKeeffe", "dob": "07/09", "state": "wi", "license_id": "55123-20"},
     OKEEFFE),
    ("NPI alone with name", {"first_name": "Harper", "last_name": "Benton", "npi": "1234567893"}, HARPER),
    ("NPI with spaces", {"first_name": "Harper", "last_name": "Benton", "npi": " 1234567893 "}, HARPER),
    ("license_id holding an NPI",
     {"first_name": "Harper", "last_name": "Benton", "dob": "11/11", "state": "Louisiana",
      "license_id": "1234567893"}, HARPER),
    ("board and board id", {**HARPER_NAME, "board": "abohns", "board_id": "19927"}, HARPER),
    ("ABS board id", {"first_name": "Siobhan", "last_name": "O'Keeffe", "board": "ABS", "board_id": "a40412"},
     OKEEFFE),
    ("name and dob alone, unique", {"first_name": "Siobhan", "last_name": "o keeffe", "dob": "7/9"}, OKEEFFE),
    ("medical school tells namesakes apart",
     {"first_name": "John", "last_name": "Smith", "dob": "01/02", "medical_school": "  duke university  school of "
      "medicine "}, SMITH_DUKE),
    ("NPI tells namesakes apart", {"first_name": "John", "last_name": "Smith", "npi": "1122334455"}, SMITH_UNC),
    ("licence tells namesakes apart",
     {"first_name": "John", "last_name": "Smith", "dob": "01/02", "state": "NC", "license_id": "2005-2222"},
     SMITH_UNC),
    ("invalid NPI ignored, name still decides",
     {"first_name": "Siobhan", "last_name": "O'Keeffe", "dob": "7/9", "npi": "1456789010"}, OKEEFFE),
    ("blank strings are not given", {**HARPER_NAME, "npi": "  ", "state": "", "license_id": " ",
                                     "medical_school": "", "board": "", "board_id": ""}, HARPER),
]


@pytest.mark.parametrize(("query", "expected"), [(q, e) for _, q, e in MATCHES], ids=[c for c, _, _ in MATCHES])
def test_matches(query: dict, expected: DirectoryEntry) -> None:
    result = match(**query)
    assert result.matched, result.reason
    assert result.learner == expected
    assert result.candidates == 1
    assert result.need == []


# --- no match -------------------------------------------------------------------------------------------

NO_MATCHES = [
    # (case, query, candidates, fields that must be in need)
    ("guide: Rebecca Test not in the directory",
     {"first_name": "Rebecca", "last_name": "Test", "state": "North Carolina", "license_id": "999995"}, 0,
     ["npi", "medical_school"]),
    ("licence in another state", {**HARPER_NAME, "state": "NC", "license_id": "MD.205357"}, 0, ["npi"]),
    ("dob mismatch", {**HARPER_NAME, "dob": "11/12", "state": "LA", "license_id": "MD.205357"}, 0, []),
    ("dob mismatch without identifiers", {**HARPER_NAME, "dob": "12/11"}, 0, ["npi"]),
    ("name mismatch with NPI", {"first_name": "Rebecca", "last_name": "Benton", "npi": "1234567893"}, 0, []),
    ("invalid NPI check digit alone", {"npi": "1234567894"}, len(DIRECTORY), ["npi", "first_name", "last_name"]),
    ("invalid NPI check digit with a name not in the directory",
     {"first_name": "Harper", "last_name": "Bentley", "npi": "1234567894"}, 0, ["npi"]),
    ("namesakes with the same dob", {"first_name": "John", "last_name": "Smith", "dob": "1/2"}, 2,
     ["npi", "license_id", "medical_school"]),
    ("board id at another board", {**HARPER_NAME, "board": "ABS", "board_id": "19927"}, 0, ["npi"]),
    ("empty query", {}, len(DIRECTORY), ["npi", "license_id", "first_name", "last_name"]),
    ("last name only", {"last_name": "Benton"}, 1, ["npi", "first_name"]),
]


@pytest.mark.parametrize(
    ("query", "candidates", "needed"), [(q, c, n) for _, q, c, n in NO_MATCHES], ids=[c for c, *_ in NO_MATCHES]
)
def test_no_match(query: dict, candidates: int, needed: list[str]) -> None:
    result = match(**query)
    assert not result.matched
    assert result.learner is None
    assert result.candidates == candidates
    for name in needed:
        assert name in result.need, (name, result.need)
    assert set(result.need) <= set(LearnerQuery.model_fields)
    usable = {k for k, v in query.items() if v and not (k == "npi" and not is_valid_npi(v))}
    assert not set(result.need) & usable  # never asks again for what was given in a usable form
    assert result.reason


def test_namesakes_need_npi_first() -> None:
    result = match(first_name="John", last_name="Smith", dob="01/02")
    assert result.need[0] == "npi"
    assert "dob" not in result.need  # they share it


def test_rebecca_test_need_order() -> None:
    result = match(first_name="Rebecca", last_name="Test", state="NC", license_id="999995")
    assert result.need.index("npi") < result.need.index("medical_school")


def test_invalid_npi_is_mentioned_and_not_used() -> None:
    result = match(first_name="Harper", last_name="Benton", npi="1234567894")
    assert "NPI" in result.reason
    # Without the NPI, the name alone identifies Harper Benton; the bad NPI did not block or decide it.
    assert result.matched and result.learner == HARPER
    assert not match(npi="1234567894").matched


def test_reason_has_no_personal_data() -> None:
    for query in ({**HARPER_NAME, "state": "LA", "license_id": "MD.205357"},
                  {"first_name": "Rebecca", "last_name": "Test", "state": "NC", "license_id": "999995"}):
        reason = match(**query).reason
        for value in (*query.values(), "Harper", "Benton", "205357", "1234567893"):
            if value.strip() and len(value.strip()) > 2:
                assert value.strip().casefold() not in reason.casefold(), (value, reason)


def test_unknown_identifier_falls_back_to_name_and_school() -> None:
    # Licence unknown to the directory, but name, dob and medical school identify the physician.
    result = match(**HARPER_NAME, state="NC", license_id="999995",
                   medical_school="tulane university school of medicine")
    assert result.matched and result.learner == HARPER


def test_contradicting_identifier_blocks() -> None:
    # The licence is Harper's, the NPI someone else's: no match.
    result = match(**HARPER_NAME, state="LA", license_id="MD.205357", npi="1987654328")
    assert not result.matched


def test_odd_input_never_raises() -> None:
    odd = [
        LearnerQuery(dob="not a date", state="Atlantis", license_id="---", npi="abc", board="  ", board_id="."),
        LearnerQuery(first_name="'-", last_name="..."),
        LearnerQuery(npi=1234567893, first_name="Harper", last_name="Benton"),  # numbers coerced to text
    ]
    broken = DirectoryEntry(first_name="", last_name="", dob="", npi="", licenses=(("??", ""),))
    for query in odd:
        result = match_learner(query, (*DIRECTORY, broken))
        assert isinstance(result, MatchResult)
    assert match_learner(odd[2], DIRECTORY).learner == HARPER
    assert match_learner(LearnerQuery(**HARPER_NAME), []).candidates == 0
    assert "date of birth" in match_learner(odd[0], DIRECTORY).reason
    assert "state" in match_learner(odd[0], DIRECTORY).reason


# --- learner_fields -------------------------------------------------------------------------------------

MULTI = DirectoryEntry(
    first_name="Harper",
    last_name="Benton",
    dob="1/5",
    npi="1234567893",
    licenses=(("LA", "MD.205357"), ("TN", "MD-1")),
    certifications=(("ABOHNS", "19927"), ("ABS", "77")),
)

FIELDS = [
    ("licence in the query's state", {"state": "Tennessee"}, ("TN", "MD-1"), (None, None)),
    ("first licence otherwise", {}, ("LA", "MD.205357"), (None, None)),
    ("unknown state: first licence", {"state": "NC"}, ("LA", "MD.205357"), (None, None)),
    ("certification at the query's board", {"board": "abs"}, ("LA", "MD.205357"), ("ABS", "77")),
    ("board not held", {"board": "ABIM"}, ("LA", "MD.205357"), (None, None)),
]


@pytest.mark.parametrize(
    ("query", "licence", "certification"), [(q, lic, c) for _, q, lic, c in FIELDS], ids=[c for c, *_ in FIELDS]
)
def test_learner_fields(query: dict, licence: tuple, certification: tuple) -> None:
    fields = learner_fields(MULTI, LearnerQuery(**query))
    assert fields == {
        "first_name": "Harper",
        "last_name": "Benton",
        "dob": "01/05",
        "npi": "1234567893",
        "medical_school": None,
        "state": licence[0],
        "license_id": licence[1],
        "board": certification[0],
        "board_id": certification[1],
    }


def test_learner_fields_of_the_guide_example() -> None:
    query = LearnerQuery(**HARPER_NAME, state="Louisiana", license_id="MD.205357", board="ABOHNS")
    result = match_learner(query, DIRECTORY)
    assert result.learner is not None
    assert learner_fields(result.learner, query) == {
        "first_name": "Harper",
        "last_name": "Benton",
        "dob": "11/11",
        "npi": "1234567893",
        "medical_school": "Tulane University School of Medicine",
        "state": "LA",
        "license_id": "MD.205357",
        "board": "ABOHNS",
        "board_id": "19927",
    }


# --- state_code -----------------------------------------------------------------------------------------

STATES = [
    ("LA", "LA"),
    ("la", "LA"),
    (" tn ", "TN"),
    ("Louisiana", "LA"),
    ("  north   CAROLINA ", "NC"),
    ("District of Columbia", "DC"),
    ("district of columbia", "DC"),
    ("Virgin Islands", "VI"),
    ("Tennessee", "TN"),
    ("Puerto Rico", "PR"),
    ("guam", "GU"),
    ("Wyoming", "WY"),
    ("West Virginia", "WV"),
    ("Washington", "WA"),
    ("", None),
    ("   ", None),
    (None, None),
    ("XX", None),
    ("Atlantis", None),
    ("TN-M", None),
    ("Louisianaa", None),
]


@pytest.mark.parametrize(("text", "code"), STATES)
def test_state_code(text: str | None, code: str | None) -> None:
    assert state_code(text) == code


def test_state_code_knows_every_state() -> None:
    from shared.states import STATES as ALL

    assert len(ALL) == 54  # 50 states + DC, PR, VI, GU
    for code, name in ALL.items():
        assert state_code(code) == code
        assert state_code(name.upper()) == code
