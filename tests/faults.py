"""Figures of the fault-injection tests, for `benchmarks/faults`: each test that injects a fault
records what it injected, how long the bot took to get through it, and how many of the person's
messages went without any answer (pytest's record_property, read by the benchmark's plugin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Record = Callable[[str, object], None]


def record_fault(
    record_property: Record, name: str, kind: str, seconds: float, lost: int = 0, **extra: Any
) -> None:
    record_property(
        "fault", {"name": name, "kind": kind, "seconds": round(seconds, 3), "lost": lost, **extra}
    )
