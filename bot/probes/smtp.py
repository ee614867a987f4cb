"""SMTP submission as a probe sees it (RFC 5321, 3207, 4954). It never sends mail."""

from __future__ import annotations

from aiosmtplib.auth import auth_crammd5_verify, auth_login_encode, auth_plain_encode
from aiosmtplib.esmtp import parse_esmtp_extensions

from bot.model import Protocol
from bot.probes.dialect import Dialect, Reply, read_lines_until
from bot.probes.transport import Connection

EHLO_NAME = "mail-doctor.invalid"


async def read_reply(conn: Connection, timeout: float) -> Reply:
    # "250-..." continues a reply; any other line ends it (garbage ends it too, and fails below).
    lines = await read_lines_until(conn, timeout, lambda line: line[3:4] != "-")
    code = lines[-1][:3] if lines[-1][:3].isdigit() else ""  # "SSH-2.0…" is no SMTP reply
    return Reply(ok=code[:1] in ("2", "3"), text="\n".join(lines), code=code)


class SmtpDialect(Dialect):
    protocol = Protocol.SMTP
    starttls_word = "STARTTLS"

    async def read_greeting(self, conn: Connection, timeout: float) -> Reply:
        reply = await read_reply(conn, timeout)
        return Reply(ok=reply.code == "220", text=reply.text, code=reply.code)

    async def capabilities(self, conn: Connection, timeout: float) -> list[str]:
        await conn.send(f"EHLO {EHLO_NAME}", timeout)
        reply = await read_reply(conn, timeout)
        if reply.code != "250":
            return []
        extensions, auth_methods = parse_esmtp_extensions(
            "\n".join(line[4:] for line in reply.text.split("\n"))
        )
        caps = [f"{name.upper()} {value}".strip() for name, value in extensions.items()]
        if auth_methods and not any(c.startswith("AUTH") for c in caps):
            caps.append("AUTH " + " ".join(m.upper() for m in auth_methods))
        return caps

    async def starttls(self, conn: Connection, timeout: float) -> Reply:
        await conn.send("STARTTLS", timeout)
        reply = await read_reply(conn, timeout)
        return Reply(ok=reply.code == "220", text=reply.text, code=reply.code)

    def mechanisms(self, caps: list[str]) -> list[str]:
        for cap in caps:
            words = cap.replace("=", " ").split()
            if words and words[0] == "AUTH":
                return [w.upper() for w in words[1:]]
        return []

    async def login(
        self, conn: Connection, user: str, password: str, caps: list[str], timeout: float
    ) -> Reply:
        mechanisms = self.mechanisms(caps)
        if "PLAIN" in mechanisms:
            await conn.send("AUTH PLAIN " + auth_plain_encode(user, password).decode(), timeout)
            return await read_reply(conn, timeout)
        if "LOGIN" in mechanisms:
            encoded_user, encoded_password = auth_login_encode(user, password)
            await conn.send("AUTH LOGIN " + encoded_user.decode(), timeout)
            reply = await read_reply(conn, timeout)
            if reply.code != "334":
                return reply
            await conn.send(encoded_password.decode(), timeout)
            return await read_reply(conn, timeout)
        if "CRAM-MD5" in mechanisms:
            await conn.send("AUTH CRAM-MD5", timeout)
            reply = await read_reply(conn, timeout)
            if reply.code != "334":
                return reply
            challenge = reply.text[4:].strip().encode()
            await conn.send(auth_crammd5_verify(user, password, challenge).decode(), timeout)
            return await read_reply(conn, timeout)
        return Reply(ok=False, text="", code="")

    async def quit(self, conn: Connection, timeout: float) -> None:
        await conn.send("QUIT", timeout)
