"""Move this process into a private network namespace (no `ip netns exec` needed)."""

from __future__ import annotations

import ctypes
import os
import subprocess

CLONE_NEWNET = 0x40000000
# Set once the process (and so its children) is inside the test namespace.
MARKER = "MAIL_DOCTOR_TEST_NETNS"


class NetnsError(RuntimeError):
    pass


def enter_private_netns() -> None:
    """unshare(CLONE_NEWNET) and bring up lo.

    Must run before any thread exists: unshare moves only the calling thread, and only threads
    and processes created afterwards inherit the namespace.
    """
    # The daemons and ip live in sbin, which a non-login root PATH may lack.
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(
        [*path, *(d for d in ("/usr/sbin", "/sbin") if d not in path)]
    )
    if os.environ.get(MARKER) == "1":
        return  # already inside (a child of a session that did it)
    if os.geteuid() != 0:
        raise NetnsError("not running as root")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"unshare(CLONE_NEWNET) failed: {os.strerror(err)}")
    try:
        proc = subprocess.run(
            ["ip", "link", "set", "lo", "up"], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise NetnsError(f"cannot run ip (install iproute2): {exc}") from exc
    if proc.returncode != 0:
        raise NetnsError(f"ip link set lo up failed: {proc.stderr.strip()}")
    os.environ[MARKER] = "1"
