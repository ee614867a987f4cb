"""The fault suite: every fault-injection test, run as one, and the figures they recorded.

Runs the fault tests with pytest (in this process, so their real servers, namespaces and fakes
start as in the test suite) and a plugin that reads what each test recorded about the fault it
injected (tests/faults.py: name, kind, seconds to get through it, messages lost, and for hostile
servers the finding code and memory peak), then prints:

- faults injected, survived (the test passed), tracebacks (tests that failed with an exception,
  plus exceptions the product logged), messages lost;
- per fault: the time to get through it and the memory peak where measured;
- the whole run's peak resident memory.

Usage (root, like the tests): benchmarks/faults [--json FILE] [-k EXPRESSION]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The fault tests, in the order the README presents them.
SUITES = (
    "tests/test_hostile_servers.py",
    "tests/test_probe_policy.py",
    "tests/test_hostile_input.py",
    "tests/test_platform_failures.py",
    "tests/test_store_failures.py",
    "tests/test_replicas.py",
)


class Figures:
    """A pytest plugin: collects each test's outcome and recorded fault figures."""

    def __init__(self) -> None:
        self.faults: list[dict[str, Any]] = []
        self.tests: dict[str, str] = {}  # nodeid -> passed | failed | error | skipped
        self.exceptions = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            if report.outcome == "failed" and report.longrepr is not None:
                self.exceptions += 1
            previous = self.tests.get(report.nodeid, "passed")
            self.tests[report.nodeid] = report.outcome if previous == "passed" else previous
        if report.when == "call":
            for name, value in report.user_properties:
                if name == "fault" and isinstance(value, dict):
                    self.faults.append(
                        {**value, "test": report.nodeid, "survived": report.outcome == "passed"}
                    )


def logged_exceptions() -> int:
    """Exceptions the product logged with a traceback during the run (tests/runlog.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from runlog import RUN_LOG

    return sum(1 for line in RUN_LOG.lines if '"error":' in line and "Traceback" in line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("-k", metavar="EXPRESSION", help="only the tests pytest -k selects")
    args = parser.parse_args(argv)
    suites = [s for s in SUITES if (ROOT / s).exists()]
    figures = Figures()
    started = time.monotonic()
    pytest_args = ["-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), *suites]
    if args.k:
        pytest_args += ["-k", args.k]
    code = pytest.main(pytest_args, plugins=[figures])
    took = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracebacks = figures.exceptions + logged_exceptions()
    faults = figures.faults
    summary = {
        "faults_injected": len(faults),
        "survived": sum(1 for f in faults if f["survived"]),
        "tracebacks": tracebacks,
        "messages_lost": sum(int(f.get("lost", 0)) for f in faults),
        "tests": len(figures.tests),
        "tests_passed": sum(1 for o in figures.tests.values() if o == "passed"),
        "peak_rss_mb": round(peak_mb, 1),
        "seconds": round(took, 1),
    }
    print()
    print(
        f"faults injected {summary['faults_injected']}, survived {summary['survived']}, "
        f"tracebacks {tracebacks}, messages lost {summary['messages_lost']}; "
        f"{summary['tests_passed']}/{summary['tests']} tests passed; "
        f"peak memory of the run {summary['peak_rss_mb']} MB; {summary['seconds']} s"
    )
    print()
    print("| fault | kind | survived | got through in | memory peak | what the bot said |")
    print("|---|---|---|---|---|---|")
    for fault in sorted(faults, key=lambda f: (f.get("kind", ""), f.get("name", ""))):
        peak = fault.get("peak_bytes")
        peak_text = f"{peak / 1e6:.1f} MB" if isinstance(peak, int | float) else "—"
        said = fault.get("code") or fault.get("note") or ""
        print(
            f"| {fault.get('name')} | {fault.get('kind')} | "
            f"{'yes' if fault['survived'] else 'NO'} | {fault.get('seconds', 0):.2f} s | "
            f"{peak_text} | {said} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({**summary, "faults": faults}, indent=2))
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
