"""dnsmasq as the authoritative-ish DNS server of the test network."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

from . import layout
from .procs import spawn, wait_until

# Unknown names answer NXDOMAIN at once instead of REFUSED (there is no upstream); "#" is
# every name, the others are listed for clarity.
LOCAL_ZONES = ("test", "com", "jp", "net", "org", "arpa", "#")


def write_config(directory: Path, log: Path) -> Path:
    records = layout.dns_records()
    lines = [
        "port=53",
        f"listen-address={layout.DNS_IP}",
        "bind-interfaces",
        "no-resolv",
        "no-hosts",
        "pid-file=",
        "user=root",  # keep root: the log file lives in a root-owned temp dir
        "log-queries",
        f"log-facility={log}",
    ]
    lines += [f"local=/{zone}/" for zone in LOCAL_ZONES]
    lines += [f"host-record={name},{ip}" for name, ip in records.hosts]
    lines += [f"mx-host={domain},{target},{pref}" for domain, target, pref in records.mx]
    # srv-host=name,target,port,priority,weight
    lines += [f"srv-host={name},{target},{port},0,1" for name, target, port in records.srv]
    lines += [f'txt-record={name},"{text}"' for name, text in records.txt]
    # Zones another server answers (hostile.py's DNS peer): more specific than local=/test/.
    lines += [f"server=/{zone}/{ip}" for zone, ip in records.forward]
    conf = directory / "dnsmasq.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def answers(name: str = "good.test") -> bool:
    try:
        reply = dns.query.udp(dns.message.make_query(name, "MX"), layout.DNS_IP, timeout=0.2)
    except (OSError, dns.exception.DNSException):
        return False
    return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)


def start(directory: Path) -> tuple[subprocess.Popen[bytes], Path]:
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "dnsmasq.log"
    conf = write_config(directory, log)
    return spawn(["dnsmasq", "-k", "-C", str(conf)], log), log


def wait_ready(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    wait_until(answers, "dnsmasq on 127.0.0.53", deadline, log, proc)
