"""Progress output for the commands: a tqdm bar per step on a terminal, plain lines otherwise
(a log or a pipe gets one line when a step starts, not a stream of carriage returns)."""

from __future__ import annotations

from typing import TextIO

from tqdm import tqdm

from migrations_app.models import MigrationItem


class CommandProgress:
    """A `ProgressFn`: called by the executor at every checkpoint."""

    def __init__(self, stream: TextIO, *, items: int, tty: bool | None = None) -> None:
        self.stream = stream
        self.items = items
        self.tty = stream.isatty() if tty is None else tty
        self._step: tuple[int, str] | None = None
        self._bar: tqdm | None = None

    def __call__(self, item: MigrationItem, step: str, done: int, total: int) -> None:
        if (item.pk, step) != self._step:
            self._step = (item.pk, step)
            self.close()
            label = f"{step} {item.position}/{self.items} {item.source_namespace}"
            if not self.tty:
                self.stream.write(label + "\n")
                self.stream.flush()
                return
            self._bar = tqdm(total=total, desc=label[:60], file=self.stream, unit="vec", mininterval=0.1)
        if self._bar is not None:
            self._bar.total = total
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
