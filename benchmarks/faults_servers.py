"""Hostile and broken mail servers: how a check ends against each (finding, time, memory).

For every fault of tests/mailnet/hostile.py (FAULTS) this runs one real check against the test
mail network with a 3 s deadline and reports: the finding code that says what the server did, the
seconds the check took, the peak of Python memory allocated during the check (tracemalloc, the
whole process: the hostile servers run in it too, so this is an upper bound), and whether a
traceback was raised or logged.

Usage (root, like the tests): .venv/bin/python benchmarks/faults_servers.py [--json FILE]

From code: `run_server_faults()` -> list[dict] with the keys fault, what, code, expected, codes,
seconds, peak_bytes, traceback, ok. It enters the tests' private network namespace and starts the
network when not given one (call it before any thread is started, as benchmarks/check_speed.py
does); inside a running test session, `await measure_server_faults(mailnet)`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import traceback
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "tests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from checks import run_check  # noqa: E402
from mailnet import MailNet, enter_private_netns  # noqa: E402
from mailnet.hostile import FAULTS, Fault  # noqa: E402

from bot.config import Settings  # noqa: E402

DEADLINE = 3.0  # seconds: the deadline of every check here


class _Tracebacks(logging.Handler):
    """Counts log records that carry a traceback (a probe that crashed and was caught)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


async def measure_fault(
    fault: Fault, env: Mapping[str, str], deadline: float = DEADLINE
) -> dict[str, Any]:
    """Run the fault's check once; what it found, how long it took, the memory it used."""
    settings = Settings.from_env({**env, **fault.env})
    catcher = _Tracebacks()
    root = logging.getLogger()
    root.addHandler(catcher)
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    codes: list[str] = []
    raised = ""
    try:
        report = await run_check(
            fault.address,
            timeout=deadline,
            settings=settings,
            **fault.check,  # type: ignore[arg-type]
        )
        codes = [f.code for f in report.findings]
    except Exception:
        raised = traceback.format_exc()
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] - before
        if started_tracing:
            tracemalloc.stop()
        root.removeHandler(catcher)
    code = fault.code if fault.code in codes else (codes[0] if codes else "")
    return {
        "fault": fault.name,
        "what": fault.what,
        "code": code,
        "expected": fault.code,
        "codes": codes,
        "seconds": round(seconds, 3),
        "peak_bytes": peak,
        "traceback": bool(raised or catcher.records),
        "traceback_text": raised
        or "\n".join(logging.Formatter().format(r) for r in catcher.records),
        "ok": fault.code in codes and not set(fault.absent) & set(codes),
    }


async def measure_server_faults(
    net: MailNet, faults: tuple[Fault, ...] = FAULTS
) -> list[dict[str, Any]]:
    results = []
    for fault in faults:
        net.hostile.clear()
        results.append(await measure_fault(fault, net.env))
    return results


def run_server_faults() -> list[dict[str, Any]]:
    """Every fault once, in the tests' network namespace and mail network (started here)."""
    enter_private_netns()
    net = MailNet.start()
    try:
        return asyncio.run(measure_server_faults(net))
    finally:
        net.stop()


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| fault | finding | time to finish | memory peak |",
        "|---|---|---|---|",
    ]
    for r in results:
        mark = "" if r["ok"] and not r["traceback"] else " ⚠"
        rows.append(
            f"| {r['what']} | `{r['code']}`{mark} | {r['seconds']:.2f} s "
            f"| {r['peak_bytes'] / 1024 / 1024:.1f} MB |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    results = run_server_faults()
    print(f"Deadline {DEADLINE:.0f} s per check.\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["ok"] and not r["traceback"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
