"""Progress output for the commands: a one-line bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import TextIO

from migrations_app.models import MigrationItem

BAR_WIDTH = 28


class CommandProgress:
    """A `ProgressFn`: called by the executor at every checkpoint."""

    def __init__(self, stream: TextIO, *, items: int, tty: bool | None = None) -> None:
        self.stream = stream
        self.items = items
        self.tty = stream.isatty() if tty is None else tty
        self._last = 0.0
        self._step: tuple[int, str] | None = None
        self._started = time.monotonic()

    def __call__(self, item: MigrationItem, step: str, done: int, total: int) -> None:
        if (item.pk, step) != self._step:
            self._step = (item.pk, step)
            self._started = time.monotonic()
            if not self.tty:
                self.stream.write(f"{step} {item.position}/{self.items} {item.source_namespace}\n")
                self.stream.flush()
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        fraction = min(1.0, done / total) if total else 1.0
        filled = int(fraction * BAR_WIDTH)
        elapsed = now - self._started
        rate = f" {done / elapsed:,.0f}/s" if elapsed > 0.2 and done else ""
        line = (
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} "
            f"{item.position}/{self.items} {step:<12} {item.source_namespace[:40]:<40} {done}/{total}{rate}"
        )
        self.stream.write(line + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
