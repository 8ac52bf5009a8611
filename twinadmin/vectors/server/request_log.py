"""What the server answered: every request kept in memory (for tests to count) and, when asked,
appended as JSON lines to a file."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RequestRecord:
    method: str
    path: str
    namespace: str | None
    status: int
    duration_ms: float
    ts: float = field(default_factory=time.time)
    # "rest" or "grpc"; for gRPC, `path` is the gRPC method's (`/VectorService/Upsert`), while
    # `method` and `status` are those of the same request and answer over REST (GET and 404 for
    # a Fetch of a missing namespace), so counts by status hold across both transports.
    transport: str = "rest"
    operation: str | None = None  # upsert, fetch, query, ... (None: no such route)


class RequestLog:
    def __init__(self, path: str | Path | None = None) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._path = Path(path) if path else None
        self._file = self._path.open("a", encoding="utf-8") if self._path else None

    def add(self, **record: Any) -> None:
        entry = RequestRecord(**record)
        with self._lock:
            self._records.append(entry)
            if self._file is not None:
                line = {
                    "ts": round(entry.ts, 6),
                    "method": entry.method,
                    "path": entry.path,
                    "namespace": entry.namespace,
                    "status": entry.status,
                    "duration_ms": round(entry.duration_ms, 3),
                    "transport": entry.transport,
                    "operation": entry.operation,
                }
                self._file.write(json.dumps(line) + "\n")
                self._file.flush()

    def count(
        self,
        *,
        path: str | None = None,
        status: int | None = None,
        operation: str | None = None,
        transport: str | None = None,
    ) -> int:
        with self._lock:
            return sum(
                1
                for r in self._records
                if (path is None or r.path == path)
                and (status is None or r.status == status)
                and (operation is None or r.operation == operation)
                and (transport is None or r.transport == transport)
            )

    def close(self) -> None:
        """Close the file; requests are still counted in memory afterwards."""
        with self._lock:  # not while a late handler thread is writing its line
            if self._file is not None:
                self._file.close()
                self._file = None
