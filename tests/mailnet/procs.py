"""Process and readiness helpers shared by the server modules."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class StartupError(RuntimeError):
    """A test server did not come up; the message carries the tail of its log."""


def require_programs(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise StartupError(
            f"missing programs: {', '.join(missing)}; install them with scripts/test-deps.sh"
        )


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def spawn(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a foreground daemon with stdout/stderr appended to `log`, `env` added."""
    # setpriv (util-linux) asks for SIGTERM when pytest dies, without preexec_fn (unsafe once
    # threads exist). Daemons that change credentials drop it; stale.py covers those.
    prefix = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []
    with log.open("ab") as out:
        return subprocess.Popen(
            [*prefix, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def run(argv: Sequence[str], what: str, log: Path | None = None) -> str:
    """Run a command that must succeed; on failure raise with its output and the log tail."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip()
        log_part = f"\n--- {log} ---\n{tail(log)}" if log else ""
        raise StartupError(f"{what} failed ({proc.returncode}): {detail}{log_part}")
    return proc.stdout


def tcp_open(ip: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    what: str,
    deadline: float,
    log: Path,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll `check` until it holds; fail early if `proc` died, or at `deadline` (monotonic)."""
    while not check():
        if proc is not None and proc.poll() is not None:
            raise StartupError(
                f"{what}: process exited with {proc.returncode}\n--- {log} ---\n{tail(log)}"
            )
        if time.monotonic() > deadline:
            raise StartupError(f"{what}: not ready in time\n--- {log} ---\n{tail(log)}")
        time.sleep(0.02)


def terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()


def reap(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Wait for a terminated process; kill it if it takes longer than `timeout`."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found
