"""Event contracts: every type validates, every kind of bad input gets its own reason."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from ingestion import contracts
from ingestion.contracts import EVENT_TYPES, PAYLOAD_MODELS, flat_columns, json_schema, validate_event

pytestmark = pytest.mark.unit

PAYLOADS = {
    "candidate_registered": {"candidate_id": "c1", "display_name": "Ava Kim", "email": "a@example.com",
                             "location": {"city": "Austin", "region": "Texas", "country": "US"},
                             "remote_preference": "hybrid", "desired_salary_min": 50000,
                             "self_reported": {"opt_in": True, "gender": "woman", "age_band": "25-34"}},
    "resume_uploaded": {"candidate_id": "c1", "resume_id": "r1", "document_uri": "raw/documents/tenant_id=t/resumes/r1.txt",
                        "content_type": "text/plain", "size_bytes": 10, "sha256": "ab"},
    "job_posted": {"job_id": "j1", "employer_id": "e1", "title": "Nurse", "description": "Care.", "remote": "onsite",
                   "salary_min": 50000.0, "salary_max": 60000.0, "salary_currency": "USD", "salary_period": "year"},
    "job_updated": {"job_id": "j1", "employer_id": "e1", "salary_max": 65000.0},
    "job_closed": {"job_id": "j1", "employer_id": "e1", "reason": "filled", "hired_candidate_id": "c1"},
    "application_submitted": {"application_id": "a1", "candidate_id": "c1", "job_id": "j1", "source": "match"},
    "application_status_changed": {"application_id": "a1", "candidate_id": "c1", "job_id": "j1",
                                   "from_status": "applied", "to_status": "screened"},
    "match_impression": {"impression_id": "i1", "candidate_id": "c1", "job_id": "j1", "match_run_id": "2026-11-21Tw1",
                         "rank": 1, "score": 0.8, "surface": "candidate_feed"},
    "match_clicked": {"impression_id": "i1", "candidate_id": "c1", "job_id": "j1", "match_run_id": "2026-11-21Tw1",
                      "rank": 1},
    "notification_sent": {"notification_id": "n1", "recipient_type": "candidate", "recipient_id": "c1",
                          "channel": "push", "template": "new_matches"},
}


def make_event(event_type: str = "match_impression", **overrides) -> dict:
    event = {
        "event_id": "6f1c2a4e-8f0b-4a57-9a3b-1f2e3d4c5b6a",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2026-11-22T10:00:00Z",
        "tenant_id": "acme-talent",
        "producer": "test",
        "payload": copy.deepcopy(PAYLOADS[event_type]),
    }
    event.update(overrides)
    return event


def test_every_contract_has_an_example_and_validates():
    assert set(PAYLOADS) == set(EVENT_TYPES) and len(EVENT_TYPES) == 10
    for event_type in EVENT_TYPES:
        verdict = validate_event(json.dumps(make_event(event_type)))
        assert verdict.ok, (event_type, verdict)
        assert verdict.event["occurred_at"] == "2026-11-22T10:00:00.000000Z"
        assert verdict.tenant_id == "acme-talent"


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda e: e.pop("tenant_id"), "missing_tenant"),
        (lambda e: e.update(tenant_id="  "), "missing_tenant"),
        (lambda e: e.update(event_type="match_liked"), "unknown_event_type"),
        (lambda e: e.update(schema_version=2), "unknown_schema_version"),
        (lambda e: e.update(schema_version="1"), "wrong_type"),
        (lambda e: e["payload"].update(rank="1"), "wrong_type"),
        (lambda e: e["payload"].update(candidate_id=5), "wrong_type"),
        (lambda e: e["payload"].pop("job_id"), "missing_field"),
        (lambda e: e.pop("producer"), "missing_field"),
        (lambda e: e["payload"].update(surface="email"), "invalid_value"),
        (lambda e: e["payload"].update(rank=0), "invalid_value"),
        (lambda e: e.update(event_id="not-a-uuid"), "invalid_value"),
        (lambda e: e.update(occurred_at="2026-11-22T10:00:00"), "wrong_type"),
        (lambda e: e.update(occurred_at="yesterday"), "wrong_type"),
    ],
)
def test_bad_events_get_a_specific_reason(mutate, reason):
    event = make_event()
    mutate(event)
    verdict = validate_event(json.dumps(event))
    assert not verdict.ok
    assert verdict.reason == reason, verdict
    assert verdict.detail


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", "[1, 2]", "null", '"just a string"'])
def test_unparseable_records_are_malformed_json(raw):
    verdict = validate_event(raw)
    assert (verdict.ok, verdict.reason) == (False, "malformed_json")


def test_status_changed_rejects_unknown_stage():
    event = make_event("application_status_changed")
    event["payload"]["to_status"] = "ghosted"
    assert validate_event(event).reason == "invalid_value"


def test_flat_columns_flatten_nested_objects():
    columns = dict(flat_columns("candidate_registered"))
    assert columns["location_city"] == "string"
    assert columns["self_reported_opt_in"] == "boolean"
    assert columns["desired_salary_min"] == "double"
    assert "location" not in columns
    assert dict(flat_columns("match_impression"))["rank"] == "long"


def test_committed_json_schemas_match_the_models():
    for event_type, version in PAYLOAD_MODELS:
        path = contracts.SCHEMA_DIR / f"v{version}" / f"{event_type}.json"
        assert path.exists(), f"run `python -m ingestion.contracts --write-schemas` ({path} missing)"
        assert json.loads(path.read_text()) == json.loads(json.dumps(json_schema(event_type, version))), path


def test_json_schema_accepts_valid_and_rejects_extra_fields():
    schema = json_schema("candidate_registered", 1)
    event = make_event("candidate_registered")
    jsonschema.validate(event, schema)
    event["payload"]["favourite_colour"] = "blue"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(event, schema)


def test_additive_fields_are_set_aside_not_rejected():
    event = make_event("candidate_registered", trace_id="t-1")
    event["payload"]["referral_code"] = "spring"
    event["payload"]["location"]["postcode"] = "78701"
    verdict = validate_event(json.dumps(event))
    assert verdict.ok, verdict
    assert verdict.extra == {"trace_id": "t-1", "payload.referral_code": "spring", "payload.location.postcode": "78701"}
    assert "referral_code" not in verdict.event["payload"]
    assert verdict.event["payload"]["location"]["city"] == "Austin"
    # Known fields stay strict: an added field does not make a wrong type acceptable.
    event["payload"]["desired_salary_min"] = "lots"
    assert validate_event(json.dumps(event)).reason == "wrong_type"
    assert validate_event(json.dumps(make_event())).extra is None


def test_v2_contract_validates_beside_v1_and_flattens_to_the_same_columns():
    v2 = make_event("job_posted", schema_version=2)
    v2["payload"] = {"job_id": "j2", "employer_id": "e1", "title": "Nurse", "description": "Care.",
                     "salary": {"min": 50000.0, "max": 60000.0, "currency": "USD", "period": "year"}}
    verdict = validate_event(json.dumps(v2))
    assert verdict.ok, verdict
    assert contracts.flatten_payload(verdict.event["payload"])["salary_currency"] == "USD"
    assert validate_event(json.dumps(make_event("job_posted"))).ok  # v1 unchanged
    v2["payload"]["salary"].pop("currency")
    assert validate_event(json.dumps(v2)).reason == "missing_field"
    assert set(flat_columns("job_posted", 2)) <= set(flat_columns("job_posted", 1))
    assert flat_columns("job_posted") == flat_columns("job_posted", 1)  # the silver table: union of versions
    assert validate_event(json.dumps(make_event("job_closed", schema_version=2))).reason == "unknown_schema_version"
