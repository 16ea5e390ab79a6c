"""The small world the hostile-input corpus runs against: two providers, an activity each, one physician."""

from typing import Any

A, B = "0007101", "0007102"
ACTIVITY_A, ACTIVITY_B = "210007101", "210007102"
BOARD, BOARD_ID = "ABOHNS", "19927"
WORLD: dict[str, Any] = {
    "providers": [{"id": A, "name": "Hostile Medical", "email": "cme@hostile.example"},
                  {"id": B, "name": "Bystander Medical", "email": "cme@bystander.example"}],
    "activities": [{"id": activity, "provider_id": provider, "title": "Airway course", "start_date": "2021-01-01",
                    "end_date": "2021-11-30", "cme_credits": 8, "moc_credits": 8,
                    "moc": {BOARD: ["Self-Assessment", "Patient Safety"]}}
                   for activity, provider in ((ACTIVITY_A, A), (ACTIVITY_B, B))],
    "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                    "licenses": [{"state": "CA", "id": "A12345"}],
                    "certifications": [{"board": BOARD, "id": BOARD_ID}]}],
}


def credit_id(case_id: str) -> str:
    return f"ccid:hostile.example:{case_id}"


def completion(case_id: str, **changes: Any) -> dict[str, Any]:
    """A good completion of provider A (a CME and a board target) with its own credit ID, then `changes`."""
    return {"activity_id": ACTIVITY_A, "credit_id": credit_id(case_id), "first_name": "Harper",
            "last_name": "Benton", "dob": "11/11", "completion_date": "2021-11-02",
            "cme": {"credits": 8, "state": "CA", "license_id": "A12345"},
            "moc": [{"board": BOARD, "board_id": BOARD_ID, "credits": 8, "credit_types": {"Self-Assessment": 8}}],
            **changes}


def report(case_id: str, **changes: Any) -> dict[str, Any]:
    """One Activity Report as intake.batch_files.tests.activity_reports writes it: provider A's, one board."""
    return {"activity_id": ACTIVITY_A, "credit_id": credit_id(case_id), "first_name": "Harper",
            "last_name": "Benton", "dob": "11/11", "completion_date": "2021-11-02", "action": "add",
            "board": BOARD, "board_id": BOARD_ID, "credits": "1", "credit_types": {"Self-Assessment": "1"},
            **changes}
