"""The SQLite conversation store: one file, shareable by several bot processes on one host.

Each store holds one connection, used from worker threads (sqlite3 blocks) one call at a time.
Every write is a single statement whose WHERE clause carries the compare-and-set condition,
so SQLite's own write lock decides races between connections and processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from .base import (
    DEFAULT_EVENT_TTL,
    DEFAULT_IDLE_TTL,
    Clock,
    ConversationStore,
    Record,
    StaleWrite,
    StoreUnavailable,
    check_limits,
    check_save_args,
    check_ttl,
    decode_state,
    encode_state,
    new_token,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

STORE_SCHEMA = 2  # layout of the tables below, kept in PRAGMA user_version
EVENT_PURGE_INTERVAL = 600.0  # seconds between sweeps of expired event claims
PING_ROW = "\x00ping"  # a lock name no caller can use (names come from conversation keys)
USES_KEPT = 86400.0  # rate-limit uses older than this are swept (windows are shorter)

_TABLES = (
    """CREATE TABLE IF NOT EXISTS records (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        schema INTEGER NOT NULL,
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS records_updated_at ON records (updated_at)",
    """CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS events_expires_at ON events (expires_at)",
    # Layout 2: coordination between processes sharing the file.
    """CREATE TABLE IF NOT EXISTS locks (
        name TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS uses (
        bucket TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS uses_bucket_at ON uses (bucket, at)",
    """CREATE TABLE IF NOT EXISTS slots (
        pool TEXT NOT NULL,
        token TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS slots_pool ON slots (pool, expires_at)",
)

_COLUMNS = "key, state, schema, version, updated_at"
Row = tuple[str, Any, int, int, float]


class SQLiteStore(ConversationStore):
    """Conversation store in the SQLite file at `path` (created, mode 0600, on first use).

    busy_timeout: seconds to wait for another connection's write lock before the call fails
    with StoreUnavailable. Use the store from one event loop.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        idle_ttl: float = DEFAULT_IDLE_TTL,
        clock: Clock = time.time,
        busy_timeout: float = 5.0,
    ) -> None:
        # Absolute now: we connect lazily, and a later chdir must not move the database.
        self.path = os.path.abspath(os.fspath(path))
        self.idle_ttl = check_ttl("idle_ttl", idle_ttl)
        self.busy_timeout = check_ttl("busy_timeout", busy_timeout)
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        # The threading lock guards the connection even when a cancelled caller has left its
        # worker thread running; the asyncio lock keeps waiting callers off the thread pool.
        self._lock = threading.Lock()
        self._alock = asyncio.Lock()
        self._next_purge = 0.0

    # -- the interface

    async def load(self, key: str) -> Record | None:
        return await self._run(self._load, key)

    async def save(
        self, key: str, state: dict[str, Any], schema: int, expected_version: int
    ) -> Record:
        check_save_args(schema, expected_version)
        text = encode_state(state)
        now = await self._run(self._save, key, text, schema, expected_version)
        decoded = decode_state(text)
        assert decoded is not None  # encode_state only makes JSON objects
        return Record(key, decoded, schema, expected_version + 1, now)

    async def delete(self, key: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM records WHERE key = ?", (key,)))

    async def claim_event(self, event_id: str, ttl: float = DEFAULT_EVENT_TTL) -> bool:
        ttl = check_ttl("ttl", ttl)
        return await self._run(self._claim, event_id, ttl)

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        ttl = check_ttl("ttl", ttl)
        token = new_token()
        return token if await self._run(self._acquire, name, token, ttl) else None

    async def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        ttl = check_ttl("ttl", ttl)
        return await self._run(self._extend, name, token, ttl)

    async def release_lock(self, name: str, token: str) -> bool:
        return await self._run(self._release, name, token)

    async def take_rate(self, limits: Sequence[tuple[str, int]], window: float) -> float:
        checked = check_limits(limits, window)
        return await self._run(self._take_rate, checked, window)

    async def take_slot(self, pool: str, limit: int, ttl: float) -> str | None:
        check_limits([(pool, limit)], ttl)
        token = new_token()
        return token if await self._run(self._take_slot, pool, limit, token, ttl) else None

    async def release_slot(self, pool: str, token: str) -> None:
        await self._run(
            lambda conn: conn.execute(
                "DELETE FROM slots WHERE pool = ? AND token = ?", (pool, token)
            )
        )

    async def expire_idle(self) -> int:
        return await self._run(self._expire)

    async def list_records(self, prefix: str = "") -> list[Record]:
        return await self._run(self._list, prefix)

    async def ping(self) -> bool:
        if self._closed:
            return False
        try:
            await self._run(self._probe_write)
        except StoreUnavailable as exc:
            log.warning("%s", exc)
            return False
        return True

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    # -- statements, run in a worker thread holding the lock; they read the clock there, so
    # timestamps follow the order in which writes really happen

    def _load(self, conn: sqlite3.Connection, key: str) -> Record | None:
        cutoff = self._clock() - self.idle_ttl
        row = conn.execute(f"SELECT {_COLUMNS} FROM records WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if row[4] < cutoff:
            # Idle-expired: delete unless someone rewrote it meanwhile.
            conn.execute(
                "DELETE FROM records WHERE key = ? AND version = ? AND updated_at < ?",
                (key, row[3], cutoff),
            )
            return None
        return self._decode(conn, row)

    def _save(
        self,
        conn: sqlite3.Connection,
        key: str,
        text: str,
        schema: int,
        expected_version: int,
    ) -> float:
        now = self._clock()
        cutoff = now - self.idle_ttl
        if expected_version == 0:
            # Create; an idle-expired row counts as absent and is overwritten in place.
            cur = conn.execute(
                f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                "schema = excluded.schema, version = 1, updated_at = excluded.updated_at "
                "WHERE records.updated_at < ?",
                (key, text, schema, now, cutoff),
            )
        else:
            cur = conn.execute(
                "UPDATE records SET state = ?, schema = ?, version = version + 1, updated_at = ? "
                "WHERE key = ? AND version = ? AND updated_at >= ?",
                (text, schema, now, key, expected_version, cutoff),
            )
        if cur.rowcount != 1:
            raise StaleWrite(f"{key!r} is no longer at version {expected_version}")
        return now

    def _claim(self, conn: sqlite3.Connection, event_id: str, ttl: float) -> bool:
        now = self._clock()
        if now >= self._next_purge:
            conn.execute("DELETE FROM events WHERE expires_at <= ?", (now,))
            self._next_purge = now + EVENT_PURGE_INTERVAL
        # Inserts a new claim, or takes over an expired one; a live claim changes no row.
        cur = conn.execute(
            "INSERT INTO events (id, expires_at) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at "
            "WHERE events.expires_at <= ?",
            (event_id, now + ttl, now),
        )
        return cur.rowcount == 1

    def _probe_write(self, conn: sqlite3.Connection) -> None:
        # A real write of a page's worth, committed and removed: reading alone succeeds on a
        # full disk or a file another process has locked, where every save would fail.
        conn.execute(
            "INSERT OR REPLACE INTO locks (name, token, expires_at) "
            "VALUES (?, hex(randomblob(2048)), 0)",
            (PING_ROW,),
        )
        conn.execute("DELETE FROM locks WHERE name = ?", (PING_ROW,))

    def _acquire(self, conn: sqlite3.Connection, name: str, token: str, ttl: float) -> bool:
        now = self._clock()
        cur = conn.execute(
            "INSERT INTO locks (name, token, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET token = excluded.token, "
            "expires_at = excluded.expires_at WHERE locks.expires_at <= ?",
            (name, token, now + ttl, now),
        )
        return cur.rowcount == 1

    def _extend(self, conn: sqlite3.Connection, name: str, token: str, ttl: float) -> bool:
        now = self._clock()
        cur = conn.execute(
            "UPDATE locks SET expires_at = ? WHERE name = ? AND token = ? AND expires_at > ?",
            (now + ttl, name, token, now),
        )
        return cur.rowcount == 1

    def _release(self, conn: sqlite3.Connection, name: str, token: str) -> bool:
        cur = conn.execute(
            "DELETE FROM locks WHERE name = ? AND token = ? AND expires_at > ?",
            (name, token, self._clock()),
        )
        return cur.rowcount == 1

    def _take_rate(
        self, conn: sqlite3.Connection, limits: list[tuple[str, int]], window: float
    ) -> float:
        # One write transaction: the counts read are the counts other processes see.
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = self._clock()
            wait = 0.0
            for bucket, limit in limits:
                conn.execute(
                    "DELETE FROM uses WHERE bucket = ? AND at <= ?", (bucket, now - window)
                )
                row = conn.execute(
                    "SELECT at FROM uses WHERE bucket = ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                    (bucket, limit - 1),
                ).fetchone()
                if row is not None:  # `limit` uses or more: wait for the limit-th newest
                    wait = max(wait, row[0] + window - now)
            if wait <= 0:
                conn.executemany(
                    "INSERT INTO uses (bucket, at) VALUES (?, ?)", [(b, now) for b, _ in limits]
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return max(wait, 0.0)

    def _take_slot(
        self, conn: sqlite3.Connection, pool: str, limit: int, token: str, ttl: float
    ) -> bool:
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = self._clock()
            conn.execute("DELETE FROM slots WHERE pool = ? AND expires_at <= ?", (pool, now))
            (taken,) = conn.execute("SELECT count(*) FROM slots WHERE pool = ?", (pool,)).fetchone()
            free = taken < limit
            if free:
                conn.execute(
                    "INSERT INTO slots (pool, token, expires_at) VALUES (?, ?, ?)",
                    (pool, token, now + ttl),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return bool(free)

    def _expire(self, conn: sqlite3.Connection) -> int:
        now = self._clock()
        conn.execute("DELETE FROM events WHERE expires_at <= ?", (now,))
        conn.execute("DELETE FROM locks WHERE expires_at <= ?", (now,))
        conn.execute("DELETE FROM slots WHERE expires_at <= ?", (now,))
        conn.execute("DELETE FROM uses WHERE at <= ?", (now - USES_KEPT,))
        cur = conn.execute("DELETE FROM records WHERE updated_at < ?", (now - self.idle_ttl,))
        return cur.rowcount

    def _list(self, conn: sqlite3.Connection, prefix: str) -> list[Record]:
        cutoff = self._clock() - self.idle_ttl
        # substr rather than LIKE: LIKE treats % and _ as wildcards and ignores ASCII case.
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM records "
            "WHERE substr(key, 1, ?) = ? AND updated_at >= ? ORDER BY key",
            (len(prefix), prefix, cutoff),
        ).fetchall()
        records = (self._decode(conn, row) for row in rows)
        return [r for r in records if r is not None]

    def _decode(self, conn: sqlite3.Connection, row: Row) -> Record | None:
        key, text, schema, version, updated_at = row
        state = decode_state(text)
        if state is None:
            # Never log the content: it is someone's conversation.
            log.warning(
                "conversation store %s: discarded record %r, its state is not a JSON object",
                self.path,
                key,
            )
            conn.execute("DELETE FROM records WHERE key = ? AND version = ?", (key, version))
            return None
        return Record(key, state, schema, version, updated_at)

    # -- connection handling

    async def _run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        def op(conn: sqlite3.Connection) -> T:
            return fn(conn, *args, **kwargs)

        async with self._alock:
            return await asyncio.to_thread(self._call, op)

    def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._closed:
                raise StoreUnavailable(f"conversation store {self.path} is closed")
            try:
                if self._conn is None:
                    self._conn = self._connect()
                return op(self._conn)
            except sqlite3.Error as exc:
                raise StoreUnavailable(describe_error(exc, self.path, self.busy_timeout)) from exc

    def _connect(self) -> sqlite3.Connection:
        self._create_file()
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,  # sets SQLite's busy_timeout
            isolation_level=None,  # autocommit: each statement is its own transaction
            check_same_thread=False,  # worker threads vary; self._lock serialises them
        )
        try:
            mode = self._enable_wal(conn)
            if mode.lower() != "wal":
                log.warning("conversation store %s: WAL unavailable, using %s", self.path, mode)
            # In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last writes.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Deleted conversations (forget, retention) are overwritten, not left in free pages.
            conn.execute("PRAGMA secure_delete = ON")
            self._ensure_tables(conn)
            self._after_connect(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> str:
        # Switching a new file to WAL needs an exclusive lock, and SQLite answers "locked" at
        # once, without waiting, while another connection does the same: so retry until the
        # busy timeout.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if _primary_code(exc) != SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def _after_connect(self, conn: sqlite3.Connection) -> None:
        """Hook for subclasses (tests use it to simulate a full disk); does nothing here."""

    def _create_file(self) -> None:
        # Create it ourselves so it is 0600 from the start: it holds people's conversations.
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            raise StoreUnavailable(
                f"conversation store {self.path} cannot be created: {exc.strerror}"
            ) from exc
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
        finally:
            os.close(fd)

    def _ensure_tables(self, conn: sqlite3.Connection) -> None:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found == STORE_SCHEMA:
            return  # the common case needs no write lock
        if found > STORE_SCHEMA:
            raise StoreUnavailable(
                f"conversation store {self.path} was written by a newer mail-doctor "
                f"(store layout {found}, this version knows {STORE_SCHEMA})"
            )
        conn.execute("BEGIN IMMEDIATE")  # another process may be creating them too
        try:
            for statement in _TABLES:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {STORE_SCHEMA}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                conn.close()
            except sqlite3.Error as exc:
                log.warning("conversation store %s: error on close: %s", self.path, exc)


SQLITE_BUSY = 5
SQLITE_LOCKED = 6

# Primary SQLite result codes and what they mean here.
_REASONS = {
    3: "refused access",  # SQLITE_PERM
    SQLITE_BUSY: "is locked by another process",
    SQLITE_LOCKED: "is locked by another connection",
    8: "is read-only",  # SQLITE_READONLY
    10: "had a disk I/O error",  # SQLITE_IOERR
    11: "is corrupt",  # SQLITE_CORRUPT
    13: "is full: the database or its disk has no space left",  # SQLITE_FULL
    14: "cannot be opened (missing directory or no permission)",  # SQLITE_CANTOPEN
    26: "is not a SQLite database",  # SQLITE_NOTADB
}


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # extended code; the low byte is primary
    return code & 0xFF if isinstance(code, int) else None


def describe_error(exc: sqlite3.Error, path: str, busy_timeout: float) -> str:
    """A plain one-line message for a sqlite3 error, naming the file and the cause."""
    code = _primary_code(exc)
    reason = _REASONS.get(code) if code is not None else None
    if reason is None:
        reason = f"failed: {exc}"
    elif code in (SQLITE_BUSY, SQLITE_LOCKED):
        reason += f" (gave up after {busy_timeout:g}s)"
    return f"conversation store {path} {reason}"
