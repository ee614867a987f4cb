"""Test-suite setup: a private network namespace and a session-wide real mail network.

The namespace is entered at import time, before pytest or any test creates a thread: unshare()
moves only the calling thread, and everything started later (threads, Postfix, Dovecot, dnsmasq)
inherits it. Inside it every 127.x.y.z address is usable and the standard mail ports are free.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailnet import MailNet, NetnsError, enter_private_netns
from mailnet.redis import RedisServer
from runlog import install as record_the_run_log

_netns_error: NetnsError | None = None
try:
    enter_private_netns()
except NetnsError as exc:
    _netns_error = exc


def pytest_configure(config: pytest.Config) -> None:
    record_the_run_log()
    # Exiting here rather than at import gives a plain message instead of an import traceback.
    if _netns_error is not None:
        pytest.exit(
            "mail-doctor's tests must run as root: they create a private network namespace "
            f"with real mail servers ({_netns_error}). Run them as root, as CI does: "
            "`python -m pytest` in a root shell, or `sudo -E python -m pytest`.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(scope="session")
def mailnet() -> Iterator[MailNet]:
    """The running test mail network (see tests/mailnet/layout.py for hosts and users)."""
    net = MailNet.start()
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture
def mail_env(mailnet: MailNet, monkeypatch: pytest.MonkeyPatch) -> MailNet:
    """Point the bot at the test network through its environment variables, and start the
    test with an empty `mailnet.http_requests`."""
    for key, value in mailnet.env.items():
        monkeypatch.setenv(key, value)
    mailnet.clear_http_requests()
    return mailnet


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for the whole run (the Redis store and the replica tests)."""
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()
