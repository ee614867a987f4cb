"""A real mail network for the test suite: dnsmasq, Postfix, Dovecot, nftables and small
Python peers, inside a private network namespace. See layout.py for the hosts."""

from .harness import MailNet
from .network import NetnsError, enter_private_netns
from .peers import HttpExchange, HttpRequest

__all__ = ["HttpExchange", "HttpRequest", "MailNet", "NetnsError", "enter_private_netns"]
