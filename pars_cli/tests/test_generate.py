import gc
import hashlib
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from functools import lru_cache

from pars_cli.generate import FORMATS, demo_world, generate_world, is_valid_npi, npi_check_digit
from shared.boards import shipped_boards
from shared.world import World

QUARTER = Decimal("0.25")


@lru_cache
def _world(seed: int = 7):
    return generate_world(providers=5, activities=60, physicians=400, seed=seed)


@lru_cache
def _big():
    return generate_world(providers=20, activities=200, physicians=2000, seed=11)


def _is_quarter_step(value: Decimal, low: Decimal = QUARTER, high: Decimal = Decimal(40)) -> bool:
    return low <= value <= high and value % QUARTER == 0


def test_same_arguments_give_identical_json():
    a = generate_world(providers=4, activities=30, physicians=200, seed=3)
    b = generate_world(providers=4, activities=30, physicians=200, seed=3)
    assert a == b
    assert a.model_dump_json() == b.model_dump_json()


def test_different_seed_differs():
    a = generate_world(providers=4, activities=30, physicians=200, seed=3)
    b = generate_world(providers=4, activities=30, physicians=200, seed=4)
    assert a.model_dump_json() != b.model_dump_json()


def test_more_physicians_keep_providers_and_activities():
    a = generate_world(providers=4, activities=30, physicians=10, seed=5)
    b = generate_world(providers=4, activities=30, physicians=50, seed=5)
    assert a.providers == b.providers
    assert a.activities == b.activities


def test_counts():
    w = _world()
    assert (len(w.providers), len(w.activities), len(w.physicians)) == (5, 60, 400)
    empty = generate_world(providers=0, activities=0, physicians=0, seed=1)
    assert empty == World()


def test_provider_ids_names_and_emails():
    w = _big()
    ids = [p.id for p in w.providers]
    assert all(re.fullmatch(r"\d{7}", i) for i in ids)
    assert ids[0] == "0008001"
    assert len(set(ids)) == len(ids)
    assert len({p.name for p in w.providers}) == len(ids)
    emails = [p.email for p in w.providers]
    assert all(re.fullmatch(r"cme@[a-z0-9]+\.example", e) for e in emails)
    assert len(set(emails)) == len(emails)


def test_activities_ids_formats_and_round_robin():
    w = _world()
    ids = [a.id for a in w.activities]
    assert all(re.fullmatch(r"\d{9}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    provider_ids = [p.id for p in w.providers]
    assert [a.provider_id for a in w.activities] == [provider_ids[i % 5] for i in range(60)]
    for a in w.activities:
        assert a.format in FORMATS
        assert a.title
        assert a.internal_id
        assert a.rems in ([], ["OPIOID"])


def test_activity_dates_ordered_and_in_range():
    for a in _big().activities:
        assert date(2024, 1, 1) <= a.start_date <= a.end_date <= date(2026, 12, 31)
        assert 1 <= (a.end_date - a.start_date).days + 1 <= 120
        assert a.credit_claim_date is not None
        assert a.credit_claim_date >= a.end_date


def test_activity_credits():
    for a in _big().activities:
        assert a.cme_credits is not None and a.moc_credits is not None
        assert _is_quarter_step(a.cme_credits)
        assert _is_quarter_step(a.moc_credits)
        assert a.moc_credits <= a.cme_credits


def test_activity_moc_offers_match_catalogue():
    boards = shipped_boards()
    for a in _big().activities:
        assert 1 <= len(a.moc) <= 3
        for code, types in a.moc.items():
            assert boards[code].kind == "moc"
            assert types
            assert len(set(types)) == len(types)
            assert set(types) <= set(boards[code].credit_types)
        if "ABPMR" in a.moc:
            assert a.start_date >= date(2025, 1, 1)


def test_abo_never_offers_improvement_and_patient_safety_together():
    w = generate_world(providers=5, activities=3000, physicians=0, seed=21)
    abo = [a.moc["ABO"] for a in w.activities if "ABO" in a.moc]
    assert len(abo) > 100
    for types in abo:
        assert not {"Improvement in Medical Practice", "Patient Safety"} <= set(types)
    # each of the two still appears on its own
    assert any("Improvement in Medical Practice" in t for t in abo)
    assert any("Patient Safety" in t for t in abo)


def test_some_activities_are_opioid_rems():
    w = generate_world(providers=5, activities=500, physicians=0, seed=2)
    rems = [a for a in w.activities if a.rems]
    assert 0 < len(rems) < len(w.activities) // 4


def test_npi_check_digit_and_validation():
    assert npi_check_digit("123456789") == "3"
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567894")
    assert not is_valid_npi("1234567883")
    assert not is_valid_npi("123456789")
    assert not is_valid_npi("12345678931")
    assert not is_valid_npi("3234567893")  # must start with 1 or 2
    assert not is_valid_npi("12345678a3")
    for pos in range(10):  # Luhn catches every single-digit change
        for digit in "0123456789":
            if digit != "1234567893"[pos]:
                assert not is_valid_npi("1234567893"[:pos] + digit + "1234567893"[pos + 1:])


def test_every_npi_valid_and_unique():
    npis = [p.npi for p in _big().physicians]
    assert all(n is not None and is_valid_npi(n) for n in npis)
    assert len(set(npis)) == len(npis)


def test_physician_fields():
    boards = shipped_boards()
    states = {c for c, b in boards.items() if b.kind == "state"}
    for p in _big().physicians:
        assert p.first_name and p.last_name
        month, day = p.dob.split("/")
        date(2000, int(month), int(day))  # a real month/day (2000 is a leap year)
        assert p.medical_school
        assert 1 <= len(p.licenses) <= 2
        assert len({lic.state for lic in p.licenses}) == len(p.licenses)
        for lic in p.licenses:
            assert lic.state in states
            assert re.fullmatch(r"MD\.\d{6}", lic.id)
        assert 1 <= len(p.certifications) <= 2
        assert len({c.board for c in p.certifications}) == len(p.certifications)
        for c in p.certifications:
            assert boards[c.board].kind == "moc"
            assert re.fullmatch(r"\d{5,7}", c.id)


def test_names_include_accents_hyphens_and_apostrophes():
    names = [f"{p.first_name} {p.last_name}" for p in _big().physicians]
    assert any("'" in n for n in names)
    assert any("-" in n for n in names)
    assert any(not n.isascii() for n in names)


def test_board_ids_and_licenses_unique() -> None:
    seen: set[tuple[str, str]] = set()
    licenses: set[tuple[str, str]] = set()
    for p in _big().physicians:
        for c in p.certifications:
            assert (c.board, c.id) not in seen
            seen.add((c.board, c.id))
        for lic in p.licenses:
            assert (lic.state, lic.id) not in licenses
            licenses.add((lic.state, lic.id))


def test_roster_overrides_and_prior_credits():
    w = _big()
    activities = {a.id: a for a in w.activities}
    certs = [(p, c) for p in w.physicians for c in p.certifications]
    rostered = [(p, c) for p, c in certs if c.roster is not None]
    with_prior = [c for _, c in certs if c.prior_credits]
    assert 0.02 * len(certs) < len(rostered) < 0.10 * len(certs)
    assert 0.02 * len(certs) < len(with_prior) < 0.10 * len(certs)
    for p, c in rostered:
        r = c.roster
        assert r is not None
        assert (r.dob is not None and r.dob != p.dob) or (r.last_name is not None and r.last_name != p.last_name)
    for c in with_prior:
        assert 1 <= len(c.prior_credits) <= 2
        for credit in c.prior_credits:
            a = activities[credit.activity_id]
            assert a.start_date <= credit.completion_date <= a.end_date
            assert _is_quarter_step(credit.points)


def test_json_round_trip():
    w = _world()
    text = w.model_dump_json()
    again = World.model_validate_json(text)
    assert again == w
    assert again.model_dump_json() == text


def test_demo_world_contains_guide_entries():
    w = demo_world()
    assert w == demo_world(1)
    assert len(w.providers) == 4 and len(w.activities) == 13 and len(w.physicians) == 301

    provider = w.providers[0]
    assert (provider.id, provider.name, provider.email) == (
        "0008001", "Western Regional Medical Center", "cme@wrmc.example")
    assert [p.id for p in w.providers].count("0008001") == 1

    activity = next(a for a in w.activities if a.id == "210016865")
    assert activity.provider_id == "0008001"
    assert activity.title == "Testing adding learners via manual entry"
    assert activity.format == "Live Course"
    assert activity.internal_id == "manuallyaddinglearnersDE01"
    assert (activity.start_date, activity.end_date, activity.credit_claim_date) == (
        date(2021, 10, 15), date(2021, 11, 15), date(2021, 12, 31))
    assert activity.cme_credits == 8 and activity.moc_credits == 8
    assert activity.moc == {"ABOHNS": ["Self-Assessment", "Patient Safety"]}
    assert [a.id for a in w.activities].count("210016865") == 1

    harper = [p for p in w.physicians if p.npi == "1234567893"]
    assert len(harper) == 1
    h = harper[0]
    assert (h.first_name, h.last_name, h.dob) == ("Harper", "Benton", "11/11")
    assert h.medical_school == "Tulane University School of Medicine"
    assert [(lic.state, lic.id) for lic in h.licenses] == [("LA", "MD.205357")]
    assert [(c.board, c.id) for c in h.certifications] == [("ABOHNS", "19927")]
    abohns_ids = [c.id for p in w.physicians for c in p.certifications if c.board == "ABOHNS"]
    assert abohns_ids.count("19927") == 1
    assert [(lic.state, lic.id) for p in w.physicians for lic in p.licenses].count(("LA", "MD.205357")) == 1


def test_demo_world_seed_changes_generated_part_only():
    a, b = demo_world(1), demo_world(2)
    assert a.model_dump_json() != b.model_dump_json()
    assert a.providers[0] == b.providers[0]
    assert a.activities[0] == b.activities[0]
    assert a.physicians[0] == b.physicians[0]


def test_output_does_not_depend_on_hash_seed():
    code = (
        "import hashlib; from pars_cli.generate import generate_world; "
        "w = generate_world(providers=3, activities=40, physicians=300, seed=9); "
        "print(hashlib.sha256(w.model_dump_json().encode()).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": hash_seed},
                       capture_output=True, text=True, check=True).stdout.strip()
        for hash_seed in ("0", "1", "12345")
    }
    expected = generate_world(providers=3, activities=40, physicians=300, seed=9).model_dump_json()
    assert digests == {hashlib.sha256(expected.encode()).hexdigest()}


def test_generation_leaves_gc_as_it_was():
    assert gc.isenabled()
    generate_world(providers=1, activities=1, physicians=1, seed=1)
    assert gc.isenabled()
    gc.disable()
    try:
        demo_world()
        assert not gc.isenabled()
    finally:
        gc.enable()
