"""Load: N simulated people talking to real `mail-doctor serve` replicas over the fake Slack.

Runs the test mail network (tests/mailnet) in a private network namespace and the tests' fake
Slack Web API (tests/fakeslack) in this process, starts `mail-doctor serve` replicas as real
processes, and has PEOPLE people (each a Slack user with a DM channel of their own) go through
ROUNDS whole conversations each, one message at a time, waiting for the bot's answer before the
next one: the problem, the connection, the address, the app, the SMTP settings, then a real check
against the test Postfix, then "yes, solved". Every RETRY_EVERY-th event is delivered twice, as a
Slack retry (same event id, X-Slack-Retry-Num: 1), at the same moment.

Configurations: sqlite (SQLite store, one replica), redis1 (Redis, one replica), redis2 (Redis,
two replicas; events alternate between them, and a retried event goes to both).

Figures: person messages per second; reply latency, from posting a message to the bot's answer
(the next question) being posted to the fake Slack, p50/p99 over chat turns and over check
turns; acknowledgement latency of the POST to /slack/events, p50/p99/max; errors: answers
missing after the timeout, duplicate answers, 5xx (and other non-200) acknowledgements, checks
that gave no diagnosis.

Usage (root, like the tests): benchmarks/load [--people N] [--rounds N] [--configs LIST]
                                             [--think SECONDS] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from fakeslack import FakeSlack  # noqa: E402
from fakeslack.events import JSON, json_body  # noqa: E402
from fakeslack.signing import sign  # noqa: E402
from mailnet import MailNet, enter_private_netns  # noqa: E402
from mailnet.procs import reap, spawn, tail, terminate  # noqa: E402
from mailnet.redis import RedisServer, free_port  # noqa: E402

SECRET = "load-signing-secret"
CONFIGS = {"sqlite": ("sqlite", 1), "redis1": ("redis", 1), "redis2": ("redis", 2)}
SETTLE = 3.0  # seconds to wait after the last answer for late (duplicate) posts
READY_TIMEOUT = 30.0
# (what the person types, the step of the bot's answer). {address} is filled in per person.
SCRIPT = (
    ("I can't send mail", "ask_connectivity"),
    ("yes", "ask_address"),
    ("{address}", "ask_client"),
    ("Thunderbird", "ask_settings"),
    ("smtp mail.good.test 587 STARTTLS", "ask_resolved"),
    ("yes", "closed"),
)
CHECK_TURN = 4  # the turn whose answer comes after a check
ADDRESSES = ("alice@good.test", "taro@good.test")


@dataclass
class Options:
    people: int
    rounds: int
    think: float
    retry_every: int
    check_timeout: float
    reply_timeout: float
    limits: dict[str, int]


@dataclass
class Tally:
    """What one configuration's run measured."""

    chat_latency: list[float] = field(default_factory=list)
    check_latency: list[float] = field(default_factory=list)
    ack_latency: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    messages: int = 0
    retries: int = 0
    missing: int = 0
    no_diagnosis: int = 0
    channels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reply:
    step: str
    text: str
    at: float


class Inbox:
    """The bot's posts to the fake Slack, per channel, read incrementally from its call log.

    One task (`watch`) waits for the fake's changes and wakes only the people whose DM got a
    post, so a hundred waiting people cost no more than one."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.seen = 0
        self.by_channel: dict[str, list[Reply]] = defaultdict(list)
        self.waiting: dict[str, asyncio.Event] = {}

    def update(self) -> None:
        calls = self.fake.calls
        for call in calls[self.seen :]:
            ok = isinstance(call.response, dict) and call.response.get("ok")
            if call.method != "chat.postMessage" or not ok:
                continue
            payload = (call.params.get("metadata") or {}).get("event_payload") or {}
            channel = str(call.params.get("channel"))
            reply = Reply(str(payload.get("step", "")), str(call.params.get("text", "")), call.at)
            self.by_channel[channel].append(reply)
            if channel in self.waiting:
                self.waiting.pop(channel).set()
        self.seen = len(calls)

    async def watch(self) -> None:
        while True:
            with contextlib.suppress(AssertionError):  # a quiet minute: wait on
                await self.fake.wait_for(lambda: len(self.fake.calls) > self.seen, 60)
            self.update()

    def answer(self, channel: str, step: str, after: float) -> Reply | None:
        self.update()
        return next((r for r in self.by_channel[channel] if r.step == step and r.at >= after), None)

    async def wait(self, channel: str, step: str, after: float, timeout: float) -> Reply | None:
        """The first post of `step` in `channel` since `after`, or None after `timeout`."""
        deadline = time.monotonic() + timeout
        while (reply := self.answer(channel, step, after)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            posted = self.waiting.setdefault(channel, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(posted.wait(), remaining)
        return reply


class Slack:
    """Delivers signed events to the replicas the way Slack does, timing each acknowledgement."""

    def __init__(self, urls: list[str], tally: Tally, retry_every: int) -> None:
        self.urls, self.tally, self.retry_every = urls, tally, retry_every
        self.count = itertools.count()
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def close(self) -> None:
        await self.session.close()

    async def post(self, url: str, raw: bytes, retry: bool) -> None:
        headers = {"Content-Type": JSON, **sign(SECRET, raw)}
        if retry:
            headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        started = time.perf_counter()
        try:
            async with self.session.post(url, data=raw, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status = 599  # no answer at all counts as a server error
        self.tally.ack_latency.append(time.perf_counter() - started)
        self.tally.statuses[status] += 1

    async def deliver(self, payload: dict[str, Any]) -> None:
        """Send to the next replica in turn; a retried event also goes to the following one."""
        n = next(self.count)
        raw = json_body(payload)
        first = self.urls[n % len(self.urls)]
        sends = [self.post(first, raw, retry=False)]
        if self.retry_every and n % self.retry_every == self.retry_every - 1:
            self.tally.retries += 1
            sends.append(self.post(self.urls[(n + 1) % len(self.urls)], raw, retry=True))
        await asyncio.gather(*sends)


async def person(
    fake: FakeSlack, inbox: Inbox, slack: Slack, who: str, address: str, opts: Options
) -> None:
    """One whole conversation in the DM of user U<who>, waiting for each answer."""
    user, channel, tally = f"U{who}", f"D{who}", slack.tally
    fake.add_user(user, locale="en-US")
    fake.add_channel(channel, user=user, locale="en-US")
    tally.channels.append(channel)
    for turn, (template, step) in enumerate(SCRIPT):
        payload = fake.message_event(template.format(address=address), channel, user)
        sent_at = time.monotonic()
        tally.messages += 1
        await slack.deliver(payload)
        reply = await inbox.wait(channel, step, sent_at, opts.reply_timeout)
        if reply is None:
            tally.missing += 1
            return  # the person is stuck: the rest of the conversation cannot happen
        if turn == CHECK_TURN:
            tally.check_latency.append(reply.at - sent_at)
            if not inbox.answer(channel, "diagnosis", sent_at):
                tally.no_diagnosis += 1
        else:
            tally.chat_latency.append(reply.at - sent_at)
        if opts.think:
            await asyncio.sleep(random.uniform(0, 2 * opts.think))


async def everyone(fake: FakeSlack, inbox: Inbox, slack: Slack, label: str, opts: Options) -> float:
    """Every person's rounds of conversations; returns the wall time they took."""

    async def rounds(i: int) -> None:
        await asyncio.sleep(i * 0.02)  # not every first message in the same millisecond
        for r in range(opts.rounds):
            who = f"{label}{i:03d}R{r}"
            await person(fake, inbox, slack, who, ADDRESSES[i % len(ADDRESSES)], opts)

    started = time.monotonic()
    await asyncio.gather(*(rounds(i) for i in range(opts.people)))
    return time.monotonic() - started


def duplicates(inbox: Inbox, channels: list[str]) -> int:
    """Bot posts made twice in one DM: in these conversations no message is said twice."""
    inbox.update()
    extra = 0
    for channel in channels:
        counts = Counter((r.step, r.text) for r in inbox.by_channel[channel])
        extra += sum(n - 1 for n in counts.values())
    return extra


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


def replica_env(fake: FakeSlack, store: str, net: MailNet, opts: Options) -> dict[str, str]:
    """A replica's environment, but its port (MAIL_DOCTOR_HTTP_PORT, chosen at its start)."""
    return {
        **net.env,
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "MAIL_DOCTOR_STORE": store,
        "MAIL_DOCTOR_HTTP_HOST": "127.0.0.1",
        "MAIL_DOCTOR_LOG_LEVEL": "WARNING",
        "MAIL_DOCTOR_CHECK_TIMEOUT": f"{opts.check_timeout:g}",
        **{f"MAIL_DOCTOR_{name}": str(value) for name, value in opts.limits.items()},
    }


async def ready(session: aiohttp.ClientSession, replica: Replica) -> bool:
    """Poll /readyz until 200; False if the process exited (a taken port, say)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if replica.proc.poll() is not None:
            return False
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(f"{replica.url}/readyz") as resp:
                if resp.status == 200:
                    return True
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{replica.url} not ready in {READY_TIMEOUT:g} s\n{tail(replica.log)}")


async def start_replica(session: aiohttp.ClientSession, env: dict[str, str], log: Path) -> Replica:
    for _attempt in range(3):  # another process may take the free port before the replica
        port = free_port()
        proc = spawn(
            [sys.executable, "-m", "bot.cli", "serve"],
            log,
            {**env, "MAIL_DOCTOR_HTTP_PORT": str(port)},
        )
        replica = Replica(proc, f"http://127.0.0.1:{port}", log)
        try:
            up = await ready(session, replica)
        except BaseException:  # not ready in time, or Ctrl-C: it is not left running
            await stop_replica(replica)
            raise
        if up:
            return replica
        await stop_replica(replica)
    raise RuntimeError(f"mail-doctor serve did not start\n--- {log} ---\n{tail(log)}")


async def stop_replica(replica: Replica) -> None:
    """SIGTERM (it finishes its work in hand), SIGKILL after 10 s; the fake keeps answering."""
    terminate(replica.proc)
    await asyncio.to_thread(reap, replica.proc, 10.0)


@contextlib.asynccontextmanager
async def replicas(
    fake: FakeSlack, store: str, count: int, net: MailNet, opts: Options, workdir: Path
) -> AsyncIterator[list[Replica]]:
    started: list[Replica] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            for i in range(count):
                env = replica_env(fake, store, net, opts)
                started.append(await start_replica(session, env, workdir / f"replica{i}.log"))
        yield started
    finally:
        await asyncio.gather(*(stop_replica(r) for r in started))


@contextlib.contextmanager
def redis_server() -> Any:
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


async def loop_lag(into: list[float]) -> None:
    """How late this process's event loop wakes up: the driver itself must not be the limit."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        into.append(time.perf_counter() - before - 0.01)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def log_lines(paths: list[Path]) -> list[str]:
    """What the replicas logged (at WARNING and above), but slack_bolt's notice at start that
    SLACK_BOT_TOKEN in the environment is not used (the adapter gives it a client)."""
    lines: list[str] = []
    for path in paths:
        with contextlib.suppress(OSError):
            text = path.read_text(errors="replace")
            lines += [
                f"{path.stem}: {line}"
                for line in text.splitlines()
                if line and "`token` will be unused" not in line
            ]
    return lines


async def run_config(name: str, net: MailNet, opts: Options) -> dict[str, Any]:
    kind, count = CONFIGS[name]
    tally, lags = Tally(), []
    with (
        tempfile.TemporaryDirectory(prefix="mail-doctor-load-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        if kind == "redis":
            store = stack.enter_context(redis_server()).url()
        else:
            store = f"sqlite:///{workdir / 'state.db'}"
        async with FakeSlack() as fake, replicas(fake, store, count, net, opts, workdir) as reps:
            slack = Slack([f"{r.url}/slack/events" for r in reps], tally, opts.retry_every)
            inbox = Inbox(fake)
            helpers = [asyncio.create_task(loop_lag(lags)), asyncio.create_task(inbox.watch())]
            try:
                wall = await everyone(fake, inbox, slack, name[0].upper() + name[-1].upper(), opts)
                await asyncio.sleep(SETTLE)
                dups = duplicates(inbox, tally.channels)
            finally:
                for task in helpers:
                    task.cancel()
                await slack.close()
            posts = len(fake.calls_to("chat.postMessage"))
        logged = log_lines([r.log for r in reps])
    return figures(name, count, tally, wall, dups, posts, lags, logged)


def figures(
    name: str,
    count: int,
    tally: Tally,
    wall: float,
    dups: int,
    posts: int,
    lags: list[float],
    logged: list[str],
) -> dict[str, Any]:
    ms = lambda values, q: round(percentile(values, q) * 1000, 1)  # noqa: E731
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    return {
        "config": name,
        "replicas": count,
        "messages": tally.messages,
        "retried_events": tally.retries,
        "seconds": round(wall, 2),
        "messages_per_second": round(tally.messages / wall, 1),
        "bot_posts": posts,
        "chat_reply_ms": {"p50": ms(tally.chat_latency, 50), "p99": ms(tally.chat_latency, 99)},
        "check_reply_ms": {"p50": ms(tally.check_latency, 50), "p99": ms(tally.check_latency, 99)},
        "ack_ms": {
            "p50": ms(tally.ack_latency, 50),
            "p99": ms(tally.ack_latency, 99),
            "max": ms(tally.ack_latency, 100),
        },
        "ack_statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors": {
            "missing_replies": tally.missing,
            "duplicate_answers": dups,
            "server_errors": server_errors,
            "other_statuses": sum(n for s, n in tally.statuses.items() if s != 200 and s < 500),
            "checks_without_diagnosis": tally.no_diagnosis,
        },
        "driver_loop_lag_ms": {"p99": ms(lags, 99), "max": ms(lags, 100)},
        "replica_log_lines": len(logged),
        "replica_log_sample": logged[:10],
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| config | msgs | msg/s | reply p50 / p99 | check reply p50 / p99 "
        "| ack p50 / p99 / max | missing | dup | 5xx |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for f in results:
        chat, check, ack, err = f["chat_reply_ms"], f["check_reply_ms"], f["ack_ms"], f["errors"]
        rows.append(
            f"| {f['config']} | {f['messages']} | {f['messages_per_second']} "
            f"| {chat['p50']:.0f} / {chat['p99']:.0f} ms "
            f"| {check['p50']:.0f} / {check['p99']:.0f} ms "
            f"| {ack['p50']:.1f} / {ack['p99']:.1f} / {ack['max']:.1f} ms "
            f"| {err['missing_replies']} | {err['duplicate_answers']} | {err['server_errors']} |"
        )
    return head + "\n" + "\n".join(rows)


def report(results: list[dict[str, Any]], opts: Options) -> str:
    """The table, what it ran with, and anything odd: other statuses, failed checks, logs."""
    limits = ", ".join(f"MAIL_DOCTOR_{k}={v}" for k, v in opts.limits.items())
    retries = f"every {opts.retry_every}th event retried" if opts.retry_every else "no retries"
    lines = [
        f"{opts.people} people × {opts.rounds} conversations of {len(SCRIPT)} messages, "
        f"think {opts.think:g} s, {retries}; nproc {os.cpu_count()}; "
        f"MAIL_DOCTOR_CHECK_TIMEOUT={opts.check_timeout:g}, {limits}\n",
        table(results),
        "\nThe measuring process's own event loop lag (p99 / max): "
        + ", ".join(
            f"{f['config']} {f['driver_loop_lag_ms']['p99']:.0f} / "
            f"{f['driver_loop_lag_ms']['max']:.0f} ms"
            for f in results
        ),
    ]
    for f in results:
        err = f["errors"]
        if err["other_statuses"] or err["checks_without_diagnosis"]:
            lines.append(
                f"{f['config']}: acknowledgements {f['ack_statuses']}, "
                f"{err['checks_without_diagnosis']} check(s) ended without a diagnosis"
            )
        if f["replica_log_lines"]:
            lines.append(f"{f['config']}: the replicas logged {f['replica_log_lines']} line(s):")
            lines += [f"  {line[:300]}" for line in f["replica_log_sample"][:5]]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=20, help="people at once (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="conversations per person")
    parser.add_argument("--configs", default="sqlite,redis1,redis2")
    parser.add_argument("--think", type=float, default=0.0, help="mean think time, seconds")
    parser.add_argument("--retry-every", type=int, default=5, help="0: no Slack retries")
    parser.add_argument("--check-timeout", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    unknown = set(args.configs.split(",")) - set(CONFIGS)
    if unknown or args.people < 1 or args.rounds < 1:
        parser.error(f"--configs takes {','.join(CONFIGS)}; --people and --rounds at least 1")
    return args


def options(args: argparse.Namespace) -> Options:
    limits = {  # high enough that the budget never refuses or queues a check of this load
        "USER_CHECKS_PER_MINUTE": 60,
        "WORKSPACE_CHECKS_PER_MINUTE": max(1000, 10 * args.people * args.rounds),
        "MAX_CONCURRENT_CHECKS": max(20, args.people),
    }
    return Options(
        people=args.people,
        rounds=args.rounds,
        think=args.think,
        retry_every=args.retry_every,
        check_timeout=args.check_timeout,
        reply_timeout=args.check_timeout + 30,  # the check, and a queue wait (20 s) to spare
        limits=limits,
    )


async def run_all(names: list[str], net: MailNet, opts: Options) -> list[dict[str, Any]]:
    results = []
    for name in names:
        print(f"load: {name} …", file=sys.stderr, flush=True)
        results.append(await run_config(name, net, opts))
    return results


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does: replicas, Redis, mail network


def main() -> int:
    signal.signal(signal.SIGTERM, interrupted)
    args = parse_args()
    opts = options(args)
    enter_private_netns()
    net = MailNet.start()
    try:
        os.environ.update(net.env)
        results = asyncio.run(run_all(args.configs.split(","), net, opts))
    except RuntimeError as exc:  # a replica or Redis did not start: the message says why
        print(f"load: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("load: interrupted; replicas, Redis and the mail network stopped", file=sys.stderr)
        return 130
    finally:
        net.stop()
    print(report(results, opts))
    if args.json:
        meta = {"nproc": os.cpu_count(), "options": opts.__dict__}
        args.json.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
