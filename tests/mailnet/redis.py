"""A throwaway redis-server for the Redis conversation store tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .procs import StartupError, reap, require_programs, spawn, tail, terminate

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers_ping(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """redis-server on 127.0.0.1 with a free port, no persistence, in its own directory."""

    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, workdir: Path, durable: bool = False
    ) -> None:
        self.proc = proc
        self.host = HOST
        self.port = port
        self.workdir = workdir
        self.durable = durable
        self.log = workdir / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    @classmethod
    def start(cls, timeout: float = 10.0, *, durable: bool = False) -> RedisServer:
        """A new server; `durable` keeps an append-only file, so data survives a restart."""
        require_programs("redis-server")
        workdir = Path(tempfile.mkdtemp(prefix="mail-doctor-redis-"))
        for _attempt in range(3):  # another process may take the free port before us
            proc = _spawn(free_port(), workdir, durable, timeout)
            if proc is not None:
                return cls(proc[0], proc[1], workdir, durable)
        message = f"redis-server did not start\n--- {workdir / 'redis.log'} ---\n"
        message += tail(workdir / "redis.log")
        shutil.rmtree(workdir, ignore_errors=True)
        raise StartupError(message)

    def halt(self) -> None:
        """Stop the server as an operator would (it writes its data); `resume` starts it again."""
        terminate(self.proc)
        reap(self.proc)

    def resume(self, timeout: float = 10.0) -> None:
        started = _spawn(self.port, self.workdir, self.durable, timeout)
        if started is None:
            raise StartupError(f"redis-server did not restart\n{tail(self.log)}")
        self.proc = started[0]

    def stop(self) -> None:
        terminate(self.proc)
        reap(self.proc)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _spawn(
    port: int, workdir: Path, durable: bool, timeout: float
) -> tuple[subprocess.Popen[bytes], int] | None:
    """redis-server on `port`, once it answers PING; None if it exited (the port was taken)."""
    log = workdir / "redis.log"
    proc = spawn(
        [
            "redis-server",
            "--bind", HOST,
            "--port", str(port),
            "--save", "",
            "--appendonly", "yes" if durable else "no",
            "--appendfsync", "always",
            "--dir", str(workdir),
            "--protected-mode", "no",
            "--daemonize", "no",
        ],
        log,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while not answers_ping(HOST, port):
        if proc.poll() is not None:
            return None
        if time.monotonic() > deadline:
            terminate(proc)
            reap(proc)
            raise StartupError(f"redis-server: not ready in time\n--- {log} ---\n{tail(log)}")
        time.sleep(0.02)
    return proc, port
