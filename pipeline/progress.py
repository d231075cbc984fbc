"""What `dti run` says while it works: one line per step with its seconds, on stderr.

On a terminal a spinner names the step being run (``rich``); anywhere else (a pipe, a log
file, CI) each finished step is one plain line, so the output greps and diffs well. stdout
stays for the summary and ``--json``.
"""

from __future__ import annotations

import sys
from typing import TextIO


class StepProgress:
    """Called by ``pipeline.steps.run`` as ``progress(step, None)`` when a step starts and
    ``progress(step, seconds, ok)`` when it ends."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._status = None
        self._console = None
        if self.live:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False)

    def __call__(self, step: str, seconds: float | None, ok: bool = True) -> None:
        if seconds is None:
            if self._console is not None:
                self._status = self._console.status(f"{step} …")
                self._status.start()
            return
        if self._status is not None:
            self._status.stop()
            self._status = None
        line = f"{'ok ' if ok else 'FAILED '}{step:<26} {seconds:6.1f} s"
        if self._console is not None:
            colour = "green" if ok else "bold red"
            self._console.print(f"[{colour}]{'✓' if ok else '✗'}[/] {step:<26} {seconds:6.1f} s")
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
