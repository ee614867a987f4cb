"""How long a check takes: the engine against its own probes run one after another, and swaks.

Runs the test mail network (tests/mailnet) in a private network namespace, with a proxy that adds
DELAY seconds to every server-to-client chunk in front of the good mail host (mail.slow.test),
then measures, over ROUNDS rounds each:

- every single probe alone (SMTP 465 and 587, IMAP 993, POP3 995);
- the same probes one after another;
- a full `mail-doctor check` of slow.test (DNS, SRV discovery and every probe, concurrently);
- swaks doing the SMTP part (TLS, EHLO, QUIT) on 465 and 587;
- a full check whose SMTP setting points at a silently dropped port, with a 10 s deadline.

Usage (root, like the tests): benchmarks/run [--rounds N] [--delay SECONDS] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks"), str(ROOT)]

from latency_proxy import LatencyProxy  # noqa: E402
from mailnet import MailNet, enter_private_netns  # noqa: E402
from mailnet.layout import GOOD_IP, SLOW_IP  # noqa: E402

from bot.addresses import parse_address, parse_spec  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.diagnosis.engine import Check, CheckRequest  # noqa: E402
from bot.model import Endpoint, Protocol, Security  # noqa: E402
from bot.probes.dns import DnsClient  # noqa: E402
from bot.probes.runner import ProbeContext, probe  # noqa: E402
from bot.probes.transport import Deadline  # noqa: E402

HOST = "mail.slow.test"
PROBES = [
    Endpoint(Protocol.SMTP, HOST, 465, Security.SSL),
    Endpoint(Protocol.SMTP, HOST, 587, Security.STARTTLS),
    Endpoint(Protocol.IMAP, HOST, 993, Security.SSL),
    Endpoint(Protocol.POP3, HOST, 995, Security.SSL),
]


async def one_probe(settings: Settings, endpoint: Endpoint) -> float:
    ctx = ProbeContext(DnsClient(settings.dns_servers), settings, Deadline(30))
    started = time.perf_counter()
    result = await probe(ctx, endpoint)
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"probe of {endpoint.label()} failed: {result.failure} {result.detail}")
    return elapsed


async def full_check(
    settings: Settings,
    smtp: str | None = None,
    timeout: float = 30,
    arrivals: list[float] | None = None,
) -> float:
    user = {Protocol.SMTP: parse_spec(smtp, Protocol.SMTP)} if smtp else {}
    request = CheckRequest(
        parse_address("taro@slow.test"),
        frozenset(Protocol),
        user,
        timeout,
    )
    started = time.perf_counter()

    def progress(event: str, data: dict[str, object]) -> None:
        # When each probe's result is ready, whatever else is still running.
        if event == "probe_done" and arrivals is not None:
            result = data["result"]
            if getattr(result, "ok", False):
                arrivals.append(time.perf_counter() - started)

    report = await Check(request, settings, progress).run()
    elapsed = time.perf_counter() - started
    if smtp is None and any(r is None for r in report.recommended.values()):
        raise SystemExit(f"the check found no settings: {report.findings}")
    return elapsed


def swaks(port: int) -> float:
    tls = ["--tlsc"] if port == 465 else ["--tls"]
    started = time.perf_counter()
    done = subprocess.run(
        # swaks uses the system resolver, which does not know the test names: give it the address.
        [
            "swaks",
            "--server",
            f"{SLOW_IP}:{port}",
            *tls,
            "--quit-after",
            "EHLO",
            "--ehlo",
            "bench.test",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"swaks failed on {port}: {done.stdout[-500:]}")
    return elapsed


def median(values: list[float]) -> float:
    return statistics.median(values)


async def measure(rounds: int, delay: float) -> dict[str, object]:
    settings = Settings.from_env()
    single: dict[str, list[float]] = {e.label(): [] for e in PROBES}
    sequential: list[float] = []
    engine: list[float] = []
    swaks_times: dict[int, list[float]] = {465: [], 587: []}
    dropped: list[float] = []
    others_ready: list[float] = []
    async with LatencyProxy(SLOW_IP, GOOD_IP, [465, 587, 993, 995], delay):
        for _ in range(rounds):
            for endpoint in PROBES:
                single[endpoint.label()].append(await one_probe(settings, endpoint))
            started = time.perf_counter()
            for endpoint in PROBES:
                await one_probe(settings, endpoint)
            sequential.append(time.perf_counter() - started)
            engine.append(await full_check(settings))
            for port in swaks_times:
                swaks_times[port].append(await asyncio.to_thread(swaks, port))
        dropped.append(
            await full_check(
                settings,
                smtp="mail.firewalled.test:587/starttls",
                timeout=10,
                arrivals=others_ready,
            )
        )
    slowest = max(median(v) for v in single.values())
    return {
        "delay_s": delay,
        "rounds": rounds,
        "single_probe_median_s": {k: round(median(v), 3) for k, v in single.items()},
        "slowest_single_probe_s": round(slowest, 3),
        "one_after_another_s": round(median(sequential), 3),
        "engine_full_check_s": round(median(engine), 3),
        "engine_vs_slowest": round(median(engine) / slowest, 3),
        "swaks_smtp_s": {str(k): round(median(v), 3) for k, v in swaks_times.items()},
        "full_check_with_dropped_port_10s_deadline_s": round(dropped[0], 3),
        "other_probes_ready_during_that_check_s": round(max(others_ready), 3),
    }


def table(figures: dict[str, object]) -> str:
    single = figures["single_probe_median_s"]
    assert isinstance(single, dict)
    rows = [f"| {label} alone | {seconds:.2f} s |" for label, seconds in single.items()]
    swaks_smtp = figures["swaks_smtp_s"]
    assert isinstance(swaks_smtp, dict)
    rows += [
        f"| the four probes one after another | {figures['one_after_another_s']:.2f} s |",
        "| **mail-doctor check** (DNS, SRV discovery, every probe) "
        f"| **{figures['engine_full_check_s']:.2f} s** |",
        f"| check ÷ slowest single probe | {figures['engine_vs_slowest']:.2f} |",
        f"| swaks SMTP 465 (TLS, EHLO, QUIT) | {swaks_smtp['465']:.2f} s |",
        f"| swaks SMTP 587 (EHLO, STARTTLS, EHLO, QUIT) | {swaks_smtp['587']:.2f} s |",
        "| check with a silently dropped SMTP port, 10 s deadline "
        f"| {figures['full_check_with_dropped_port_10s_deadline_s']:.2f} s |",
        "| … the other probes' results were ready after "
        f"| {figures['other_probes_ready_during_that_check_s']:.2f} s |",
    ]
    head = (
        f"Latency {figures['delay_s']} s per server-to-client chunk, "
        f"median of {figures['rounds']} rounds.\n\n"
    )
    return head + "| what | time |\n|---|---|\n" + "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.25)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if shutil.which("swaks") is None:
        print("swaks is not installed: run scripts/test-deps.sh first", file=sys.stderr)
        return 2
    enter_private_netns()
    net = MailNet.start()
    try:
        os.environ.update(net.env)
        figures = asyncio.run(measure(args.rounds, args.delay))
    finally:
        net.stop()
    print(table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
