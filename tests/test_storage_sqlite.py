"""The SQLite and in-memory conversation stores: the conformance suite, plus SQLite's own
concerns (file location and mode, URLs, locks, full or broken files)."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from storage_conformance import IDLE_TTL, FakeClock, StoreConformance

from bot.storage import (
    Clock,
    ConversationStore,
    MemoryStore,
    SQLiteStore,
    StoreUnavailable,
    open_store,
)


class TestSQLiteConformance(StoreConformance):
    persistent = True
    shared = True

    @pytest.fixture(autouse=True)
    def _db_path(self, tmp_path: Path) -> None:
        self.db_path = tmp_path / "state.db"

    async def make_store(self, clock: Clock, *, idle_ttl: float = IDLE_TTL) -> ConversationStore:
        return SQLiteStore(self.db_path, idle_ttl=idle_ttl, clock=clock)

    def store_url(self) -> str | None:
        return f"sqlite://{self.db_path}"  # db_path is absolute


class TestMemoryConformance(StoreConformance):
    persistent = False
    shared = False

    async def make_store(self, clock: Clock, *, idle_ttl: float = IDLE_TTL) -> ConversationStore:
        return MemoryStore(idle_ttl=idle_ttl, clock=clock)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw(path: Path) -> sqlite3.Connection:
    """A separate connection to the store's file, as another process would have."""
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- where the file lives, and who may read it


async def test_default_path_is_under_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissive_umask: None
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    for url in (None, ""):
        store = open_store(url)
        assert isinstance(store, SQLiteStore)
        assert store.path == str(tmp_path / "xdg" / "mail-doctor" / "state.db")
        await store.close()
    directory = tmp_path / "xdg" / "mail-doctor"
    assert mode_of(directory) == 0o700
    store = open_store(None)
    try:
        await store.save("k", {}, 1, 0)
    finally:
        await store.close()
    assert mode_of(directory / "state.db") == 0o600


@pytest.mark.parametrize("xdg", [None, "", "relative/state"])
async def test_default_path_falls_back_to_local_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", xdg)  # a relative value is ignored, as XDG says
    store = open_store(None)
    assert isinstance(store, SQLiteStore)
    assert store.path == str(tmp_path / ".local" / "state" / "mail-doctor" / "state.db")
    assert mode_of(tmp_path / ".local" / "state" / "mail-doctor") == 0o700
    await store.close()


async def test_files_are_private_whatever_the_umask(db: Path, permissive_umask: None) -> None:
    store = SQLiteStore(db)
    try:
        await store.save("k", {"private": True}, 1, 0)
        files = [db, *(p for p in (Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())]
        assert len(files) == 3  # WAL mode keeps the -wal and -shm files while open
        assert {p.name: mode_of(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        await store.close()


async def test_wal_mode(db: Path) -> None:
    store = SQLiteStore(db)
    try:
        assert await store.ping()
        assert raw(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await store.close()


# -- open_store URLs


async def test_open_store_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = open_store(f"sqlite://{tmp_path}/abs.db", idle_ttl=60)
    assert isinstance(absolute, SQLiteStore)
    assert (absolute.path, absolute.idle_ttl) == (str(tmp_path / "abs.db"), 60)
    four = open_store("sqlite:////var/lib/x.db")  # SQLAlchemy's spelling, same meaning
    assert isinstance(four, SQLiteStore) and four.path == "/var/lib/x.db"

    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:sub/rel.db")
    assert isinstance(relative, SQLiteStore)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir("/")  # the path was fixed when the store was opened
    await relative.save("k", {}, 1, 0)
    assert (tmp_path / "sub" / "rel.db").exists()

    memory = open_store("memory://", idle_ttl=5)
    assert isinstance(memory, MemoryStore) and memory.idle_ttl == 5
    for store in (absolute, four, relative, memory):
        await store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+unix://:hunter2@/run/redis.sock", "unsupported conversation store scheme"),
        ("postgres://bot:hunter2@db/state", "unsupported conversation store scheme 'postgres'"),
        ("state.db", "sqlite:///absolute/path.db, sqlite:relative/path.db, memory://"),
        ("sqlite://hunter2/state.db", "takes no host"),
        ("sqlite:", "names no file"),
        ("sqlite:///", "names no file"),
        ("sqlite:///tmp/state.db?mode=ro", "no \\?options"),
        ("memory:", "unsupported"),
    ],
)
def test_open_store_rejects_other_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        open_store(url)
    assert "hunter2" not in str(info.value)  # URLs may carry passwords


# -- failures become StoreUnavailable, quickly and with a plain message


async def test_locked_database_is_unavailable_quickly(db: Path) -> None:
    store = SQLiteStore(db, busy_timeout=0.05)
    try:
        await store.save("k", {"v": 1}, 1, 0)
        blocker = raw(db)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match=r"locked by another process.*0\.05s"):
                await store.save("k", {"v": 2}, 1, 1)
            assert time.monotonic() - started < 2
            with pytest.raises(StoreUnavailable, match="locked"):
                await store.claim_event("evt")
            # WAL lets readers carry on while someone else writes.
            loaded = await store.load("k")
            assert loaded is not None and loaded.state == {"v": 1}
            # Not ready: reading works, but every message would fail to be saved.
            assert await store.ping() is False
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert await store.ping() is True
        assert (await store.save("k", {"v": 2}, 1, 1)).version == 2
    finally:
        await store.close()


class TinyDiskStore(SQLiteStore):
    """A store whose database may not grow: SQLite reports "database or disk is full"."""

    def _after_connect(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA max_page_count = 1")  # clamps to the current size


async def test_full_disk_is_unavailable(db: Path) -> None:
    async with SQLiteStore(db) as store:
        saved = await store.save("small", {"v": 1}, 1, 0)
    async with TinyDiskStore(db) as store:
        with pytest.raises(StoreUnavailable, match="is full"):
            await store.save("big", {"blob": "x" * 200_000}, 1, 0)
        assert await store.load("small") == saved
        assert await store.load("big") is None
        assert await store.ping() is False  # not ready: a page's worth cannot be written


class ReadOnlyStore(SQLiteStore):
    def _after_connect(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA query_only = ON")  # as if the file had become read-only


async def test_read_only_database_is_unavailable(db: Path) -> None:
    async with SQLiteStore(db) as store:
        saved = await store.save("k", {"v": 1}, 1, 0)
    async with ReadOnlyStore(db) as store:
        with pytest.raises(StoreUnavailable, match="read-only"):
            await store.save("k", {"v": 2}, 1, 1)
        assert await store.load("k") == saved


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
async def test_unwritable_directory_is_unavailable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        async with SQLiteStore(locked / "state.db") as store:
            assert await store.ping() is False
            with pytest.raises(StoreUnavailable, match="cannot be created: Permission denied"):
                await store.save("k", {}, 1, 0)
    finally:
        locked.chmod(0o700)


async def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "missing" / "state.db") as store:
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable, match="cannot be created: No such file"):
            await store.load("k")


async def test_a_file_that_is_not_a_database_is_unavailable(db: Path) -> None:
    db.write_bytes(b"not sqlite at all\n" * 500)
    async with SQLiteStore(db) as store:
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable, match="is not a SQLite database"):
            await store.save("k", {}, 1, 0)


async def test_a_newer_layout_is_refused(db: Path) -> None:
    conn = raw(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    async with SQLiteStore(db) as store:
        with pytest.raises(StoreUnavailable, match="newer mail-doctor"):
            await store.load("k")


async def test_the_store_reconnects_after_a_failed_open(tmp_path: Path) -> None:
    path = tmp_path / "later" / "state.db"
    async with SQLiteStore(path) as store:
        assert await store.ping() is False
        path.parent.mkdir()
        assert await store.ping() is True


# -- damaged rows, and housekeeping


async def test_corrupt_state_is_dropped_and_logged_without_content(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SQLiteStore(db) as store:
        for key in ("broken", "not-an-object", "fine"):
            await store.save(key, {"k": key}, 1, 0)
        conn = raw(db)
        conn.execute("UPDATE records SET state = ? WHERE key = 'broken'", ('{"pw": "TOPSECRET',))
        conn.execute("UPDATE records SET state = '[\"TOPSECRET\"]' WHERE key = 'not-an-object'")
        with caplog.at_level(logging.WARNING, logger="bot.storage"):
            assert await store.load("broken") is None
            assert [r.key for r in await store.list_records()] == ["fine"]
        assert "'broken'" in caplog.text and "'not-an-object'" in caplog.text
        assert "TOPSECRET" not in caplog.text
        assert conn.execute("SELECT key FROM records").fetchall() == [("fine",)]
        assert (await store.save("broken", {"fresh": 1}, 1, 0)).version == 1
        conn.close()


async def test_expired_event_claims_are_purged(db: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db, clock=clock) as store:
        for n in range(5):
            assert await store.claim_event(f"old-{n}", ttl=10)
        clock.advance(3600)
        assert await store.claim_event("new", ttl=10)
        conn = raw(db)
        assert conn.execute("SELECT id FROM events").fetchall() == [("new",)]
        conn.close()


def test_constructor_checks_its_options(db: Path) -> None:
    for options in ({"idle_ttl": 0}, {"busy_timeout": -1}, {"idle_ttl": float("nan")}):
        with pytest.raises(ValueError):
            SQLiteStore(db, **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MemoryStore(idle_ttl=-5)
