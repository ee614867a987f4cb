"""The test mail network itself behaves the way the engine's tests rely on.

Only the standard library and dnspython are used here, so a failure points at the harness,
not at the bot.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import ssl
import time

import dns.rdatatype
import dns.resolver
import pytest
from mailnet import MailNet

pytestmark = pytest.mark.usefixtures("mailnet")

GOOD = "127.0.1.1"


def resolver() -> dns.resolver.Resolver:
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.53"]
    r.lifetime = 2.0
    return r


def address_of(name: str) -> str:
    return str(resolver().resolve(name, "A")[0])


def ca_context(mailnet: MailNet) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=mailnet.ca_file)


class Line:
    """Line-oriented client over a socket that can be upgraded to TLS."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def readline(self) -> str:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"closed; got {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def smtp_reply(self) -> list[str]:
        lines = [self.readline()]
        while lines[-1][3:4] == "-":
            lines.append(self.readline())
        return lines

    def smtp(self, command: str) -> list[str]:
        self.send(command)
        return self.smtp_reply()

    def starttls(self, context: ssl.SSLContext, hostname: str) -> None:
        assert not self.buf
        self.sock = context.wrap_socket(self.sock, server_hostname=hostname)


def connect(ip: str, port: int, timeout: float = 5.0) -> Line:
    return Line(socket.create_connection((ip, port), timeout=timeout))


def connect_tls(ip: str, port: int, context: ssl.SSLContext, hostname: str) -> Line:
    sock = socket.create_connection((ip, port), timeout=5.0)
    try:
        return Line(context.wrap_socket(sock, server_hostname=hostname))
    except BaseException:
        sock.close()
        raise


def ehlo_keywords(reply: list[str]) -> list[str]:
    return [line[4:] for line in reply[1:]]


def http_get(
    ip: str, host: str, path: str, context: ssl.SSLContext | None = None, port: int | None = None
) -> tuple[int, bytes]:
    sock = socket.create_connection((ip, port or (443 if context else 80)), timeout=5.0)
    with context.wrap_socket(sock, server_hostname=host) if context else sock as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# --- DNS ---


def test_mx_and_spf_of_good_test() -> None:
    mx = resolver().resolve("good.test", "MX")
    assert [(r.preference, str(r.exchange)) for r in mx] == [(10, "mail.good.test.")]
    assert address_of("mail.good.test") == GOOD
    txt = resolver().resolve("good.test", "TXT")
    assert [b"".join(r.strings) for r in txt] == [b"v=spf1 mx -all"]


def test_unknown_names_are_nxdomain_and_known_ones_nodata() -> None:
    for name in ("gmial.com", "nothing.test", "example.org"):
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver().resolve(name, "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver().resolve("guess.test", "MX")  # exists (TXT) but has no MX
    with pytest.raises(dns.resolver.NoAnswer):
        resolver().resolve("nomx.test", "MX")  # has an A record only
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver().resolve("smtp.guess.test", "A")


def test_null_mx_and_srv_records() -> None:
    null = resolver().resolve("nullmx.test", "MX")
    assert [(r.preference, str(r.exchange)) for r in null] == [(0, ".")]
    srv = resolver().resolve("_submission._tcp.srv.test", "SRV")
    assert [(str(r.target), r.port) for r in srv] == [("mail.good.test.", 587)]
    imaps = resolver().resolve("_imaps._tcp.srv.test", dns.rdatatype.SRV)
    assert [(str(r.target), r.port) for r in imaps] == [("mail.good.test.", 993)]


# --- SMTP ---


def test_submission_587_offers_auth_only_after_starttls(mailnet: MailNet) -> None:
    c = connect(address_of("smtp.good.test"), 587)
    assert c.smtp_reply() == ["220 mail.good.test ESMTP"]
    before = ehlo_keywords(c.smtp("EHLO client.test"))
    assert "STARTTLS" in before
    assert not any(k.startswith("AUTH") for k in before)
    assert c.smtp("STARTTLS")[0].startswith("220")
    c.starttls(ca_context(mailnet), "smtp.good.test")
    after = ehlo_keywords(c.smtp("EHLO client.test"))
    assert "AUTH PLAIN LOGIN" in after
    assert "STARTTLS" not in after
    c.smtp("QUIT")


def test_465_implicit_tls_verifies_against_test_ca(mailnet: MailNet) -> None:
    c = connect_tls(GOOD, 465, ca_context(mailnet), "mail.good.test")
    assert c.smtp_reply() == ["220 mail.good.test ESMTP"]
    assert isinstance(c.sock, ssl.SSLSocket)
    assert c.sock.version() == "TLSv1.3"
    c.smtp("QUIT")


def _auth_plain(mailnet: MailNet, user: str, password: str) -> str:
    c = connect_tls(GOOD, 465, ca_context(mailnet), "mail.good.test")
    c.smtp_reply()
    c.smtp("EHLO client.test")
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    reply = c.smtp(f"AUTH PLAIN {token}")[0]
    c.smtp("QUIT")
    return reply


def test_smtp_auth_plain_on_465(mailnet: MailNet) -> None:
    assert _auth_plain(mailnet, "alice@good.test", "correct horse battery").startswith("235 ")
    assert _auth_plain(mailnet, "alice@good.test", "wrong").startswith("535 ")
    assert _auth_plain(mailnet, "app@good.test", "normal-password") == (
        "535 5.7.8 Error: authentication failed: Application-specific password required"
    )


def test_reject_host_greets_with_554() -> None:
    for port in (25, 587):
        greeting = connect(address_of("mail.reject.test"), port).smtp_reply()
        assert greeting[0].startswith("554 "), greeting


def test_special_submission_hosts(mailnet: MailNet) -> None:
    notls = connect("127.0.11.1", 587)
    notls.smtp_reply()
    keywords = ehlo_keywords(notls.smtp("EHLO client.test"))
    assert "AUTH PLAIN LOGIN" in keywords
    assert "STARTTLS" not in keywords

    for ip, name, expected in (
        ("127.0.10.1", "mail.noauth.test", None),
        ("127.0.12.1", "mail.oauth.test", "AUTH XOAUTH2 OAUTHBEARER"),
    ):
        c = connect(ip, 587)
        assert c.smtp_reply() == [f"220 {name} ESMTP"]
        c.smtp("EHLO client.test")
        c.smtp("STARTTLS")
        c.starttls(ca_context(mailnet), name)
        auth = [k for k in ehlo_keywords(c.smtp("EHLO client.test")) if k.startswith("AUTH")]
        assert auth == ([expected] if expected else [])


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_legacy_host_speaks_only_tls_1_1(mailnet: MailNet) -> None:
    with pytest.raises(ssl.SSLError):
        connect_tls("127.0.13.1", 465, ca_context(mailnet), "mail.legacy.test")
    old = ca_context(mailnet)
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    c = connect_tls("127.0.13.1", 465, old, "mail.legacy.test")
    assert isinstance(c.sock, ssl.SSLSocket)
    assert c.sock.version() == "TLSv1.1"
    assert c.smtp_reply() == ["220 mail.legacy.test ESMTP"]


# --- IMAP / POP3 ---


def test_imap_143_has_logindisabled_before_tls() -> None:
    greeting = connect(address_of("imap.good.test"), 143).readline()
    assert greeting.startswith("* OK")
    assert "STARTTLS" in greeting
    assert "LOGINDISABLED" in greeting


def pop3_capa(ip: str) -> list[str]:
    pop = connect(ip, 110)
    assert pop.readline().startswith("+OK")
    pop.send("CAPA")
    capa = [pop.readline()]
    while capa[-1] != ".":
        capa.append(pop.readline())
    pop.send("QUIT")
    return capa


def test_pop3_stls_and_the_no_tls_host() -> None:
    assert "STLS" in pop3_capa(GOOD)
    # The no-TLS host offers neither STLS nor STARTTLS, and allows plaintext login.
    capa = pop3_capa("127.0.11.1")
    assert "STLS" not in capa
    assert "USER" in capa
    greeting = connect("127.0.11.1", 143).readline()
    assert "STARTTLS" not in greeting
    assert "LOGINDISABLED" not in greeting
    assert "AUTH=PLAIN" in greeting


def test_imap_login_results(mailnet: MailNet) -> None:
    def login(user: str, password: str) -> str:
        c = connect_tls(GOOD, 993, ca_context(mailnet), "imap.good.test")
        c.readline()
        c.send(f'a LOGIN {user} "{password}"')
        while not (line := c.readline()).startswith("a "):
            pass
        c.send("b LOGOUT")
        return line

    assert login("alice@good.test", "correct horse battery").startswith("a OK")
    assert login("alice@good.test", "wrong").startswith("a NO [AUTHENTICATIONFAILED]")
    assert login("app@good.test", "normal-password") == (
        "a NO [ALERT] Application-specific password required"
    )


# --- certificate failures ---


@pytest.mark.parametrize(
    ("ip", "port", "hostname", "reason"),
    [
        ("127.0.2.1", 465, "mail.expired.test", "certificate has expired"),
        ("127.0.2.1", 993, "mail.expired.test", "certificate has expired"),
        ("127.0.3.1", 465, "mail.wrongname.test", "Hostname mismatch"),
        ("127.0.3.1", 993, "mail.wrongname.test", "Hostname mismatch"),
        ("127.0.4.1", 465, "mail.selfsigned.test", "self-signed certificate"),
        ("127.0.4.1", 993, "mail.selfsigned.test", "self-signed certificate"),
        ("127.0.5.1", 465, "mail.future.test", "certificate is not yet valid"),
        ("127.0.5.1", 993, "mail.future.test", "certificate is not yet valid"),
    ],
)
def test_bad_certificates_fail_verification(
    mailnet: MailNet, ip: str, port: int, hostname: str, reason: str
) -> None:
    assert address_of(hostname) == ip
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        connect_tls(ip, port, ca_context(mailnet), hostname)
    assert reason in str(info.value.verify_message)


# --- network failure modes ---


def test_dropped_port_times_out_closed_port_is_refused() -> None:
    ip = address_of("mail.firewalled.test")
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        socket.create_connection((ip, 587), timeout=1.0)
    assert time.monotonic() - began >= 0.9
    began = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, 465), timeout=1.0)
    assert time.monotonic() - began < 0.5


def test_silent_peer_accepts_and_says_nothing() -> None:
    socks = [
        socket.create_connection(("127.0.7.1", p), timeout=1.0)
        for p in (587, 465, 143, 993, 110, 995)
    ]
    try:
        readable, _, _ = select.select(socks, [], [], 1.0)
        assert readable == []
    finally:
        for s in socks:
            s.close()


# --- HTTP peers ---


def test_autoconfig_and_ispdb_over_http(mailnet: MailNet) -> None:
    mailnet.clear_http_requests()
    status, body = http_get(
        "127.0.8.1",
        "autoconfig.autoconfig.test",
        "/mail/config-v1.1.xml?emailaddress=alice%40autoconfig.test",
        ca_context(mailnet),
    )
    assert status == 200
    assert b"<domain>autoconfig.test</domain>" in body
    assert b"<port>465</port>" in body

    status, body = http_get(
        "127.0.8.1", "wellknown.test", "/.well-known/autoconfig/mail/config-v1.1.xml"
    )
    assert status == 200
    assert b"<socketType>STARTTLS</socketType>" in body

    assert http_get("127.0.8.1", "autoconfig.test", "/mail/config-v1.1.xml")[0] == 404
    ispdb_ip = address_of("ispdb.test")
    assert http_get(ispdb_ip, "ispdb.test", "/v1.1/ispdb-listed.test")[0] == 200
    assert http_get(ispdb_ip, "ispdb.test", "/v1.1/good.test")[0] == 404

    assert mailnet.fetched_urls() == [
        "https://autoconfig.autoconfig.test/mail/config-v1.1.xml",
        "http://wellknown.test/.well-known/autoconfig/mail/config-v1.1.xml",
        "http://autoconfig.test/mail/config-v1.1.xml",
        "http://ispdb.test/v1.1/ispdb-listed.test",
        "http://ispdb.test/v1.1/good.test",
    ]
    assert mailnet.http_requests[0] == ("autoconfig.autoconfig.test", "/mail/config-v1.1.xml")
    assert mailnet.http_log[0].query == "emailaddress=alice%40autoconfig.test"
    assert [r.status for r in mailnet.http_log] == [200, 200, 404, 200, 404]


# --- fixtures ---


def test_mail_env_sets_environment(mail_env: MailNet) -> None:
    assert os.environ["MAIL_DOCTOR_DNS_SERVERS"] == "127.0.0.53"
    assert os.environ["MAIL_DOCTOR_CA_FILE"] == mail_env.ca_file
    assert os.environ["MAIL_DOCTOR_ALLOW_NETWORKS"] == "127.0.0.0/8"
    assert os.environ["MAIL_DOCTOR_ISPDB_URL"] == "http://ispdb.test/v1.1/"
    assert "connect from" in mail_env.log("postfix")
