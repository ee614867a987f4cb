"""What `mail-doctor serve` shows on /metrics, in the Prometheus text format.

The metrics sit between the adapters and the dialogue (`Instrumented` wraps the dialogue and the
send function it is given), so neither knows they exist; adapters report their platform API
errors and retries through `adapters.observing.ApiEvents`, which `Metrics` implements.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.storage import ConversationStore
from conversations.events import ConversationKey

__all__ = ["CONTENT_TYPE", "Metrics"]

# Probe latency buckets, seconds: a healthy probe takes tens of milliseconds, a dropped port
# the whole check deadline (10 s by default, at most 120).
PROBE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60, 120)
STEP_REFRESH = 10.0  # seconds between counts of the stored conversations by step


class Metrics:
    def __init__(self) -> None:
        # A registry of its own: several apps in one process (tests) do not share counts.
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "mail_doctor_messages_in", "Messages and clicks received", ["platform"], registry=r
        )
        self.messages_out = Counter(
            "mail_doctor_messages_out",
            "Messages sent or edited, by kind",
            ["platform", "kind"],
            registry=r,
        )
        self.conversations = Gauge(
            "mail_doctor_conversations",
            "Stored conversations by step and status",
            ["step", "status"],
            registry=r,
        )
        self.diagnoses = Counter(
            "mail_doctor_diagnoses",
            "Findings in the diagnoses given, by code",
            ["code"],
            registry=r,
        )
        self.probe_seconds = Histogram(
            "mail_doctor_probe_seconds",
            "Time one probe of one server took",
            ["protocol"],
            buckets=PROBE_BUCKETS,
            registry=r,
        )
        self.api_errors = Counter(
            "mail_doctor_platform_api_errors",
            "Platform API calls that failed for good",
            ["platform", "error"],
            registry=r,
        )
        self.api_retries = Counter(
            "mail_doctor_platform_api_retries",
            "Platform API calls retried (rate limits, server errors, connection errors)",
            ["platform", "reason"],
            registry=r,
        )
        self._steps_at = 0.0

    # -- adapters.observing.ApiEvents

    def api_error(self, platform: str, error: str) -> None:
        self.api_errors.labels(platform, error or "unknown").inc()

    def api_retry(self, platform: str, reason: str) -> None:
        self.api_retries.labels(platform, reason or "unknown").inc()

    # -- what the dialogue does

    def received(self, platform: str) -> None:
        self.messages_in.labels(platform).inc()

    def sent(self, platform: str, kind: str, result: dict[str, Any] | None) -> None:
        self.messages_out.labels(platform, kind).inc()
        if kind == "diagnosis" and result is not None:
            for code in {f.get("code", "") for f in result.get("findings", [])}:
                if code:
                    self.diagnoses.labels(code).inc()

    def probe(self, protocol: str, seconds: float) -> None:
        self.probe_seconds.labels(protocol).observe(seconds)

    # -- exposition

    async def render(self, store: ConversationStore) -> bytes:
        """The text for /metrics; the conversation counts are refreshed every few seconds."""
        if time.monotonic() - self._steps_at >= STEP_REFRESH:
            self._steps_at = time.monotonic()
            tally = Tally(
                (str(r.state.get("step", "?")), str(r.state.get("status", "open")))
                for r in await store.list_records()
                if ConversationKey.parse(r.key) is not None  # not case summaries
            )
            self.conversations.clear()
            for (step, status), count in tally.items():
                self.conversations.labels(step, status).set(count)
        return generate_latest(self.registry)
