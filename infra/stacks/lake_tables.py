"""Glue table definitions for the lake, transcribed from docs/contracts.md.

Plain data, no CDK: `catalog.py` turns each TableSpec into a Glue CfnTable with Athena partition
projection. Silver and gold tables are named as dbt's sources expect (dbt/models/staging/_sources.yml:
`<event_type>`, `candidate_profiles`, `matches`, … in GLUE_DATABASE); tests check both agree on
names and types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EVENT_TYPES = (
    "candidate_registered",
    "resume_uploaded",
    "job_posted",
    "job_updated",
    "job_closed",
    "application_submitted",
    "application_status_changed",
    "match_impression",
    "match_clicked",
    "notification_sent",
)

# Envelope minus payload, as flattened into every silver table.
_ENVELOPE = [
    ("event_id", "string"),
    ("event_type", "string"),
    ("schema_version", "bigint"),  # Spark writes the contract's ints as LongType
    ("occurred_at", "timestamp"),
    ("tenant_id", "string"),
    ("producer", "string"),
]
_LOCATION = [("location_city", "string"), ("location_region", "string"), ("location_country", "string")]
_JOB_FIELDS = [
    ("job_id", "string"),
    ("employer_id", "string"),
    ("title", "string"),
    ("description", "string"),
    *_LOCATION,
    ("remote", "string"),
    ("salary_min", "double"),
    ("salary_max", "double"),
    ("salary_currency", "string"),
    ("salary_period", "string"),
    ("seniority", "string"),
    ("employment_type", "string"),
    ("occupation_hint", "string"),
]
PAYLOAD_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "candidate_registered": [
        ("candidate_id", "string"),
        ("display_name", "string"),
        ("email", "string"),
        *_LOCATION,
        ("remote_preference", "string"),
        ("desired_salary_min", "double"),
        ("self_reported_opt_in", "boolean"),
        ("self_reported_gender", "string"),
        ("self_reported_age_band", "string"),
    ],
    "resume_uploaded": [
        ("candidate_id", "string"),
        ("resume_id", "string"),
        ("document_uri", "string"),
        ("content_type", "string"),
        ("size_bytes", "bigint"),
        ("sha256", "string"),
    ],
    "job_posted": _JOB_FIELDS,
    "job_updated": _JOB_FIELDS,
    "job_closed": [
        ("job_id", "string"),
        ("employer_id", "string"),
        ("reason", "string"),
        ("hired_candidate_id", "string"),
    ],
    "application_submitted": [
        ("application_id", "string"),
        ("candidate_id", "string"),
        ("job_id", "string"),
        ("source", "string"),
        ("match_run_id", "string"),
    ],
    "application_status_changed": [
        ("application_id", "string"),
        ("candidate_id", "string"),
        ("job_id", "string"),
        ("from_status", "string"),
        ("to_status", "string"),
    ],
    "match_impression": [
        ("impression_id", "string"),
        ("candidate_id", "string"),
        ("job_id", "string"),
        ("match_run_id", "string"),
        ("rank", "bigint"),
        ("score", "double"),
        ("surface", "string"),
    ],
    "match_clicked": [
        ("impression_id", "string"),
        ("candidate_id", "string"),
        ("job_id", "string"),
        ("match_run_id", "string"),
        ("rank", "bigint"),
    ],
    "notification_sent": [
        ("notification_id", "string"),
        ("recipient_type", "string"),
        ("recipient_id", "string"),
        ("channel", "string"),
        ("template", "string"),
        ("match_run_id", "string"),
    ],
}


@dataclass(frozen=True)
class Partition:
    name: str
    type: str  # Hive column type
    projection: dict[str, str]  # projection.<name>.* keys without the prefix, e.g. {"type": "date", ...}


@dataclass(frozen=True)
class TableSpec:
    name: str  # Glue table name
    zone: str  # lake zone (bucket `<prefix>-<zone>`)
    path: str  # key prefix inside the zone bucket
    columns: list[tuple[str, str]]
    partitions: list[Partition] = field(default_factory=list)
    data_format: str = "parquet"  # parquet | json
    description: str = ""


def _dt(start: str = "2024-01-01") -> Partition:
    return Partition(
        "dt",
        "date",
        {
            "type": "date",
            "format": "yyyy-MM-dd",
            "range": f"{start},NOW",
            "interval": "1",
            "interval.unit": "DAYS",
        },
    )


_EVENT_TYPE_ENUM = Partition("event_type", "string", {"type": "enum", "values": ",".join(EVENT_TYPES)})
_HOUR = Partition("hour", "string", {"type": "integer", "range": "0,23", "digits": "2"})
_PROFILE_COMMON = [
    ("tenant_id", "string"),
    ("content_hash", "string"),
    ("skills", "array<string>"),
    ("skill_labels", "array<string>"),
    ("occupation_code", "string"),
    ("occupation_label", "string"),
    ("occupation_score", "double"),
    ("years_experience", "double"),
    ("seniority", "string"),
    ("education_level", "string"),
    ("location_city", "string"),
    ("location_country", "string"),
    ("remote", "string"),
    ("salary_min", "double"),
    ("salary_max", "double"),
]
_PROFILE_TAIL = [("profile_version", "string")]
# Profiles are written per run date (spark_jobs.build_profiles: partitioned by run_date, yyyy-MM-dd).
_RUN_DATE = Partition("run_date", "string", {
    "type": "date", "format": "yyyy-MM-dd", "range": "2024-01-01,NOW", "interval": "1", "interval.unit": "DAYS"})
# Runs are `<date>T<weights>`: no projection type fits, and dbt reads every run (an `injected` key would
# force a run_id filter on every query). Spark registers each run's partition in Glue (see README).
_RUN_ID = Partition("run_id", "string", {})


def table_specs() -> list[TableSpec]:
    """Every lake table the platform reads with Athena/dbt/QuickSight."""
    # Partition columns cannot repeat as data columns, so event_type lives only in the partition.
    without_type = [column for column in _ENVELOPE if column[0] != "event_type"]
    # Raw JSON is read as text (the OpenX SerDe returns nested payloads as JSON strings); typing happens in silver.
    envelope_raw = [(name, "string") for name, _ in without_type] + [("payload", "string")]
    specs = [
        TableSpec(
            "raw_events",
            "raw",
            "events",
            envelope_raw,
            [_EVENT_TYPE_ENUM, _dt(), _HOUR],
            data_format="json",
            description="Firehose output: one JSON event per line, partitioned on event time.",
        ),
        TableSpec(
            "bronze_events",
            "bronze",
            "events",
            # spark_jobs.bronze_to_silver parses only the envelope, as text: every envelope field is a string.
            [*[(name, "string") for name, _ in without_type], ("payload_json", "string"), ("_raw_record", "string"),
             ("_source_file", "string"), ("_ingested_at", "timestamp")],
            [_EVENT_TYPE_ENUM, _dt()],
            description="Envelope + payload_json, partitioned by event_type and event date.",
        ),
        TableSpec(
            "quarantine_events",
            "quarantine",
            "events",
            [
                ("event_id", "string"),
                ("event_type", "string"),
                ("tenant_id", "string"),
                ("stage", "string"),
                ("reason", "string"),
                ("detail", "string"),
                ("raw_record", "string"),
                ("quarantined_at", "timestamp"),
            ],
            [_dt()],
            description="Records rejected by any stage, with a machine reason code.",
        ),
    ]
    for event_type in EVENT_TYPES:
        specs.append(
            TableSpec(
                event_type,
                "silver",
                event_type,
                # extra: JSON of additive fields the contract does not know; _payload_sha256: the dedupe's
                # conflict check (spark_jobs.bronze_to_silver.silver_for writes both).
                [*_ENVELOPE, *PAYLOAD_COLUMNS[event_type], ("extra", "string"), ("_payload_sha256", "string"),
                 ("_ingested_at", "timestamp")],
                [_dt()],
                description=f"Deduplicated {event_type} events (one row per event_id).",
            )
        )
    specs += [
        TableSpec(
            "candidate_profiles",
            "gold",
            "candidate_profiles",
            [("candidate_id", "string"), *_PROFILE_COMMON, *_PROFILE_TAIL],
            [_RUN_DATE],
        ),
        TableSpec(
            "job_profiles",
            "gold",
            "job_profiles",
            [
                ("job_id", "string"),
                *_PROFILE_COMMON,
                ("essential_skills", "array<string>"),
                ("optional_skills", "array<string>"),
                ("job_status", "string"),
                *_PROFILE_TAIL,
            ],
            [_RUN_DATE],
        ),
        TableSpec(
            "embeddings",
            "gold",
            "embeddings",
            [
                ("tenant_id", "string"),
                ("entity_id", "string"),
                ("content_hash", "string"),
                ("model_version", "string"),
                ("vector", "array<float>"),
                ("embedded_at", "timestamp"),
            ],
            [Partition("entity_type", "string", {"type": "enum", "values": "candidate,job"})],
        ),
        TableSpec(
            "matches",
            "gold",
            "matches",
            [
                ("tenant_id", "string"),
                ("direction", "string"),
                ("candidate_id", "string"),
                ("job_id", "string"),
                ("rank", "int"),
                ("score", "double"),
                ("semantic", "double"),
                ("skills", "double"),
                ("experience", "double"),
                ("location", "double"),
                ("salary", "double"),
                ("occupation", "double"),  # ISCO agreement of the two sides' occupations (matching.scoring)
                ("matched_skills", "array<string>"),
                ("missing_essential", "array<string>"),
                ("missing_optional", "array<string>"),
                ("weights_version", "string"),
                ("model_version", "string"),
                ("run_date", "string"),
            ],
            [_RUN_ID],
            description="Top-K matches per run, partitioned by run_id (partitions registered per run).",
        ),
        TableSpec(
            "match_runs",
            "gold",
            "match_runs",
            [
                ("run_date", "string"),
                ("weights_version", "string"),
                ("model_version", "string"),
                ("candidates", "bigint"),
                ("jobs", "bigint"),
                ("k", "int"),
                ("pairs_scored", "bigint"),
                ("matches_written", "bigint"),
                ("status", "string"),
                ("status_detail", "string"),
                ("created_at", "timestamp"),
                ("updated_at", "timestamp"),
            ],
            [_RUN_ID],
            description="The match-run ledger (pending → audited | blocked → published), one partition per run.",
        ),
    ]
    return specs
