"""Versioned event contracts (docs/contracts.md, "Events") and the one validation function.

Each (event_type, schema_version) maps to a pydantic payload model; the envelope is common to all.
The same ``validate_event`` runs in the Spark bronze→silver job, and the same routing rules
(``ingestion.routing``) in the local landing consumer and the Firehose transformation Lambda, so a
record is judged identically wherever it is seen. JSON Schema files under ``ingestion/schemas/`` are
generated from these models (``python -m ingestion.contracts --write-schemas``) for other languages.

Reasons are short machine codes (the quarantine ``reason`` column); ``detail`` is human text.

Schema evolution: a field the contract does not know (envelope or payload, at any depth) is
*additive* — it is set aside into ``extra`` (``{"payload.debug_note": …}``, a JSON string column in
silver) and the rest is validated strictly, so a producer that adds a field does not quarantine every
event of that type. A breaking change is a new ``schema_version``: its own model row in
``PAYLOAD_MODELS``, validated side by side with the old one (events route by their ``schema_version``)
and flattened to the same silver columns where the meaning is the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import types
import typing
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CURRENT_SCHEMA_VERSION = 1
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
ENVELOPE_FIELDS = ("event_id", "event_type", "schema_version", "occurred_at", "tenant_id", "producer")

RemoteMode = Literal["onsite", "hybrid", "remote"]
ApplicationStatus = Literal["applied", "screened", "interviewed", "offered", "hired", "rejected", "withdrawn"]


class _Strict(BaseModel):
    # Unknown fields are a contract violation (reason extra_field), and "123" is not an int.
    model_config = ConfigDict(extra="forbid", strict=True)


class Location(_Strict):
    city: str | None = None
    region: str | None = None
    country: str | None = None


class SelfReported(_Strict):
    opt_in: bool
    gender: str | None = None
    age_band: str | None = None


class CandidateRegisteredV1(_Strict):
    candidate_id: str = Field(min_length=1)
    display_name: str | None = None
    email: str | None = None  # PII: silver only, never in analytics marts
    location: Location | None = None
    remote_preference: RemoteMode | None = None
    desired_salary_min: float | None = None
    self_reported: SelfReported | None = None


class ResumeUploadedV1(_Strict):
    candidate_id: str = Field(min_length=1)
    resume_id: str = Field(min_length=1)
    document_uri: str = Field(min_length=1)
    content_type: str = Field(min_length=1)
    size_bytes: int | None = None
    sha256: str | None = None


class _JobFields(_Strict):
    location: Location | None = None
    remote: RemoteMode | None = None
    salary_min: float | None = None
    salary_max: float | None = None
    salary_currency: str | None = None
    salary_period: Literal["year", "hour"] | None = None
    seniority: str | None = None
    employment_type: str | None = None
    occupation_hint: str | None = None


class JobPostedV1(_JobFields):
    job_id: str = Field(min_length=1)
    employer_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)


class JobUpdatedV1(_JobFields):
    job_id: str = Field(min_length=1)
    employer_id: str = Field(min_length=1)
    title: str | None = None
    description: str | None = None


class JobClosedV1(_Strict):
    job_id: str = Field(min_length=1)
    employer_id: str = Field(min_length=1)
    reason: Literal["filled", "cancelled", "expired"]
    hired_candidate_id: str | None = None


class Salary(_Strict):
    min: float | None = None
    max: float | None = None
    currency: str = Field(min_length=3, max_length=3)  # v2: an amount without a currency is meaningless
    period: Literal["year", "hour"]


class JobPostedV2(_Strict):
    """v2: the salary is one object (currency and period required with it), so a producer can no longer
    send an amount without its unit; flattened it fills the same ``salary_*`` silver columns as v1."""

    job_id: str = Field(min_length=1)
    employer_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    location: Location | None = None
    remote: RemoteMode | None = None
    salary: Salary | None = None
    seniority: str | None = None
    employment_type: str | None = None
    occupation_hint: str | None = None


class ApplicationSubmittedV1(_Strict):
    application_id: str = Field(min_length=1)
    candidate_id: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    source: Literal["match", "search", "direct"] | None = None
    match_run_id: str | None = None


class ApplicationStatusChangedV1(_Strict):
    application_id: str = Field(min_length=1)
    candidate_id: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    from_status: ApplicationStatus | None = None
    to_status: ApplicationStatus


class MatchImpressionV1(_Strict):
    impression_id: str = Field(min_length=1)
    candidate_id: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    match_run_id: str = Field(min_length=1)
    rank: int = Field(ge=1)
    score: float | None = None
    surface: Literal["candidate_feed", "job_feed"] | None = None


class MatchClickedV1(_Strict):
    impression_id: str = Field(min_length=1)
    candidate_id: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    match_run_id: str = Field(min_length=1)
    rank: int | None = None


class NotificationSentV1(_Strict):
    notification_id: str = Field(min_length=1)
    recipient_type: Literal["candidate", "employer"]
    recipient_id: str = Field(min_length=1)
    channel: str = Field(min_length=1)
    template: str = Field(min_length=1)
    match_run_id: str | None = None


# (event_type, schema_version) -> payload model. A new version is a new row, never an edit.
PAYLOAD_MODELS: dict[tuple[str, int], type[BaseModel]] = {
    ("candidate_registered", 1): CandidateRegisteredV1,
    ("resume_uploaded", 1): ResumeUploadedV1,
    ("job_posted", 1): JobPostedV1,
    ("job_posted", 2): JobPostedV2,
    ("job_updated", 1): JobUpdatedV1,
    ("job_closed", 1): JobClosedV1,
    ("application_submitted", 1): ApplicationSubmittedV1,
    ("application_status_changed", 1): ApplicationStatusChangedV1,
    ("match_impression", 1): MatchImpressionV1,
    ("match_clicked", 1): MatchClickedV1,
    ("notification_sent", 1): NotificationSentV1,
}
EVENT_TYPES: tuple[str, ...] = tuple(sorted({event_type for event_type, _ in PAYLOAD_MODELS}))


class Envelope(_Strict):
    event_id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    schema_version: int
    occurred_at: dt.datetime
    tenant_id: str = Field(min_length=1)
    producer: str = Field(min_length=1)
    payload: dict


@dataclass(frozen=True)
class Verdict:
    """Outcome of validating one record: ``event`` (normalised) when ok, else ``reason``/``detail``."""

    ok: bool
    event: dict | None = None
    reason: str | None = None
    detail: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    tenant_id: str | None = None
    extra: dict | None = None  # additive fields the contract does not know, by dotted path


def _reject(reason: str, detail: str, obj: Any = None) -> Verdict:
    def pick(key: str) -> str | None:
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, str) and value else None

    return Verdict(False, None, reason, detail[:1000], pick("event_id"), pick("event_type"), pick("tenant_id"))


def _reason_for(error: ValidationError) -> tuple[str, str]:
    """Map pydantic's first error to one of our reason codes."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    kind = first["type"]
    if kind == "missing":
        return "missing_field", f"required field {where!r} is missing"
    if kind == "extra_forbidden":
        return "extra_field", f"field {where!r} is not in the contract"
    if kind in {"literal_error", "greater_than_equal", "string_too_short", "uuid_parsing", "value_error"}:
        return "invalid_value", f"{where}: {first['msg']}"
    return "wrong_type", f"{where}: {first['msg']}"


def to_utc_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_occurred_at(value: Any) -> dt.datetime | None:
    """ISO-8601 with an explicit offset (a naive time is ambiguous, so it is refused)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else None


def validate_event(record: str | bytes | dict) -> Verdict:
    """Check one record against its contract. Never raises for bad input."""
    if isinstance(record, (bytes, bytearray)):
        try:
            record = record.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _reject("malformed_json", f"not UTF-8: {exc}")
    if isinstance(record, str):
        try:
            obj = json.loads(record)
        except (json.JSONDecodeError, RecursionError) as exc:
            return _reject("malformed_json", f"JSON parse error: {exc}")
    else:
        obj = record
    if not isinstance(obj, dict):
        return _reject("malformed_json", f"top level is {type(obj).__name__}, not an object")
    tenant = obj.get("tenant_id")
    if tenant is None or (isinstance(tenant, str) and not tenant.strip()):
        return _reject("missing_tenant", "tenant_id is missing or empty", obj)
    event_type = obj.get("event_type")
    if event_type not in EVENT_TYPES:
        return _reject("unknown_event_type", f"event_type {event_type!r} is not one of the contracts", obj)
    version = obj.get("schema_version")
    model = PAYLOAD_MODELS.get((event_type, version)) if isinstance(version, int) else None
    if model is None:
        if not isinstance(version, int) or isinstance(version, bool):
            return _reject("wrong_type", f"schema_version must be an int, got {version!r}", obj)
        return _reject("unknown_schema_version", f"{event_type} has no schema_version {version}", obj)
    extra: dict = {}
    obj = _split_unknown(obj, Envelope, "", extra)
    if isinstance(obj.get("payload"), dict):
        obj = {**obj, "payload": _split_unknown(obj["payload"], model, "payload.", extra)}
    try:
        envelope = Envelope.model_validate(_with_datetime(obj), strict=True)
        payload = model.model_validate(envelope.payload, strict=True)
    except ValidationError as exc:
        reason, detail = _reason_for(exc)
        return _reject(reason, detail, obj)
    try:
        uuid.UUID(envelope.event_id)
    except ValueError:
        return _reject("invalid_value", f"event_id {envelope.event_id!r} is not a UUID", obj)
    event = envelope.model_dump(exclude={"payload"})
    event["occurred_at"] = to_utc_iso(envelope.occurred_at)
    event["payload"] = payload.model_dump(mode="json")
    return Verdict(True, event, None, None, envelope.event_id, event_type, envelope.tenant_id, extra or None)


def _split_unknown(obj: dict, model: type[BaseModel], prefix: str, extra: dict) -> dict:
    """``obj`` without the keys ``model`` does not declare (recursively into nested models); those go
    to ``extra`` under their dotted path. Known keys are left exactly as they are, for strict checks."""
    known = model.model_fields
    kept: dict = {}
    for key, value in obj.items():
        info = known.get(key)
        if info is None:
            extra[f"{prefix}{key}"] = value
            continue
        if isinstance(value, dict):  # only a dict can be a nested model; _unwrap is the hot path otherwise
            nested = _unwrap(info.annotation)
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                value = _split_unknown(value, nested, f"{prefix}{key}.", extra)
        kept[key] = value
    return kept


def _with_datetime(obj: dict) -> dict:
    """Strict mode refuses strings for datetimes in Python mode; parse ISO text ourselves (with offset)."""
    value = obj.get("occurred_at")
    if isinstance(value, str):
        parsed = parse_occurred_at(value)
        if parsed is not None:
            return {**obj, "occurred_at": parsed}
    return obj


# ---------- flattening: payload model -> silver columns ----------

SCALAR_KINDS = {str: "string", int: "long", float: "double", bool: "boolean"}


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X; ``Literal[...]`` -> str."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _unwrap(args[0])
    if origin is Literal:
        return type(typing.get_args(annotation)[0])
    return annotation


def flat_columns(event_type: str, schema_version: int | None = None) -> list[tuple[str, str]]:
    """Silver payload columns for a contract: nested objects flattened as ``<parent>_<child>``.
    Without ``schema_version``: the union over every version of the type (the silver table's columns),
    in first-seen order; a name two versions type differently is a contract bug and raises."""
    if schema_version is None:
        merged: dict[str, str] = {}
        for (kind, version) in sorted(PAYLOAD_MODELS):
            if kind != event_type:
                continue
            for name, spark_kind in flat_columns(event_type, version):
                if merged.setdefault(name, spark_kind) != spark_kind:
                    raise TypeError(f"{event_type}: column {name} is {merged[name]} in one version, "
                                    f"{spark_kind} in v{version}")
        return list(merged.items())

    def walk(model: type[BaseModel], prefix: str) -> list[tuple[str, str]]:
        columns: list[tuple[str, str]] = []
        for name, info in model.model_fields.items():
            kind = _unwrap(info.annotation)
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                columns.extend(walk(kind, f"{prefix}{name}_"))
            else:
                columns.append((f"{prefix}{name}", SCALAR_KINDS[kind]))
        return columns

    return walk(PAYLOAD_MODELS[(event_type, schema_version)], "")


def flatten_payload(payload: dict, prefix: str = "") -> dict:
    flat: dict = {}
    for key, value in payload.items():
        if isinstance(value, dict):
            flat.update(flatten_payload(value, f"{prefix}{key}_"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# ---------- JSON Schema export ----------


def json_schema(event_type: str, schema_version: int) -> dict:
    """Full-event JSON Schema (envelope + typed payload) for one contract version."""
    payload_schema = PAYLOAD_MODELS[(event_type, schema_version)].model_json_schema()
    defs = payload_schema.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"marketplace/events/{event_type}/v{schema_version}.json",
        "title": f"{event_type} v{schema_version}",
        "type": "object",
        "additionalProperties": False,
        "required": [*ENVELOPE_FIELDS, "payload"],
        "properties": {
            "event_id": {"type": "string", "format": "uuid"},
            "event_type": {"const": event_type},
            "schema_version": {"const": schema_version},
            "occurred_at": {"type": "string", "format": "date-time"},
            "tenant_id": {"type": "string", "minLength": 1},
            "producer": {"type": "string", "minLength": 1},
            "payload": payload_schema,
        },
        "$defs": defs,
    }


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    written = []
    for event_type, version in sorted(PAYLOAD_MODELS):
        path = directory / f"v{version}" / f"{event_type}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(json_schema(event_type, version), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Event contracts: export JSON Schemas")
    parser.add_argument("--write-schemas", action="store_true", help=f"write JSON Schemas to {SCHEMA_DIR}")
    args = parser.parse_args(argv)
    if args.write_schemas:
        for path in write_schemas():
            print(path)
    else:
        for event_type, version in sorted(PAYLOAD_MODELS):
            print(f"{event_type} v{version}: {', '.join(name for name, _ in flat_columns(event_type, version))}")


if __name__ == "__main__":
    main()
