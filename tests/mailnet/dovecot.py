"""Dovecot (IMAP, POP3 and the SASL service Postfix uses), one instance for every test host."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from . import layout
from .certs import CertPair, Certs
from .procs import spawn, tcp_open, wait_until


@dataclass(frozen=True)
class Listener:
    service: str  # "imap" or "pop3"
    ip: str
    port: int
    ssl: bool  # implicit TLS (993/995)


def listeners() -> list[Listener]:
    def full(ip: str) -> list[Listener]:
        return [
            Listener("imap", ip, 143, False),
            Listener("imap", ip, 993, True),
            Listener("pop3", ip, 110, False),
            Listener("pop3", ip, 995, True),
        ]

    return [
        *full(layout.GOOD_IP),
        Listener("imap", layout.EXPIRED_IP, 993, True),
        Listener("imap", layout.EXPIRED_IP, 143, False),
        Listener("imap", layout.WRONGNAME_IP, 993, True),
        Listener("imap", layout.SELFSIGNED_IP, 993, True),
        Listener("imap", layout.FUTURE_IP, 993, True),
        Listener("imap", layout.NOTLS_IP, 143, False),
        Listener("pop3", layout.NOTLS_IP, 110, False),
    ]


def per_address_certs(certs: Certs) -> dict[str, CertPair]:
    return {
        layout.EXPIRED_IP: certs.expired,
        layout.WRONGNAME_IP: certs.wrongname,
        layout.SELFSIGNED_IP: certs.selfsigned,
        layout.FUTURE_IP: certs.future,
    }


def _listener_blocks(service: str) -> str:
    # The default listeners (all addresses) are disabled with port 0; names must be unique.
    out = [f"service {service}-login {{"]
    default_names = ("imap", "imaps") if service == "imap" else ("pop3", "pop3s")
    out += [f"  inet_listener {name} {{\n    port = 0\n  }}" for name in default_names]
    for lst in listeners():
        if lst.service != service:
            continue
        name = f"{service}_{lst.ip.replace('.', '_')}_{lst.port}"
        ssl = "yes" if lst.ssl else "no"
        out.append(
            f"  inet_listener {name} {{\n    address = {lst.ip}\n    port = {lst.port}\n"
            f"    ssl = {ssl}\n  }}"
        )
    out.append("}")
    return "\n".join(out)


def _passwd_files(directory: Path) -> tuple[Path, Path, dict[str, str]]:
    """Write the passwd-files: users who may log in, and users whose right password is refused.

    Extra fields are split at spaces, so a reason with spaces is passed through an environment
    variable (imported by Dovecot) and expanded with %{env:...}.
    """
    normal: list[str] = []
    refused: list[str] = []
    env: dict[str, str] = {}
    for i, user in enumerate(layout.USERS):
        if user.refusal_reason is None:
            normal.append(f"{user.name}:{{PLAIN}}{user.password}\n")
            continue
        var = f"MAILNET_REFUSAL_REASON_{i}"
        env[var] = user.refusal_reason
        refused.append(f"{user.name}:{{PLAIN}}{user.password}::::::reason=%{{env:{var}}}\n")
    paths = directory / "users", directory / "refused-users"
    for path, lines in zip(paths, (normal, refused), strict=True):
        path.write_text("".join(lines))
        path.chmod(0o644)  # read by the auth process, which runs as the dovecot user
    return paths[0], paths[1], env


def write_config(directory: Path, certs: Certs) -> tuple[Path, dict[str, str]]:
    users, refused, env = _passwd_files(directory)
    home = directory / "home"
    home.mkdir(exist_ok=True)
    home.chmod(0o777)
    local_blocks = [
        f"local {ip} {{\n  ssl_cert = <{pair.cert}\n  ssl_key = <{pair.key}\n}}"
        for ip, pair in per_address_certs(certs).items()
    ]
    # The no-TLS host: no STARTTLS/STLS, and plaintext LOGIN allowed there.
    local_blocks.append(
        f"local {layout.NOTLS_IP} {{\n  ssl = no\n  disable_plaintext_auth = no\n}}"
    )
    conf = f"""\
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
info_log_path = {directory}/dovecot.log
protocols = imap pop3
listen = *
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:~/Maildir
disable_plaintext_auth = yes
# XOAUTH2/OAUTHBEARER check the bearer token as the password; Postfix filters them out
# except on the oauth host.
auth_mechanisms = plain login xoauth2 oauthbearer
# Failed logins answer at once: tests try wrong passwords on purpose.
auth_failure_delay = 0
auth_verbose = yes
import_environment = TZ {" ".join(env)}
ssl = yes
ssl_cert = <{certs.valid.cert}
ssl_key = <{certs.valid.key}
# Right password of a refused user: fail with its reason. A "nologin" field would not do:
# Dovecot leaves enforcing it to its login processes, so Postfix's SASL would accept it.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {refused}
  result_success = return-fail
  result_failure = continue
  result_internalfail = continue
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={home}/%u
}}
service auth {{
  unix_listener auth-client {{
    mode = 0666
  }}
}}
# No auth penalty (growing delays of up to 15 s after failures from one IP, and every test
# client is 127.0.0.1): auth cannot open this socket, so it disables the penalty.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{_listener_blocks("imap")}
{_listener_blocks("pop3")}
{chr(10).join(local_blocks)}
"""
    path = directory / "dovecot.conf"
    path.write_text(conf)
    return path, env


def auth_socket(directory: Path) -> Path:
    return directory / "run" / "auth-client"


def start(directory: Path, certs: Certs) -> tuple[subprocess.Popen[bytes], Path]:
    directory.mkdir(parents=True, exist_ok=True)
    conf, env = write_config(directory, certs)
    log = directory / "dovecot.log"
    return spawn(["dovecot", "-F", "-c", str(conf)], log, env), log


def wait_ready(directory: Path, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    wait_until(lambda: auth_socket(directory).exists(), "dovecot auth socket", deadline, log, proc)
    for lst in listeners():
        wait_until(
            partial(tcp_open, lst.ip, lst.port),
            f"dovecot {lst.service} on {lst.ip}:{lst.port}",
            deadline,
            log,
            proc,
        )
