"""Clean up after sessions that died without teardown (pytest killed).

Postfix's master daemonizes, and dnsmasq drops its parent-death signal when it sets its user,
so such daemons outlive a killed pytest. Each session records its pytest process and its
daemons in its work directory; the next session kills what a dead session left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

PREFIX = "mailnet-"
OWNER_FILE = "owner"  # "<pid> <start time>" of the pytest process
PIDS_FILE = "pids"  # one "<pid> <start time>" line per daemon
KEEP_FILE = "kept"  # startup failed: keep the directory for inspection


def _start_time(pid: int) -> str | None:
    """Start time of `pid` (field 22 of /proc/PID/stat): tells a reused pid apart.
    None if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def _identity(pid: int) -> str:
    return f"{pid} {_start_time(pid)}"


def _parse(line: str) -> tuple[int, str] | None:
    try:
        pid_text, start = line.split()
        return int(pid_text), start
    except ValueError:
        return None


def _running(target: tuple[int, str]) -> bool:
    """Whether that same process (pid and start time) still runs."""
    return _start_time(target[0]) == target[1]


def _signal(target: tuple[int, str], sig: int) -> None:
    if _running(target):
        with contextlib.suppress(ProcessLookupError):
            os.kill(target[0], sig)


def record_owner(workdir: Path) -> None:
    (workdir / OWNER_FILE).write_text(_identity(os.getpid()) + "\n")


def record_daemon(workdir: Path, pid: int) -> None:
    with (workdir / PIDS_FILE).open("a") as f:
        f.write(_identity(pid) + "\n")


def mark_kept(workdir: Path) -> None:
    (workdir / KEEP_FILE).touch()


def session_alive(workdir: Path) -> bool:
    try:
        owner = _parse((workdir / OWNER_FILE).read_text().strip())
    except OSError:
        return False
    return owner is not None and _running(owner)


def reap_dead_sessions() -> None:
    for workdir in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if not workdir.is_dir() or session_alive(workdir):
            continue
        try:
            lines = (workdir / PIDS_FILE).read_text().splitlines()
        except OSError:
            lines = []
        targets = [t for line in lines if (t := _parse(line)) is not None and _running(t)]
        for target in targets:
            _signal(target, signal.SIGTERM)
        end = time.monotonic() + 3
        while any(_running(t) for t in targets) and time.monotonic() < end:
            time.sleep(0.05)
        for target in targets:
            _signal(target, signal.SIGKILL)
        if not (workdir / KEEP_FILE).exists():
            shutil.rmtree(workdir, ignore_errors=True)
