"""One progress line on a terminal for the plan's slow steps; silent when not a TTY or with --quiet.

    progress = Progress.for_stream(sys.stderr, quiet=args.quiet)
    with progress.step("running the program under mocks"):
        ...
    progress.close()

The line is rewritten in place (carriage return + erase-line) with the step and its elapsed time,
ticking a few times a second from a daemon thread, and erased when the plan is done, so a
terminal ends up showing only the report. Nothing is written anywhere unless the stream is a TTY.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import IO, Iterator

ERASE = "\r\x1b[2K"
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    def __init__(self, stream: IO[str] | None, *, enabled: bool, tick_s: float = 0.2) -> None:
        self.stream = stream
        self.enabled = bool(enabled and stream is not None)
        self.tick_s = tick_s
        self.steps = 0
        self._label = ""
        self._started = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame = 0

    @classmethod
    def for_stream(cls, stream: IO[str] | None, *, quiet: bool = False) -> "Progress":
        isatty = getattr(stream, "isatty", None)
        return cls(stream, enabled=not quiet and callable(isatty) and bool(isatty()))

    def _draw(self) -> None:
        if not self.enabled or not self._label:
            return
        with self._lock:
            spin = SPINNER[self._frame % len(SPINNER)]
            self._frame += 1
            elapsed = time.monotonic() - self._started
            self.stream.write(f"{ERASE}{spin} gpufleet plan [{self.steps}] {self._label} ... {elapsed:.1f}s")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            self._draw()

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        self.steps += 1
        self._label, self._started = label, time.monotonic()
        self._draw()
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="gpufleet-progress", daemon=True)
            self._thread.start()
        try:
            yield
        finally:
            self._draw()

    def close(self) -> None:
        """Stop ticking and erase the line."""
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None
        with self._lock:
            self._label = ""
            self.stream.write(ERASE)
            self.stream.flush()


NO_PROGRESS = Progress(None, enabled=False)
