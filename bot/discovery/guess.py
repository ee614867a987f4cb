"""Thunderbird-style guessing: likely host names crossed with the usual ports.

Order as in Thunderbird's GuessConfig: TLS before plain, IMAP before POP3, implicit TLS before
STARTTLS, and host order kept within that. Plain text is never guessed: it is never recommended.
"""

from __future__ import annotations

from bot.discovery.candidates import Candidate, Source
from bot.model import Endpoint, Protocol, Security

_HOSTS = {
    Protocol.SMTP: ("smtp", "mail", ""),
    Protocol.IMAP: ("imap", "mail", ""),
    Protocol.POP3: ("pop3", "pop", "mail", ""),
}
_MODES = {
    Protocol.SMTP: ((465, Security.SSL), (587, Security.STARTTLS)),
    Protocol.IMAP: ((993, Security.SSL), (143, Security.STARTTLS)),
    Protocol.POP3: ((995, Security.SSL), (110, Security.STARTTLS)),
}


def guesses(domain: str, protocol: Protocol) -> list[Candidate]:
    found: list[Candidate] = []
    for port, security in _MODES[protocol]:
        for prefix in _HOSTS[protocol]:
            host = f"{prefix}.{domain}" if prefix else domain
            found.append(Candidate(Endpoint(protocol, host, port, security), Source.GUESS))
    return found
