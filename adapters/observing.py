"""What an adapter reports about its platform's API, for whoever watches (the /metrics page)."""

from __future__ import annotations

from typing import Protocol


class ApiEvents(Protocol):
    def api_error(self, platform: str, error: str) -> None:
        """A call failed for good (after its retries); `error` is the platform's error code."""

    def api_retry(self, platform: str, reason: str) -> None:
        """A call is tried again: "rate_limited", "server_error" or "connection"."""


class Unwatched:
    """The ApiEvents of an adapter nobody watches."""

    def api_error(self, platform: str, error: str) -> None:
        pass

    def api_retry(self, platform: str, reason: str) -> None:
        pass
