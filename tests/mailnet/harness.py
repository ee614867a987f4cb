"""Start and stop the whole test mail network; what the `mailnet` fixture returns."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import dnsmasq, dovecot, firewall, layout, stale
from .certs import Certs, make_certs
from .hostile import HostilePeers
from .peers import HttpExchange, HttpRequest, Peers
from .postfix import Postfix
from .procs import reap, require_programs, terminate

STARTUP_TIMEOUT = 20.0
# Set to keep the work directory (configs, logs, certificates) after the session.
KEEP_ENV = "MAILNET_KEEP"


class MailNet:
    """The running test network. Construct with `MailNet.start()`; always call `stop()`."""

    dns_server = layout.DNS_IP

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.certs: Certs
        self.ca_file: str
        self.env: dict[str, str] = {}
        self.startup_seconds = 0.0
        self._peers: Peers | None = None
        self._hostile: HostilePeers | None = None
        self._postfix: Postfix | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._cleanups: list[Callable[[], None]] = []
        self.logs: dict[str, Path] = {
            "postfix": workdir / "postfix" / "maillog",
            "dovecot": workdir / "dovecot" / "dovecot.log",
            "dnsmasq": workdir / "dnsmasq" / "dnsmasq.log",
            "peers": workdir / "peers.log",
            "hostile": workdir / "hostile.log",
        }

    @classmethod
    def start(cls) -> MailNet:
        stale.reap_dead_sessions()
        workdir = Path(tempfile.mkdtemp(prefix=stale.PREFIX))
        # Postfix (as user postfix) must reach Dovecot's socket; Dovecot's auth (as user
        # dovecot) must read the passwd-files.
        workdir.chmod(0o755)
        stale.record_owner(workdir)
        net = cls(workdir)
        try:
            net._start()
        except BaseException:
            stale.mark_kept(workdir)
            net.stop(keep_workdir=True)  # its configs and logs explain the failure
            raise
        return net

    def _start(self) -> None:
        require_programs("dnsmasq", "dovecot", "postfix", "postconf", "nft")
        began = time.monotonic()
        deadline = began + STARTUP_TIMEOUT
        self.certs = make_certs(self.workdir / "certs")
        self.ca_file = str(self.certs.ca)
        self.env = {
            "MAIL_DOCTOR_DNS_SERVERS": layout.DNS_IP,
            "MAIL_DOCTOR_CA_FILE": self.ca_file,
            "MAIL_DOCTOR_ALLOW_NETWORKS": "127.0.0.0/8",
            "MAIL_DOCTOR_ISPDB_URL": layout.ISPDB_URL,
        }

        firewall.install()
        self._cleanups.append(firewall.remove)

        dns_proc, dns_log = dnsmasq.start(self.workdir / "dnsmasq")
        self._procs.append(dns_proc)
        dovecot_dir = self.workdir / "dovecot"
        dovecot_proc, dovecot_log = dovecot.start(dovecot_dir, self.certs)
        self._procs.append(dovecot_proc)
        for proc in self._procs:
            stale.record_daemon(self.workdir, proc.pid)

        self._peers = Peers(self.certs.web, self.logs["peers"])
        self._peers.start()
        self._hostile = HostilePeers(self.logs["hostile"])
        self._hostile.start()

        # Dovecot's auth socket must exist before Postfix offers AUTH.
        dovecot.wait_ready(dovecot_dir, dovecot_proc, dovecot_log, deadline)
        self._postfix = Postfix(
            self.workdir / "postfix", self.certs, dovecot.auth_socket(dovecot_dir)
        )
        self._postfix.start()
        dnsmasq.wait_ready(dns_proc, dns_log, deadline)
        self._postfix.wait_ready(deadline)
        if (master := self._postfix.master_pid()) is not None:
            stale.record_daemon(self.workdir, master)
        self.startup_seconds = time.monotonic() - began

    def stop(self, keep_workdir: bool = False) -> None:
        """Stop everything that was started; safe to call more than once."""
        postfix, self._postfix = self._postfix, None
        if postfix is not None:
            postfix.begin_stop()
        for proc in self._procs:
            terminate(proc)
        if self._peers is not None:
            self._peers.stop()
            self._peers = None
        if self._hostile is not None:
            self._hostile.stop()
            self._hostile = None
        if postfix is not None:
            postfix.finish_stop()
        for proc in self._procs:
            reap(proc)
        self._procs.clear()
        for cleanup in reversed(self._cleanups):
            cleanup()
        self._cleanups.clear()
        if not (keep_workdir or os.environ.get(KEEP_ENV)):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- what tests use ---

    @property
    def http_requests(self) -> list[HttpRequest]:
        """(host, path) of every HTTP(S) request the web peers received, oldest first."""
        return self._running_peers().http_requests

    @property
    def http_log(self) -> list[HttpExchange]:
        """The same requests with scheme, method, query and status."""
        return self._running_peers().http_log

    def fetched_urls(self) -> list[str]:
        """The requested URLs (scheme://host/path, query dropped), oldest first."""
        return [r.url for r in self.http_log]

    def clear_http_requests(self) -> None:
        peers = self._running_peers()
        peers.http_requests.clear()
        peers.http_log.clear()

    @property
    def hostile(self) -> HostilePeers:
        """The hostile and broken servers (hostile.py): connection and DNS query counts."""
        assert self._hostile is not None, "mailnet is not running"
        return self._hostile

    def _running_peers(self) -> Peers:
        assert self._peers is not None, "mailnet is not running"
        return self._peers

    def log_mark(self) -> dict[str, int]:
        """Current size of every log, to read only what follows with `log(name, since=...)`."""
        return {name: _size(path) for name, path in self.logs.items()}

    def log(self, name: str, since: dict[str, int] | None = None) -> str:
        """Text of a server log: "postfix", "dovecot", "dnsmasq", "peers" or "hostile"."""
        path = self.logs[name]
        start = since.get(name, 0) if since else 0
        try:
            with path.open("rb") as f:
                f.seek(start)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
