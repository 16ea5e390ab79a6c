"""A deterministic world generator (CONTRACT.md section 2): providers, activities and a physician directory.

Everything is drawn from one `random.Random(seed)`; nothing reads the clock, the environment or global
random state, so the same arguments always give a byte-identical `World.model_dump_json()`. The only data
read is the shipped board catalogue (`shared.boards.shipped_boards`). Sections are generated in order
(providers, activities, physicians), so changing the physician count leaves providers and activities as
they were.

Choices the PARS facts leave open, made here:
- provider ids start at 0008001 and rise by random gaps; activity ids start just above 240000000;
- activity MOC boards are drawn from the catalogue's `moc` boards; ABPMR is only offered on activities
  starting 2025-01-01 or later, and an activity never offers ABO both "Improvement in Medical Practice"
  and "Patient Safety";
- a `roster` override carries only the field that differs (a different `dob` or a misspelled
  `last_name`); the others stay None, meaning "as in the directory";
- `prior_credits` prefer activities that offer the certification's board, inside the activity's window,
  with points no more than the activity's MOC credits;
- dates of birth are drawn uniformly over the 366 month/days, so 02/29 occurs.

The cyclic garbage collector is paused while a world is built (and restored after): at 100,000 physicians
its repeated full collections made generation about five times slower.
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from shared.boards import Board, shipped_boards
from shared.collector import collector_held
from shared.npi import is_valid_npi, npi_check_digit
from shared.world import World

__all__ = ["FORMATS", "demo_world", "generate_world", "is_valid_npi", "npi_check_digit"]

FORMATS = (
    "Live Course",
    "Enduring Material",
    "Journal-based CME",
    "Regularly Scheduled Series",
    "Internet Searching and Learning",
)

# ---------------------------------------------------------------------------------------------- NPI




# ------------------------------------------------------------------------------------------ word lists

_CITIES = (
    "Springfield", "Riverside", "Fairview", "Lakewood", "Franklin", "Greenville", "Bristol",
    "Clinton", "Madison", "Georgetown", "Salem", "Arlington", "Ashland", "Burlington", "Dayton", "Dover",
    "Hudson", "Kingston", "Lexington", "Milford", "Newport", "Oxford", "Plymouth", "Richmond", "Shelby",
    "Troy", "Winchester", "Auburn", "Bedford", "Camden", "Chester", "Clayton", "Easton", "Florence",
    "Hamilton", "Jackson", "Lancaster", "Marion", "Monroe", "Norwood", "Oakland", "Princeton", "Quincy",
    "Rochester", "Sheffield", "Trenton", "Vernon", "Waverly", "Yorktown", "Baton Rouge", "Cedar Falls",
    "Eau Claire", "Grand Forks", "Santa Rosa", "St. Augustine", "Coeur d'Alene", "Juneau", "Tupelo",
)
_BRANDS = (
    "Northwind", "Bayview", "Summit", "Lakeshore", "Meridian", "Cedar Valley", "Pinecrest", "Harborview",
    "Silver Creek", "Blue Ridge", "Evergreen", "Keystone", "Prairie", "Redwood", "Stonebridge", "Tidewater",
    "Willow Bend", "Crescent", "Highland", "Magnolia", "Sagebrush", "Red River", "Granite Peak", "Seaside",
)
_SPECIALTY_SOCIETIES = (
    ("Society of Anesthesiologists", "sa"), ("Academy of Family Physicians", "afp"),
    ("Society of Internal Medicine", "sim"), ("Pediatric Society", "ps"), ("Surgical Society", "ss"),
    ("Society of Pathologists", "sp"), ("Ophthalmological Society", "os"), ("Orthopaedic Association", "oa"),
)
_STATE_NAMES = (
    "Alabama", "Alaska", "California", "Idaho", "Louisiana", "Maine", "Maryland", "Mississippi",
    "New Jersey", "North Carolina", "North Dakota", "Oregon", "Tennessee", "Washington", "Wisconsin",
    "Wyoming",
)

_TOPICS = (
    "Heart Failure Management", "Atrial Fibrillation", "Hypertension Guidelines", "Type 2 Diabetes",
    "Chronic Kidney Disease", "Sepsis Recognition", "Antimicrobial Stewardship", "Asthma in Children",
    "Neonatal Jaundice", "Perioperative Anticoagulation", "Airway Management", "Regional Anesthesia",
    "Obstructive Sleep Apnea", "Chronic Rhinosinusitis", "Head and Neck Cancer", "Pediatric Hearing Loss",
    "Glaucoma", "Diabetic Retinopathy", "Cataract Surgery Outcomes", "Hip and Knee Arthroplasty",
    "Sports Injuries", "Osteoporosis", "Lung Cancer Screening", "Thoracic Trauma", "Colorectal Surgery",
    "Breast Cancer Pathology", "Frozen Section Diagnosis", "Transfusion Medicine", "Stroke Rehabilitation",
    "Spinal Cord Injury", "Low Back Pain", "Depression in Primary Care", "Dementia Care", "Palliative Care",
    "Patient Safety and Handoffs", "Diagnostic Error", "Health Equity", "Telehealth Practice",
    "Vaccine Updates", "Lipid Management", "Thyroid Nodules", "Inflammatory Bowel Disease",
)
_TITLE_FORMS = {
    "Live Course": ("Annual Update: {t}", "{t}: A Practical Workshop", "Advances in {t}", "{t} Symposium"),
    "Enduring Material": ("{t}: Self-Study Module", "Essentials of {t}", "{t} Review Course (Online)"),
    "Journal-based CME": ("Journal CME: {t}", "Reading the Evidence on {t}"),
    "Regularly Scheduled Series": ("Grand Rounds: {t}", "Tumor Board and Case Conference: {t}",
                                   "Morbidity and Mortality Conference: {t}"),
    "Internet Searching and Learning": ("Point-of-Care Learning: {t}", "Clinical Questions in {t}"),
}
_REMS_TITLES = (
    "Opioid Analgesic REMS: Safe Prescribing for Pain",
    "Opioid Analgesic REMS: Managing Chronic Pain",
    "Opioid Analgesic REMS: Tapering and Risk Mitigation",
)

_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher", "Karen",
    "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret",
    "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily", "Joshua", "Donna", "Kenneth", "Michelle",
    "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie",
    "Jason", "Rebecca", "Ryan", "Laura", "Jacob", "Helen", "Gary", "Sharon", "Nicholas", "Cynthia", "Eric",
    "Kathleen", "Jonathan", "Amy", "Priya", "Wei", "Mei", "Hiroshi", "Yuki", "Aisha", "Omar", "Fatima",
    "Ahmed", "Olusegun", "Chinwe", "Kwame", "Ama", "Raj", "Anjali", "Sanjay", "Deepa", "Minh", "Linh",
    "Sung-min", "Ji-woo", "Olga", "Dmitri", "Ingrid", "Lars", "Siobhán", "Seán", "Niamh", "Eoin",
    "José", "María", "Ramón", "Inés", "Sofía", "Andrés", "Zoë", "Chloé", "Renée", "Noémie", "Hélène",
    "François", "Jérôme", "Björn", "Jürgen", "Søren", "Åsa", "Łukasz", "Zoltán", "Mary-Kate",
    "Jean-Luc", "Anne-Marie", "Jean-Pierre", "Harper", "Avery", "Quinn", "Rowan", "D'Andre", "De'Shawn",
)
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Campbell", "Mitchell", "Carter", "Roberts", "Phillips", "Evans", "Turner", "Parker", "Collins",
    "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed",
    "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett",
    "Gray", "James", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Nguyen", "Tran",
    "Pham", "Kim", "Lee", "Park", "Choi", "Wang", "Li", "Zhang", "Chen", "Liu", "Yamamoto", "Tanaka",
    "Suzuki", "Patel", "Shah", "Gupta", "Singh", "Kumar", "Okafor", "Adeyemi", "Mensah", "Haddad", "Khalil",
    "Cohen", "Levy", "Friedman", "Schmidt", "Müller", "Schröder", "Weiß", "Novák", "Dvořák", "Kowalski",
    "Wójcik", "Nowak", "Ivanova", "Petrov", "Andersson", "Lindqvist", "Sørensen", "Østergaard", "Fernández",
    "García", "González", "Rodríguez", "Martínez", "López", "Pérez", "Sánchez", "Ramírez", "Muñoz",
    "Núñez", "Peña", "Ibáñez", "Gómez", "Da Silva", "Conceição", "Gonçalves", "Lefèvre", "Lemaître",
    "Bélanger", "Côté", "O'Keeffe", "O'Brien", "O'Connor", "O'Neill", "D'Angelo", "D'Souza", "N'Diaye",
    "McDonald", "MacLeod", "García-López", "Smith-Jones", "Martínez-Ruiz", "Ortega-Vélez", "Harris-Cole",
    "Van der Berg", "de la Cruz", "St. Clair", "Le", "Ng",
)
_MEDICAL_SCHOOLS = (
    "Tulane University School of Medicine",
    "Louisiana State University School of Medicine",
    "University of Washington School of Medicine",
    "Oregon Health & Science University School of Medicine",
    "University of California, San Francisco School of Medicine",
    "University of North Carolina School of Medicine",
    "Johns Hopkins University School of Medicine",
    "University of Mississippi School of Medicine",
    "Rutgers New Jersey Medical School",
    "University of Alabama at Birmingham Heersink School of Medicine",
    "University of Wisconsin School of Medicine and Public Health",
    "University of North Dakota School of Medicine and Health Sciences",
    "Vanderbilt University School of Medicine",
    "Georgetown University School of Medicine",
)
# How common each board is among certifications (rough, for plausibility); unlisted boards weigh 3.
_CERT_WEIGHTS = {"ABIM": 30, "ABP": 10, "ABS": 8, "ABA": 8, "ABOS": 6, "ABPATH": 5, "ABO": 5, "ABOHNS": 4,
                 "ABPMR": 3, "ABTS": 2}

_ABO_EXCLUSIVE = ("Improvement in Medical Practice", "Patient Safety")
_ABPMR_FROM = date(2025, 1, 1)
_FIRST_DAY = date(2024, 1, 1)
_LAST_DAY = date(2026, 12, 31)
_QUARTERS = tuple(Decimal(q) / 4 for q in range(161))  # _QUARTERS[q] == q * 0.25, normalised ("8", "8.25")
_DOBS = tuple((date(2000, 1, 1) + timedelta(days=i)).strftime("%m/%d") for i in range(366))

_ONE_TWO_THREE = (1, 2, 3)
_CUM_6_3_1 = (6, 9, 10)  # cumulative weights 6:3:1
_ONE_TWO = (1, 2)
_CUM_4_1 = (4, 5)
_CUM_3_1 = (3, 4)

_ROSTER_RATE = 0.05
_PRIOR_RATE = 0.05
_REMS_RATE = 0.07


# ----------------------------------------------------------------------------------------- generation


@dataclass
class _Reserved:
    """Identifiers the generator must not hand out (used by `demo_world` for its fixed entries)."""

    provider_ids: set[str] = field(default_factory=set)
    activity_ids: set[str] = field(default_factory=set)
    npis: set[str] = field(default_factory=set)
    licenses: set[tuple[str, str]] = field(default_factory=set)
    board_ids: dict[str, set[str]] = field(default_factory=dict)
    people: set[tuple[str, str, str]] = field(default_factory=set)  # (first, last, dob)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


def _provider_name(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(8)
    city = rng.choice(_CITIES)
    brand = rng.choice(_BRANDS)
    if kind == 0:
        return f"{city} Regional Medical Center", f"{_slug(city)}rmc"
    if kind == 1:
        return f"{brand} Health CME", f"{_slug(brand)}health"
    if kind == 2:
        return f"{city} General Hospital", f"{_slug(city)}general"
    if kind == 3:
        return f"{city} Children's Hospital", f"{_slug(city)}childrens"
    if kind == 4:
        return f"{brand} Institute for Continuing Education", f"{_slug(brand)}ice"
    if kind == 5:
        society, short = rng.choice(_SPECIALTY_SOCIETIES)
        state = rng.choice(_STATE_NAMES)
        return f"{state} {society}", f"{_slug(state)}{short}"
    if kind == 6:
        return f"{city} Heart and Vascular Institute", f"{_slug(city)}heart"
    return f"{brand} Medical Group", f"{_slug(brand)}mg"


def _providers(rng: random.Random, count: int, reserved: _Reserved) -> list[dict]:
    out: list[dict] = []
    names: set[str] = set()
    slugs: set[str] = set()
    next_id = 8001
    for _ in range(count):
        while f"{next_id:07d}" in reserved.provider_ids:
            next_id += 1
        if next_id > 9_999_999:
            raise ValueError("too many providers for 7-digit ids")
        pid = f"{next_id:07d}"
        next_id += rng.randint(1, 97)
        for _attempt in range(40):
            name, slug = _provider_name(rng)
            if name not in names:
                break
        else:  # every draw taken: tell them apart by campus
            name = f"{name} - Campus {len(out) + 1}"
            slug = f"{slug}{len(out) + 1}"
        base, n = slug, 2
        while slug in slugs:
            slug, n = f"{base}{n}", n + 1
        names.add(name)
        slugs.add(slug)
        out.append({"id": pid, "name": name, "email": f"cme@{slug}.example"})
    return out


def _moc_offer(rng: random.Random, boards: dict[str, Board], codes: list[str], start: date) -> dict[str, list]:
    eligible = [c for c in codes if c != "ABPMR" or start >= _ABPMR_FROM]
    picked = rng.sample(eligible, min(len(eligible), rng.choices(_ONE_TWO_THREE, cum_weights=_CUM_6_3_1)[0]))
    offer: dict[str, list[str]] = {}
    for code in sorted(picked, key=codes.index):
        types = boards[code].credit_types
        chosen = set(rng.sample(types, rng.randint(1, len(types))))
        if code == "ABO" and all(t in chosen for t in _ABO_EXCLUSIVE):
            chosen.discard(rng.choice(_ABO_EXCLUSIVE))
        offer[code] = [t for t in types if t in chosen]  # catalogue order
    return offer


def _credits_quarters(rng: random.Random) -> int:
    """CME credit in quarters (1..160): mostly 0.25-12, sometimes up to 40."""
    if rng.random() < 0.85:
        return rng.randint(1, 48)
    return rng.randint(1, 160)


def _activities(rng: random.Random, count: int, providers: list[dict], reserved: _Reserved) -> list[dict]:
    if count and not providers:
        raise ValueError("activities need at least one provider")
    boards = shipped_boards()
    codes = [c for c, b in boards.items() if b.kind == "moc"]
    span = (_LAST_DAY - _FIRST_DAY).days
    out: list[dict] = []
    per_provider: dict[str, int] = {}
    next_id = 240_000_000 + rng.randint(1, 9_999)
    for i in range(count):
        while f"{next_id:09d}" in reserved.activity_ids:
            next_id += 1
        if next_id > 999_999_999:
            raise ValueError("too many activities for 9-digit ids")
        aid = f"{next_id:09d}"
        next_id += rng.randint(1, 997)
        provider = providers[i % len(providers)]
        fmt = rng.choice(FORMATS)
        length = rng.randint(1, 120)  # days in the window, both ends included
        start = _FIRST_DAY + timedelta(days=rng.randint(0, span - (length - 1)))
        end = start + timedelta(days=length - 1)
        claim = end + timedelta(days=rng.choice((0, 14, 30, 30, 60, 90, 180, 365)))
        cme_q = _credits_quarters(rng)
        moc_q = cme_q if rng.random() < 0.6 else rng.randint(1, cme_q)
        rems = ["OPIOID"] if rng.random() < _REMS_RATE else []
        template = rng.choice(_REMS_TITLES) if rems else rng.choice(_TITLE_FORMS[fmt])
        title = template.format(t=rng.choice(_TOPICS))
        seq = per_provider.get(provider["id"], 0) + 1
        per_provider[provider["id"]] = seq
        short = provider["email"][4:-8].upper()[:10]  # the slug between "cme@" and ".example"
        out.append({
            "id": aid,
            "provider_id": provider["id"],
            "title": title,
            "format": fmt,
            "internal_id": f"{short}-{start.year}-{seq:04d}",
            "start_date": start,
            "end_date": end,
            "credit_claim_date": claim,
            "cme_credits": _QUARTERS[cme_q],
            "moc_credits": _QUARTERS[moc_q],
            "moc": _moc_offer(rng, boards, codes, start),
            "rems": rems,
        })
    return out


def _misspell(rng: random.Random, name: str) -> str:
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    for _attempt in range(10):
        op = rng.randrange(3)
        i = rng.choice(letters)
        if op == 0 and i + 1 < len(name) and name[i + 1].isalpha() and name[i] != name[i + 1]:
            out = name[:i] + name[i + 1] + name[i] + name[i + 2:]  # swap neighbours
        elif op == 1 and len(letters) > 2:
            out = name[:i] + name[i + 1:]  # drop a letter
        else:
            out = name[:i + 1] + name[i].lower() + name[i + 1:]  # double a letter
        if out != name:
            return out
    return name + "e"


def _unique_digits(rng: random.Random, taken: set[str]) -> str:
    while True:
        digits = rng.choice((5, 6, 7, 7))
        value = str(rng.randint(10 ** (digits - 1), 10**digits - 1))
        if value not in taken:
            taken.add(value)
            return value


def _physicians(rng: random.Random, count: int, activities: list[dict], reserved: _Reserved) -> list[dict]:
    boards = shipped_boards()
    cert_codes = [c for c, b in boards.items() if b.kind == "moc"]
    cert_cum = list(accumulate(_CERT_WEIGHTS.get(c, 3) for c in cert_codes))
    states = [c for c, b in boards.items() if b.kind == "state"]
    by_board: dict[str, list[dict]] = {c: [] for c in cert_codes}
    for a in activities:
        for code in a["moc"]:
            by_board.setdefault(code, []).append(a)
    npis = set(reserved.npis)
    licenses = set(reserved.licenses)
    board_ids = {c: set(reserved.board_ids.get(c, ())) for c in cert_codes}
    out: list[dict] = []
    for _ in range(count):
        while True:
            first, last, dob = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES), rng.choice(_DOBS)
            if (first, last, dob) not in reserved.people:
                break
        while True:
            first9 = rng.choice("12") + f"{rng.randrange(10**8):08d}"
            npi = first9 + npi_check_digit(first9)
            if npi not in npis:
                npis.add(npi)
                break
        lic: list[dict] = []
        for state in rng.sample(states, rng.choices(_ONE_TWO, cum_weights=_CUM_4_1)[0]):
            while True:
                key = (state, f"MD.{rng.randint(100_000, 999_999)}")
                if key not in licenses:
                    licenses.add(key)
                    break
            lic.append({"state": key[0], "id": key[1]})
        certs: list[dict] = []
        cert_boards = rng.choices(cert_codes, cum_weights=cert_cum)
        if rng.random() < 0.2:
            second = rng.choices(cert_codes, cum_weights=cert_cum)[0]
            if second != cert_boards[0]:
                cert_boards.append(second)
        for code in cert_boards:
            cert: dict = {"board": code, "id": _unique_digits(rng, board_ids.setdefault(code, set()))}
            if rng.random() < _ROSTER_RATE:
                if rng.random() < 0.5:
                    other = dob
                    while other == dob:
                        other = rng.choice(_DOBS)
                    cert["roster"] = {"dob": other}
                else:
                    cert["roster"] = {"last_name": _misspell(rng, last)}
            if activities and rng.random() < _PRIOR_RATE:
                pool = by_board.get(code) or activities
                picked = rng.sample(pool, min(len(pool), rng.choices(_ONE_TWO, cum_weights=_CUM_3_1)[0]))
                prior = []
                for a in picked:
                    window = (a["end_date"] - a["start_date"]).days
                    done = a["start_date"] + timedelta(days=rng.randint(0, window))
                    cap = int(a["moc_credits"] * 4) if a["moc_credits"] else 160
                    prior.append({"activity_id": a["id"], "completion_date": done,
                                  "points": _QUARTERS[rng.randint(1, cap)]})
                cert["prior_credits"] = prior
            certs.append(cert)
        out.append({
            "first_name": first,
            "last_name": last,
            "dob": dob,
            "npi": npi,
            "medical_school": rng.choice(_MEDICAL_SCHOOLS),
            "licenses": lic,
            "certifications": certs,
        })
    return out


def _generate(providers: int, activities: int, physicians: int, seed: int, reserved: _Reserved) -> dict:
    for name, value in (("providers", providers), ("activities", activities), ("physicians", physicians)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0")
    rng = random.Random(seed)
    provs = _providers(rng, providers, reserved)
    acts = _activities(rng, activities, provs, reserved)
    docs = _physicians(rng, physicians, acts, reserved)
    return {"providers": provs, "boards": [], "activities": acts, "physicians": docs}


def generate_world(*, providers: int, activities: int, physicians: int, seed: int) -> World:
    """A world of the given size; the same arguments always give the same world."""
    with collector_held():  # many small acyclic objects: 5x faster at 100k
        return World.model_validate(_generate(providers, activities, physicians, seed, _Reserved()))


# ------------------------------------------------------------------------------------- the demo world

_DEMO_PROVIDER = {"id": "0008001", "name": "Western Regional Medical Center", "email": "cme@wrmc.example"}
_DEMO_ACTIVITY: dict[str, Any] = {
    "id": "210016865",
    "provider_id": "0008001",
    "title": "Testing adding learners via manual entry",
    "format": "Live Course",
    "internal_id": "manuallyaddinglearnersDE01",
    "start_date": date(2021, 10, 15),
    "end_date": date(2021, 11, 15),
    "credit_claim_date": date(2021, 12, 31),
    "cme_credits": Decimal(8),
    "moc_credits": Decimal(8),
    "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"]},
    "rems": [],
}
_DEMO_PHYSICIAN: dict[str, Any] = {
    "first_name": "Harper",
    "last_name": "Benton",
    "dob": "11/11",
    "npi": "1234567893",
    "medical_school": "Tulane University School of Medicine",
    "licenses": [{"state": "LA", "id": "MD.205357"}],
    "certifications": [{"board": "ABOHNS", "id": "19927"}],
}


# The demo's board entries show world-file overrides: quicker boards than the catalogue's day.
_DEMO_BOARDS = (
    {"code": "ABOHNS", "latency_seconds": 3600},
    {"code": "ABA", "latency_seconds": 600, "requires_dob": False},
)


def demo_world(seed: int = 1, today: date | None = None) -> World:
    """generate_world(providers=3, activities=12, physicians=300, seed=seed) plus the PARS guide's examples.

    The guide's provider, activity and physician come first in their lists; the generated entries steer
    clear of their ids, NPI, licence, board id and name-plus-birthday.
    """
    reserved = _Reserved(
        provider_ids={_DEMO_PROVIDER["id"]},
        activity_ids={_DEMO_ACTIVITY["id"]},
        npis={_DEMO_PHYSICIAN["npi"]},
        licenses={(lic["state"], lic["id"]) for lic in _DEMO_PHYSICIAN["licenses"]},
        board_ids={c["board"]: {c["id"]} for c in _DEMO_PHYSICIAN["certifications"]},
        people={(_DEMO_PHYSICIAN["first_name"], _DEMO_PHYSICIAN["last_name"], _DEMO_PHYSICIAN["dob"])},
    )
    with collector_held():  # many small acyclic objects: 5x faster at 100k
        data = _generate(3, 12, 300, seed, reserved)
        data["providers"].insert(0, dict(_DEMO_PROVIDER))
        guide_activity = dict(_DEMO_ACTIVITY)
        if today is not None:  # a live demo: the guide's activity runs around today, so its records are timely
            guide_activity |= {"start_date": today - timedelta(days=60), "end_date": today + timedelta(days=60),
                               "credit_claim_date": today + timedelta(days=90)}
        data["activities"].insert(0, guide_activity)
        data["physicians"].insert(0, dict(_DEMO_PHYSICIAN))
        data["boards"] = [dict(b) for b in _DEMO_BOARDS]
        return World.model_validate(data)
