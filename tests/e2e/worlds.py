"""World files the e2e tests load: the PARS guide's own example, and a one-activity world for a provider of a
test's own (the directory's one physician, Harper Benton, licensed in California and certified by ABOHNS)."""

from typing import Any

GUIDE_WORLD: dict[str, Any] = {
    "providers": [{"id": "0008001", "name": "Western Regional Medical Center", "email": "cme@wrmc.example"},
                  {"id": "0008002", "name": "Eastern CME", "email": "cme@eastern.example"}],
    "activities": [{"id": "210016865", "provider_id": "0008001", "title": "Testing adding learners via manual entry",
                    "format": "Live Course", "internal_id": "manuallyaddinglearnersDE01",
                    "start_date": "2021-10-15", "end_date": "2021-11-15", "credit_claim_date": "2021-12-31",
                    "cme_credits": 8, "moc_credits": 8,
                    "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"]}, "rems": []}],
    "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11", "npi": "1234567893",
                    "medical_school": "Tulane University School of Medicine",
                    "licenses": [{"state": "LA", "id": "MD.205357"}],
                    "certifications": [{"board": "ABOHNS", "id": "19927"}]}],
}


def one_activity_world(provider_id: str, provider_name: str, email: str, activity_id: str) -> dict[str, Any]:
    return {
        "providers": [{"id": provider_id, "name": provider_name, "email": email}],
        "activities": [{"id": activity_id, "provider_id": provider_id, "title": "Airway course",
                        "start_date": "2021-01-01", "end_date": "2021-11-30", "cme_credits": 8, "moc_credits": 8,
                        "moc": {"ABOHNS": ["Self-Assessment"]}}],
        "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                        "licenses": [{"state": "CA", "id": "A12345"}],
                        "certifications": [{"board": "ABOHNS", "id": "19927"}]}],
    }
