"""The conversation store: MongoStore over the wire (mongoeco or MONGODB_TEST_URI), MemoryStore."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pymongo.errors
import pytest
from bson import json_util
from pymongo import ASCENDING, MongoClient, monitoring

from aiops.app import App
from aiops.settings import Settings
from aiops.store import (
    MAX_ANCESTORS,
    MAX_HISTORY,
    MEMORY_STORE_WARNING,
    OPERATION_TIMEOUT_S,
    Exchange,
    MemoryStore,
    MongoStore,
    Store,
    StoreUnavailable,
    Turn,
    TurnNotStorable,
    branch_history,
    client_options,
    hash_key,
    lineage,
    operation_timeout_s,
    redacted,
)

HANG_BOUND_S = 10.0  # a bound against hangs; the configured timeouts give ~2-3 s

KEY_HASH = hash_key("sk-test-owner")
OTHER_KEY_HASH = hash_key("sk-test-someone-else")


def a_moment() -> datetime:
    """A creation time that survives MongoDB's millisecond precision exactly."""
    return datetime.now(UTC).replace(microsecond=123_000)


def make_turn(parent: Turn | None = None, key_hash: str = KEY_HASH, **fields: Any) -> Turn:
    """A turn with every field filled, continuing `parent`'s branch."""
    user_input = fields.pop("user_input", "用 mysql 部署，端口 3306, memory 1G")
    changes = fields.pop("changes", {"image_name": "mysql:8.4", "container_port": 3306})
    reply = fields.pop("reply", "已将镜像改为 mysql:8.4，端口 3306。")
    exchange = Exchange(user_input=user_input, changes=changes, reply=reply)
    turn = Turn(
        id=str(uuid.uuid4()),
        parent_id=parent.id if parent else None,
        key_hash=key_hash,
        user_input=user_input,
        form_before={"app_name": "hello", "cpu": 0.5, "environment": [], "x-extra": {"a": None}},
        form_after={
            "app_name": "hello",
            "image_name": "mysql:8.4",
            "cpu": 1,
            "memory": "1G",
            "public_access": False,
            "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "Zq9!kd0_3Lm2"}],
            "storage": [{"capacity": 10, "value": "/var/lib/mysql"}],
            "x-extra": {"a": None},
        },
        changes=changes,
        reply=reply,
        model="gpt-4o-mini",
        usage={"prompt_tokens": 812, "completion_tokens": 96, "total_tokens": 908, "llm_calls": 1},
        history=branch_history(parent, exchange),
        ancestors=lineage(parent),
        created_at=a_moment(),
    )
    return replace(turn, **fields)


class CommandLog(monitoring.CommandListener):
    """The names of the commands a client sent, in order."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        with self._lock:
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def since(self, start: int) -> list[str]:
        return self.names[start:]


@pytest.fixture
def mongo_store(mongo_uri: str, mongo_db_name: str) -> Iterator[MongoStore]:
    store = MongoStore(mongo_uri, mongo_db_name, ttl_days=30)
    yield store
    store.close()


@pytest.fixture(params=["memory", "mongo"])
def any_store(request: pytest.FixtureRequest) -> Store:
    """Each implementation in turn, for the behaviour they share."""
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("mongo_store")


@pytest.fixture
def watched_store(mongo_uri: str, mongo_db_name: str) -> Iterator[tuple[MongoStore, CommandLog]]:
    """A MongoStore whose client records every command it sends."""
    commands = CommandLog()
    client: MongoClient = MongoClient(
        mongo_uri, event_listeners=[commands], **client_options(mongo_uri)
    )
    yield MongoStore(client, mongo_db_name, ttl_days=30), commands
    client.close()


def timed(action: Callable[[], object]) -> tuple[BaseException | None, float]:
    """The exception `action` raised (or None), and how long it took."""
    start = time.monotonic()
    try:
        action()
    except BaseException as error:
        return error, time.monotonic() - start
    return None, time.monotonic() - start


# --- shared behaviour -----------------------------------------------------------------------


def test_save_then_load_round_trips_every_field(any_store: Store) -> None:
    first = make_turn()
    second = make_turn(first, user_input="expose it publicly", changes={"public_access": True})
    any_store.save(first)
    any_store.save(second)

    assert any_store.load(second.id, KEY_HASH) == second
    assert any_store.load(first.id, KEY_HASH) == first


def test_loaded_turn_is_aware_utc(any_store: Store) -> None:
    turn = make_turn()
    any_store.save(turn)
    loaded = any_store.load(turn.id, KEY_HASH)
    assert loaded is not None
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_turn_of_another_key_reads_as_unknown(any_store: Store) -> None:
    turn = make_turn()
    any_store.save(turn)
    assert any_store.load(turn.id, OTHER_KEY_HASH) is None


def test_unknown_id_reads_as_none(any_store: Store) -> None:
    any_store.save(make_turn())
    assert any_store.load(str(uuid.uuid4()), KEY_HASH) is None
    assert any_store.load("", KEY_HASH) is None


def test_non_string_id_is_never_a_query_operator(any_store: Store) -> None:
    any_store.save(make_turn())
    assert any_store.load({"$ne": None}, KEY_HASH) is None  # type: ignore[arg-type]


def test_two_turns_with_the_same_parent_are_two_branches(any_store: Store) -> None:
    root = make_turn(user_input="deploy wordpress")
    left = make_turn(root, user_input="use 2 instances", changes={"instance": 2})
    right = make_turn(root, user_input="use 4G memory", changes={"memory": "4G"})
    for turn in (root, left, right):
        any_store.save(turn)

    loaded_left = any_store.load(left.id, KEY_HASH)
    loaded_right = any_store.load(right.id, KEY_HASH)
    assert loaded_left is not None and loaded_right is not None
    assert [e.user_input for e in loaded_left.history] == ["deploy wordpress", "use 2 instances"]
    assert [e.user_input for e in loaded_right.history] == ["deploy wordpress", "use 4G memory"]
    assert loaded_left.ancestors == loaded_right.ancestors == [root.id]
    assert loaded_left.parent_id == loaded_right.parent_id == root.id


def test_history_and_ancestors_are_bounded(any_store: Store) -> None:
    turn = make_turn(
        history=[Exchange(f"ask {i}", {}, f"done {i}") for i in range(MAX_HISTORY + 7)],
        ancestors=[str(i) for i in range(MAX_ANCESTORS + 7)],
    )
    any_store.save(turn)
    loaded = any_store.load(turn.id, KEY_HASH)
    assert loaded is not None
    assert len(loaded.history) == MAX_HISTORY
    assert loaded.history[-1].user_input == f"ask {MAX_HISTORY + 6}"
    assert loaded.ancestors == [str(i) for i in range(7, MAX_ANCESTORS + 7)]


def test_a_saved_turn_is_not_changed_by_the_caller_afterwards(any_store: Store) -> None:
    turn = make_turn()
    any_store.save(turn)
    turn.form_after["app_name"] = "changed"
    turn.history.clear()
    loaded = any_store.load(turn.id, KEY_HASH)
    assert loaded is not None
    assert loaded.form_after["app_name"] == "hello"
    assert loaded.history


def test_expired_turn_reads_as_none(any_store: Store) -> None:
    turn = make_turn(created_at=a_moment() - timedelta(days=31))
    any_store.save(turn)
    assert any_store.load(turn.id, KEY_HASH) is None


# --- lineage helpers ------------------------------------------------------------------------


def test_lineage_and_history_of_a_branch_grow_then_stay_bounded() -> None:
    turn = make_turn()
    assert turn.ancestors == [] and turn.history == [turn.exchange()]
    for _ in range(MAX_HISTORY + 3):
        turn = make_turn(turn)
    assert len(turn.ancestors) == MAX_ANCESTORS
    assert len(turn.history) == MAX_HISTORY
    assert turn.history[-1] == turn.exchange()


# --- MemoryStore ----------------------------------------------------------------------------


def test_memory_store_evicts_the_oldest_beyond_its_size() -> None:
    store = MemoryStore(max_turns=3)
    turns = [make_turn() for _ in range(5)]
    for turn in turns:
        store.save(turn)
    assert len(store) == 3
    assert [store.load(t.id, KEY_HASH) is not None for t in turns] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_memory_store_forgets_expired_turns() -> None:
    store = MemoryStore(ttl=timedelta(hours=1))
    old = make_turn(created_at=datetime.now(UTC) - timedelta(hours=2))
    store.save(old)
    assert store.load(old.id, KEY_HASH) is None
    store.save(make_turn())
    assert len(store) == 1  # the expired one was dropped when a new turn came in


def test_memory_store_is_safe_across_threads() -> None:
    store = MemoryStore(max_turns=100)
    turns = [make_turn() for _ in range(400)]

    def save_some(chunk: list[Turn]) -> None:
        for turn in chunk:
            store.save(turn)
            store.load(turn.id, KEY_HASH)

    threads = [threading.Thread(target=save_some, args=(turns[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 100


# --- MongoStore: documents and indexes ------------------------------------------------------


def test_document_is_one_turn_without_the_key(
    mongo_store: MongoStore, mongo_client: MongoClient, mongo_db_name: str
) -> None:
    parent = make_turn()
    turn = make_turn(parent)
    mongo_store.save(parent)
    mongo_store.save(turn)

    document = mongo_client[mongo_db_name]["messages"].find_one({"_id": turn.id})
    assert document is not None
    assert set(document) == {
        "_id", "parent_id", "ancestors", "key_hash", "created_at", "user_input", "form_before",
        "form_after", "changes", "reply", "model", "usage", "history",
    }  # fmt: skip
    assert document["parent_id"] == parent.id
    assert document["ancestors"] == [parent.id]
    assert document["key_hash"] == KEY_HASH
    assert document["created_at"] == turn.created_at  # a BSON datetime, not a string
    assert document["history"][-1] == {
        "user_input": turn.user_input,
        "changes": turn.changes,
        "reply": turn.reply,
    }


def test_indexes_ttl_on_created_at_and_parent_id(
    mongo_uri: str, mongo_client: MongoClient, mongo_db_name: str
) -> None:
    store = MongoStore(mongo_uri, mongo_db_name, ttl_days=7)
    store.save(make_turn())
    store.close()

    indexes = list(mongo_client[mongo_db_name]["messages"].list_indexes())
    by_key = {tuple(index["key"].items()): index for index in indexes}
    ttl = by_key[(("created_at", 1),)]
    assert ttl["expireAfterSeconds"] == 7 * 86400
    assert (("parent_id", 1),) in by_key


def test_indexes_are_created_once_and_a_load_is_one_find(
    watched_store: tuple[MongoStore, CommandLog],
) -> None:
    store, commands = watched_store
    turns = [make_turn() for _ in range(3)]
    for turn in turns:
        store.save(turn)
        store.load(turn.id, KEY_HASH)
    assert commands.names.count("createIndexes") == 1

    for turn in turns:
        start = len(commands.names)
        assert store.load(turn.id, KEY_HASH) is not None
        assert commands.since(start) == ["find"]
    start = len(commands.names)
    assert store.load(turn.id, OTHER_KEY_HASH) is None
    assert commands.since(start) == ["find"]


def test_concurrent_first_use_creates_indexes_once(
    watched_store: tuple[MongoStore, CommandLog],
) -> None:
    store, commands = watched_store
    threads = [threading.Thread(target=store.save, args=(make_turn(),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert commands.names.count("createIndexes") == 1
    assert commands.names.count("insert") == 8


def test_turn_older_than_the_ttl_reads_as_none_before_the_ttl_monitor_runs(
    mongo_uri: str, mongo_client: MongoClient, mongo_db_name: str
) -> None:
    # An existing TTL index of 365 days keeps the server from hiding or deleting the turn:
    # only the store's own age check stands between it and the caller.
    messages = mongo_client[mongo_db_name]["messages"]
    messages.create_index([("created_at", ASCENDING)], expireAfterSeconds=365 * 86400)
    store = MongoStore(mongo_uri, mongo_db_name, ttl_days=30)
    fresh = make_turn()
    old = make_turn(created_at=a_moment() - timedelta(days=31))
    store.save(fresh)
    store.save(old)

    assert store.load(fresh.id, KEY_HASH) == fresh
    assert store.load(old.id, KEY_HASH) is None
    store.close()


def test_no_stored_byte_holds_the_key(
    mongo_store: MongoStore,
    mongo_client: MongoClient,
    mongo_db_name: str,
    mongo_server: Any,
) -> None:
    key = f"sk-test-{uuid.uuid4()}"
    marker = f"marker-{uuid.uuid4()}"
    turn = make_turn(key_hash=hash_key(key), user_input=f"deploy nginx {marker}")
    mongo_store.save(turn)
    assert mongo_store.load(turn.id, hash_key(key)) is not None

    dump = json_util.dumps(list(mongo_client[mongo_db_name]["messages"].find()))
    assert marker in dump and hash_key(key) in dump
    assert key not in dump

    if mongo_server is not None:  # mongoeco: look at the SQLite files themselves
        sqlite_path: Path = mongo_server.sqlite_path
        files = sorted(sqlite_path.parent.glob(sqlite_path.name + "*"))
        data = b"".join(path.read_bytes() for path in files)
        assert marker.encode() in data, f"the turn is not in {files}: nothing was checked"
        assert key.encode() not in data


def test_a_turn_that_cannot_be_encoded_is_refused_as_a_failed_save(
    mongo_store: MongoStore,
) -> None:
    turn = make_turn(form_after={"instance": 2**70})
    with pytest.raises(TurnNotStorable):
        mongo_store.save(turn)
    assert issubclass(TurnNotStorable, StoreUnavailable)


# --- MongoStore: restarts and outages -------------------------------------------------------


def test_a_new_client_after_a_restart_reads_what_was_saved(restartable_mongo: Any) -> None:
    db_name = f"aiops_test_{uuid.uuid4().hex[:12]}"
    before = MongoStore(restartable_mongo.uri, db_name)
    root = make_turn()
    child = make_turn(root)
    before.save(root)
    before.save(child)
    before.close()

    uri = restartable_mongo.restart()
    after = MongoStore(uri, db_name)
    try:
        assert after.load(child.id, KEY_HASH) == child
        assert after.load(root.id, KEY_HASH) == root
    finally:
        after.close()
        with MongoClient(uri) as client:
            client.drop_database(db_name)


@pytest.mark.parametrize("unreachable", ["dead_mongo_uri", "silent_mongo_uri"])
def test_store_down_or_hung_raises_store_unavailable_quickly(
    unreachable: str, request: pytest.FixtureRequest
) -> None:
    uri = request.getfixturevalue(unreachable)
    store = MongoStore(uri, "aiops_test_down", operation_timeout_s=operation_timeout_s(uri))
    actions = {
        "load": lambda: store.load(str(uuid.uuid4()), KEY_HASH),
        "save": lambda: store.save(make_turn()),
    }
    for name, action in actions.items():
        error, elapsed = timed(action)
        assert isinstance(error, StoreUnavailable), f"{name}: {error!r}"
        assert elapsed < HANG_BOUND_S, f"{name} took {elapsed:.1f} s"
    store.close()


def test_store_errors_carry_no_credentials(
    dead_mongo_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    uri = dead_mongo_uri.replace("mongodb://", "mongodb://aiops:hunter2-secret@")
    store = MongoStore(uri, "aiops_test_down", operation_timeout_s=0.5)
    with caplog.at_level(logging.DEBUG), pytest.raises(StoreUnavailable) as raised:
        store.load(str(uuid.uuid4()), KEY_HASH)
    store.close()
    assert "hunter2" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "hunter2" not in caplog.text


def test_indexes_come_when_the_store_comes_back(restartable_mongo: Any, mongo_server: Any) -> None:
    if mongo_server is None:
        pytest.skip("needs a mongoeco server that the test can stop")
    db_name = f"aiops_test_{uuid.uuid4().hex[:12]}"
    store = MongoStore(restartable_mongo.uri, db_name)
    restartable_mongo.stop()
    with pytest.raises(StoreUnavailable):
        store.save(make_turn())

    restartable_mongo.start()
    turn = make_turn()
    store.save(turn)
    assert store.load(turn.id, KEY_HASH) == turn
    with MongoClient(restartable_mongo.uri) as client:
        keys = [dict(index["key"]) for index in client[db_name]["messages"].list_indexes()]
    assert {"created_at": 1} in keys and {"parent_id": 1} in keys
    store.close()


def test_a_malformed_uri_is_a_store_error_without_the_uri() -> None:
    store = MongoStore("mongodb://aiops:p@ss@word@127.0.0.1:1/", "aiops_test")
    with pytest.raises(StoreUnavailable) as raised:
        store.load(str(uuid.uuid4()), KEY_HASH)
    assert "ss@word" not in str(raised.value)


# --- the app's store (aiops.app) --------------------------------------------------------------


def settings_for(uri: str | None, db: str = "aiops") -> Settings:
    return Settings(mongodb_uri=uri, mongodb_db=db)


def test_without_mongodb_uri_the_apps_store_is_in_memory_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    turn = make_turn()
    with caplog.at_level(logging.WARNING, logger="aiops.store"):
        app = App.from_settings(settings_for(None))
        app.store.save(turn)
        assert app.store.load(turn.id, KEY_HASH) == turn
    assert isinstance(app.store, MemoryStore)
    warnings = [r for r in caplog.records if r.getMessage() == MEMORY_STORE_WARNING]
    assert len(warnings) == 1
    # Another app (another process) has a store of its own: memory is not shared.
    assert App.from_settings(settings_for(None)).store.load(turn.id, KEY_HASH) is None


def test_with_mongodb_uri_the_apps_store_is_mongo_on_one_client_it_closes(
    mongo_uri: str, mongo_db_name: str
) -> None:
    app = App.from_settings(settings_for(mongo_uri, mongo_db_name))
    other_db = App.from_settings(settings_for(mongo_uri, mongo_db_name + "_other"))
    store = app.store
    assert isinstance(store, MongoStore)
    try:
        turn = make_turn()
        store.save(turn)
        assert store.load(turn.id, KEY_HASH) == turn
        assert other_db.store.load(turn.id, KEY_HASH) is None
        client = store._connected_client()  # type: ignore[attr-defined]
        assert store._connected_client() is client  # type: ignore[attr-defined]
    finally:
        app.close()
        other_db.close()
    with pytest.raises(pymongo.errors.InvalidOperation):
        client.admin.command("ping")  # closed with its app


def test_making_the_app_does_not_connect_to_the_store(dead_mongo_uri: str) -> None:
    error, elapsed = timed(lambda: App.from_settings(settings_for(dead_mongo_uri)))
    assert error is None and elapsed < 1.0


def test_client_defaults_are_short_and_the_uri_wins() -> None:
    defaults = client_options("mongodb://db.example:27017/")
    assert defaults["serverSelectionTimeoutMS"] == 2000
    assert defaults["timeoutMS"] == 3000
    assert defaults["maxPoolSize"] == 16
    assert defaults["appname"] == "aiops"
    assert defaults["connect"] is False
    chosen = client_options("mongodb://db.example/?serverselectiontimeoutms=5000&maxPoolSize=4")
    assert "serverSelectionTimeoutMS" not in chosen and "maxPoolSize" not in chosen


def test_a_store_call_has_the_uri_timeout_when_it_sets_one() -> None:
    assert operation_timeout_s("mongodb://db.example:27017/") == OPERATION_TIMEOUT_S == 3.0
    assert operation_timeout_s("mongodb://db.example/?appname=x&timeoutMS=750") == 0.75
    assert operation_timeout_s("mongodb://db.example/?timeoutms=0") == OPERATION_TIMEOUT_S
    assert operation_timeout_s("mongodb://db.example/?timeoutMS=soon") == OPERATION_TIMEOUT_S


def test_redacted_hides_uri_credentials() -> None:
    text = "cannot reach mongodb+srv://user:p%40ss@cluster0.example.net/aiops"
    assert redacted(text) == "cannot reach mongodb+srv://***@cluster0.example.net/aiops"
