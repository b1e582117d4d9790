"""A small progress bar on stderr for long `push`/`pull` runs (no dependency: one line redrawn with `\\r`).

It draws only on a terminal (a log file or a pipe should not fill with carriage returns) and not with
`--quiet`; redraws at most every `min_interval` seconds so that a 100,000-resource pull is not slowed by its
own bar. Without a known total it counts; with one it shows a bar and a percentage.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, *, unit: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None, min_interval: float = 0.1, width: int = 24,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.label = label
        self.total = total
        self.unit = unit
        self.count = 0
        self.width = width
        self.min_interval = min_interval
        self.clock = clock
        self._last_draw: float | None = None
        self._drawn = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_total(self, total: int | None) -> None:
        self.total = total
        self._draw(force=True)

    def set_label(self, label: str) -> None:
        self.label = label
        self._draw(force=True)

    def update(self, n: int = 1) -> None:
        self.count += n
        self._draw()

    def render(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            done = min(self.count, self.total)
            filled = int(self.width * done / self.total)
            bar = "#" * filled + "." * (self.width - filled)
            return f"{self.label} [{bar}] {self.count}/{self.total}{unit} {100 * done // self.total}%"
        return f"{self.label} {self.count}{unit}"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not force and self._last_draw is not None and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        self.stream.write("\r\x1b[2K" + self.render())
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Erase the bar (before other output to the same terminal); the next update draws it again."""
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False
            self._last_draw = None

    def close(self) -> None:
        """Draw the final state and end the line, so what follows on stderr starts on a clean line."""
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False
