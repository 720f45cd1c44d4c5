"""moto server with three of its own costs removed (same behaviour, same API): ``python -m common.local_services.moto_server``.

moto is the local stand-in for EventBridge and SQS. Three of its costs grow with work no real service
pays for, and dominated the landing benchmark (``make bench-ingest``):

- every event an EventBridge rule delivers to a target builds eight JSONPath parsers from scratch
  (PLY grammar tables, ~5 ms each): ~40 ms per event, i.e. ~25 events/s per core for PutEvents;
- every SQS message returned by ReceiveMessage re-checks its retention period by recomputing *all* the
  queue's attributes twice, including three scans of every message in the queue: ReceiveMessage is
  O(queue depth) per message, draining a backlog O(n²);
- each of those scans asks each message for the time through two naive-datetime round trips, and
  DeleteMessage walks every message's receipt handles twice.

The patches below keep what moto answers identical (a parsed JSONPath expression is immutable, the
retention period is the queue's own attribute, the clock is the same wall clock) and only remove the
repeated work; ``tests/unit/test_local_services.py`` checks EventBridge → SQS delivery, visibility
and retention through them. Everything else is moto's own ``moto.server.main``.
"""

from __future__ import annotations

import functools
import sys
import time


def apply_patches() -> None:
    """Idempotent: memoise JSONPath parsing, read the retention period directly, use a cheap clock."""
    import jsonpath_ng.ext
    from moto.sqs import models as sqs_models

    if getattr(jsonpath_ng.ext, "_parse_memoised", False):
        return
    # moto.events.utils imports `parse` from jsonpath_ng.ext inside the function, at every call.
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
    jsonpath_ng.ext._parse_memoised = True

    def is_message_valid_based_on_retention_period(self, queue_name: str, message) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return retention_period + message.sent_timestamp / 1000 > time.time()

    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    # moto's unix_time_millis() is utcnow() - utcfromtimestamp(0): the same wall clock as time.time().
    sqs_models.Message.visible = property(lambda self: time.time() * 1000.0 > self.visible_at)
    sqs_models.Message.delayed = property(lambda self: time.time() * 1000.0 < self.delayed_until)

    # The queue-wide scans (every SendMessage computes the three counts, every ReceiveMessage lists the
    # visible messages): the same predicates as Message.visible / .delayed, read against one clock reading.
    def visible_messages(self) -> list:
        now = time.time() * 1000.0
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def count_delayed(self) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if now < m.delayed_until)

    def count_not_visible(self) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if not now > m.visible_at)

    queue = sqs_models.Queue
    queue.messages = property(visible_messages)
    queue.approximate_number_of_messages = property(lambda self: len(self.messages))
    queue.approximate_number_of_messages_delayed = property(count_delayed)
    queue.approximate_number_of_messages_not_visible = property(count_not_visible)

    def delete_message(self, receipt_handle: str) -> None:
        """moto's Queue.delete_message in one pass (it walked every message's receipt handles twice)."""
        if receipt_handle in self.deleted_messages:
            return  # already deleted: deleting again is fine
        kept, found = [], False
        for message in self._messages:
            if receipt_handle == message.receipt_handle or receipt_handle in message._old_receipt_handles:
                found = True
                self.pending_messages.discard(message)
                self.deleted_messages.update(message.all_receipt_handles)
            else:
                kept.append(message)
        if not found:
            raise sqs_models.ReceiptHandleIsInvalid()
        self._messages = kept

    queue.delete_message = delete_message


def main(argv: list[str] | None = None) -> None:
    apply_patches()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
