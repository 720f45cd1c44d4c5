"""Per-shard Kinesis checkpoints, persisted atomically under ``settings.local_state_dir``.

A checkpoint only moves after the files holding those records are durable, so a crash can repeat
records (removed later by the bronze dedupe on event_id) but never skip them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class ShardCheckpoints:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._positions: dict[str, str] = json.loads(self.path.read_text()) if self.path.exists() else {}

    @classmethod
    def for_stream(cls, state_dir: Path, stream_name: str) -> ShardCheckpoints:
        return cls(Path(state_dir) / "ingestion" / "checkpoints" / f"kinesis-{stream_name}.json")

    def get(self, shard_id: str) -> str | None:
        return self._positions.get(shard_id)

    def commit(self, shard_id: str, sequence_number: str) -> None:
        self._positions[shard_id] = sequence_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            json.dump(self._positions, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def as_dict(self) -> dict[str, str]:
        return dict(self._positions)
