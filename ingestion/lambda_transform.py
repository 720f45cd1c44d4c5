"""Firehose data-transformation Lambda: the AWS twin of the local landing consumer's routing.

Firehose (configured in infra/) calls ``handler`` with a batch of base64 records. Each is routed by
``ingestion.routing.route_record`` — the same code the local consumer runs — and returned as:

- ``Ok`` with the compact JSON line and ``metadata.partitionKeys`` {event_type, dt, hour}, which the
  delivery stream's prefix uses: ``raw/events/event_type=!{partitionKeyFromLambda:event_type}/
  dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/``;
- ``ProcessingFailed`` otherwise, so Firehose writes the original record under the error prefix
  ``raw/errors/dt=!{timestamp:yyyy-MM-dd}/!{firehose:error-output-type}/``; bronze→silver re-derives
  the reason from the raw data with the same routing rules (``routing.normalise_error_line``).

Records are never dropped (no ``Dropped`` result): every record is either landed or an error.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging

from ingestion.routing import Routed, route_record

log = logging.getLogger(__name__)


def transform_record(record: dict) -> dict:
    data = base64.b64decode(record["data"])
    arrival_ms = record.get("approximateArrivalTimestamp")
    arrived = dt.datetime.fromtimestamp(arrival_ms / 1000, dt.UTC) if arrival_ms else dt.datetime.now(dt.UTC)
    routed = route_record(data, arrived)
    if isinstance(routed, Routed):
        return {
            "recordId": record["recordId"],
            "result": "Ok",
            "data": base64.b64encode((routed.line + "\n").encode("utf-8")).decode("ascii"),
            "metadata": {"partitionKeys": {"event_type": routed.event_type, "dt": routed.dt, "hour": routed.hour}},
        }
    log.warning("record %s not routable: %s (%s)", record["recordId"], routed.reason, routed.detail)
    return {"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]}


def handler(event: dict, context=None) -> dict:
    records = [transform_record(record) for record in event.get("records", [])]
    failed = sum(r["result"] != "Ok" for r in records)
    log.info("transformed %d records (%d ok, %d processing-failed)", len(records), len(records) - failed, failed)
    return {"records": records}
