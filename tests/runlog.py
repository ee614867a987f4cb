"""Everything logged in this test process during the whole run, formatted as `mail-doctor serve`
formats it (JSON, secrets masked, libraries at INFO and above), for the scan in
tests/test_zz_run_log.py, which runs last."""

from __future__ import annotations

import logging

from bot import logs

MAX_LINES = 500_000


class RunLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < MAX_LINES:
            self.lines.append(self.format(record))


RUN_LOG = RunLog()


def install() -> None:
    """Log at INFO, as the product does by default, into RUN_LOG as well as pytest's capture."""
    root = logging.getLogger()
    root.addHandler(RUN_LOG)
    root.setLevel(min(root.level, logging.INFO))
    logs.quiet_libraries("INFO")
