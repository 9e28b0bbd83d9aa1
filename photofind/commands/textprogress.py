"""A progress line on stderr for the CLI, throttled so printing never slows the scan."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from photofind.core.progress import CancelToken, RateMeter


class TextProgress:
    def __init__(self, token: CancelToken, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.token = token
        self.stream = stream or sys.stderr  # looked up now, so redirection after import works
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self._meter = RateMeter()
        self._last = 0.0
        self._last_phase = ""

    def is_cancelled(self) -> bool:
        return self.token.is_cancelled()

    def update(self, phase: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        rate = self._meter.rate(phase, done)
        finished = total is not None and done >= total
        if phase == self._last_phase and now - self._last < (0.1 if self.tty else 5.0) and not finished:
            return
        self._last, self._last_phase = now, phase
        line = self._line(phase, done, total, rate)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if finished else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _line(self, phase: str, done: int, total: int | None, rate: float) -> str:
        if total:
            width = 28
            filled = int(width * min(done, total) / total)
            bar = "#" * filled + "-" * (width - filled)
            eta = RateMeter.eta(rate, done, total)
            eta_text = f" ETA {int(eta // 60)}:{int(eta % 60):02d}" if eta is not None else ""
            rate_text = f" {rate:.1f}/s" if rate else ""
            return f"{phase:<13} [{bar}] {done}/{total}{rate_text}{eta_text}"
        return f"{phase:<13} {done}"

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
