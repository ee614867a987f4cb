"""Postfix: one instance with its own config directory, one smtpd service per test host:port."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import layout, stale
from .certs import CertPair, Certs
from .procs import StartupError, children_of, kill_pid, pid_alive, run, tail, tcp_open

SYSTEM_MAIN_CF = Path("/etc/postfix/main.cf")


@dataclass(frozen=True)
class Listener:
    ip: str
    port: int
    hostname: str
    cert: CertPair
    tls: str  # "starttls" (offered), "wrapper" (implicit TLS, 465) or "none"
    auth: bool
    overrides: dict[str, str] = field(default_factory=dict)


def listeners(certs: Certs) -> list[Listener]:
    v = certs.valid
    mismatched = CertPair(cert=certs.valid.cert, key=certs.expired.key)
    reject = {"smtpd_client_restrictions": "reject", "smtpd_delay_reject": "no"}
    # TLS 1.0/1.1 only; @SECLEVEL=0 because OpenSSL 3 refuses their SHA-1 signatures otherwise.
    legacy = {
        "smtpd_tls_protocols": ">=TLSv1,<=TLSv1.1",
        "smtpd_tls_mandatory_protocols": ">=TLSv1,<=TLSv1.1",
        "smtpd_tls_mandatory_ciphers": "medium",
        "tls_medium_cipherlist": "DEFAULT:@SECLEVEL=0",
    }
    return [
        Listener(layout.GOOD_IP, 25, "mail.good.test", v, "starttls", auth=False),
        Listener(layout.GOOD_IP, 587, "mail.good.test", v, "starttls", auth=True),
        Listener(layout.GOOD_IP, 465, "mail.good.test", v, "wrapper", auth=True),
        Listener(layout.EXPIRED_IP, 465, "mail.expired.test", certs.expired, "wrapper", True),
        Listener(layout.EXPIRED_IP, 587, "mail.expired.test", certs.expired, "starttls", True),
        Listener(layout.WRONGNAME_IP, 465, "mail.wrongname.test", certs.wrongname, "wrapper", True),
        Listener(
            layout.WRONGNAME_IP, 587, "mail.wrongname.test", certs.wrongname, "starttls", True
        ),
        Listener(
            layout.SELFSIGNED_IP, 465, "mail.selfsigned.test", certs.selfsigned, "wrapper", True
        ),
        Listener(layout.FUTURE_IP, 465, "mail.future.test", certs.future, "wrapper", True),
        Listener(layout.REJECT_IP, 25, "mail.reject.test", v, "starttls", False, reject),
        Listener(layout.REJECT_IP, 587, "mail.reject.test", v, "starttls", True, reject),
        Listener(layout.NOAUTH_IP, 587, "mail.noauth.test", v, "starttls", auth=False),
        Listener(
            layout.NOTLS_IP, 587, "mail.notls.test", v, "none", True, {"smtpd_tls_auth_only": "no"}
        ),
        Listener(
            layout.OAUTH_IP,
            587,
            "mail.oauth.test",
            v,
            "starttls",
            True,
            {"smtpd_sasl_mechanism_filter": "xoauth2,oauthbearer"},
        ),
        Listener(layout.LEGACY_IP, 465, "mail.legacy.test", v, "wrapper", True, legacy),
        # A renewed certificate installed with the old key: TLS cannot start at all.
        Listener(layout.BROKENTLS_IP, 465, "mail.brokentls.test", mismatched, "wrapper", True),
    ]


# Debian's internal services, all without chroot so paths in the temp dir resolve.
INTERNAL_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


# (name, group, mode) of the queue subdirectories, as Postfix's own check creates them.
QUEUE_DIRS = [
    *(
        (name, "root", 0o700)
        for name in (
            "active",
            "bounce",
            "corrupt",
            "defer",
            "deferred",
            "flush",
            "hold",
            "incoming",
            "private",
            "saved",
            "trace",
        )
    ),
    ("maildrop", "postdrop", 0o730),
    ("public", "postdrop", 0o710),
    ("pid", "root", 0o755),
]


def _service(lst: Listener) -> str:
    opts: dict[str, str] = {
        "myhostname": lst.hostname,
        "smtpd_tls_cert_file": str(lst.cert.cert),
        "smtpd_tls_key_file": str(lst.cert.key),
        "smtpd_sasl_auth_enable": "yes" if lst.auth else "no",
    }
    if lst.tls == "wrapper":
        opts["smtpd_tls_wrappermode"] = "yes"
        opts["smtpd_tls_security_level"] = "encrypt"
    elif lst.tls == "none":
        opts["smtpd_tls_security_level"] = "none"
    opts.update(lst.overrides)
    lines = [f"{lst.ip}:{lst.port} inet n - n - - smtpd"]
    lines += [f"  -o {key}={value}" for key, value in opts.items()]
    return "\n".join(lines)


def _dead_session_dir(config_dir: str) -> bool:
    """A config dir of a test session that is over (others' entries are left alone)."""
    session = Path(config_dir).parent.parent
    return session.name.startswith(stale.PREFIX) and not stale.session_alive(session)


class Postfix:
    def __init__(self, directory: Path, certs: Certs, sasl_path: Path) -> None:
        self.directory = directory
        self.config_dir = directory / "etc"
        self.queue_dir = directory / "queue"
        self.data_dir = directory / "data"
        self.log = directory / "maillog"
        self.certs = certs
        self.sasl_path = sasl_path
        self.listeners = listeners(certs)
        self._master_pid: int | None = None
        self._stop_children: list[int] = []
        self._stopper: subprocess.Popen[bytes] | None = None

    def _main_cf(self) -> str:
        return f"""\
compatibility_level = 3.6
queue_directory = {self.queue_dir}
data_directory = {self.data_dir}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.log}
maillog_file_prefixes = {self.directory}
inet_protocols = ipv4
myhostname = mail.good.test
mydomain = good.test
myorigin = $myhostname
mydestination =
mynetworks =
# The good host is the MX of good.test: anyone may send to it; the rest needs AUTH.
relay_domains = good.test
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
# Nothing leaves the test network: accepted mail is dropped.
default_transport = discard:test network
relay_transport = discard:test network
alias_maps =
alias_database =
biff = no
smtpd_banner = $myhostname ESMTP
# There is no reverse DNS for 127.x here; looking it up would only add delay.
smtpd_peername_lookup = no
smtpd_tls_security_level = may
smtpd_tls_cert_file = {self.certs.valid.cert}
smtpd_tls_key_file = {self.certs.valid.key}
smtpd_tls_loglevel = 1
smtpd_sasl_type = dovecot
smtpd_sasl_path = {self.sasl_path}
smtpd_sasl_auth_enable = no
smtpd_tls_auth_only = yes
# Dovecot also offers XOAUTH2/OAUTHBEARER; only the oauth host lets them through.
smtpd_sasl_mechanism_filter = plain, login
"""

    def _master_cf(self) -> str:
        services = "\n".join(_service(lst) for lst in self.listeners)
        return f"{services}\n{INTERNAL_SERVICES}"

    def _allow_config_dir(self) -> None:
        """List our config dir in the system main.cf, pruning those of vanished runs."""
        if not SYSTEM_MAIN_CF.exists():
            # Debian's "No configuration" install leaves no main.cf; postfix -c needs one.
            SYSTEM_MAIN_CF.write_text(
                "# Minimal main.cf written by mail-doctor's test harness.\n"
                "compatibility_level = 3.6\n"
                "maillog_file = /var/log/postfix.log\n"
            )
        current = run(["postconf", "-h", "alternate_config_directories"], "postconf").split()
        kept = [d.rstrip(",") for d in current]
        kept = [d for d in kept if d != str(self.config_dir) and not _dead_session_dir(d)]
        value = ", ".join([*kept, str(self.config_dir)])
        run(["postconf", "-e", f"alternate_config_directories = {value}"], "postconf -e")

    def _forget_config_dir(self) -> None:
        current = subprocess.run(
            ["postconf", "-h", "alternate_config_directories"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        kept = [d.rstrip(",") for d in current if d.rstrip(",") != str(self.config_dir)]
        subprocess.run(
            ["postconf", "-e", f"alternate_config_directories = {', '.join(kept)}"],
            capture_output=True,
            check=False,
        )

    def _make_queue(self) -> None:
        """Lay out the queue as `postfix check` would (its checks take seconds), then let
        `postfix start` skip them through the quick-start marker."""
        self.queue_dir.mkdir(parents=True)
        for name, group, mode in QUEUE_DIRS:
            path = self.queue_dir / name
            path.mkdir()
            path.chmod(mode)
            shutil.chown(path, "root" if name == "pid" else "postfix", group)
        self.data_dir.mkdir(mode=0o700)
        shutil.chown(self.data_dir, "postfix", "postfix")
        (self.queue_dir / "quick-start").touch()

    def start(self) -> None:
        self.config_dir.mkdir(parents=True)
        self._make_queue()
        (self.config_dir / "main.cf").write_text(self._main_cf())
        (self.config_dir / "master.cf").write_text(self._master_cf())
        self._allow_config_dir()
        # Postfix waits (in 300 ms steps) until a config file's mtime is in the past, taking
        # it for still being written; backdating them saves over a second.
        past = time.time() - 5
        for cf in (self.config_dir / "main.cf", self.config_dir / "master.cf", SYSTEM_MAIN_CF):
            os.utime(cf, (past, past))
        run(["postfix", "-c", str(self.config_dir), "start"], "postfix start", self.log)

    def master_pid(self) -> int | None:
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def wait_ready(self, deadline: float) -> None:
        pending = list(self.listeners)
        while pending:
            pending = [lst for lst in pending if not tcp_open(lst.ip, lst.port)]
            if not pending:
                break
            if time.monotonic() > deadline:
                where = ", ".join(f"{lst.ip}:{lst.port}" for lst in pending)
                raise StartupError(
                    f"postfix: {where} not listening\n--- {self.log} ---\n{tail(self.log)}"
                )
            time.sleep(0.02)
        self._master_pid = self.master_pid()

    def begin_stop(self) -> None:
        """Run `postfix stop` in the background: it polls only once a second, so the caller
        stops the other servers meanwhile and then calls `finish_stop`."""
        pid = self._master_pid or self.master_pid()
        self._stop_children = children_of(pid) if pid else []
        self._master_pid = pid
        self._stopper = subprocess.Popen(
            ["postfix", "-c", str(self.config_dir), "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def finish_stop(self) -> None:
        pid = self._master_pid
        end = time.monotonic() + 6
        while pid and pid_alive(pid) and time.monotonic() < end:
            time.sleep(0.02)
        # Whatever did not go with the master (or a master that ignored stop) is killed.
        for leftover in [*self._stop_children, *([pid] if pid else [])]:
            if pid_alive(leftover):
                kill_pid(leftover)
        if self._stopper is not None:
            # Its script would only sleep out its one-second poll now that the master is gone.
            self._stopper.kill()
            self._stopper.wait()
        self._forget_config_dir()
