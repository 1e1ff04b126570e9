"""Conversations through the real server and the MongoDB wire-protocol store (README
"Conversations"): the original two-turn example, branches, ownership, restarts, the store
down, and a bounded load test on loopback.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import PyMongoError

from tests.fixtures.app import FAKE_KEY, LiveServer, start_live_server
from tests.fixtures.model_server import Scripted
from tests.test_e2e import EXAMPLES

FIRST = EXAMPLES["simple_deploy"]
FOLLOW_UP = EXAMPLES["multi_turn_followup"]


def mongo_env(model: Any, mongo_uri: str, db: str, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": model.base_url,
        "MONGODB_URI": mongo_uri,
        "AIOPS_MONGODB_DB": db,
        **extra,
    }


@pytest.fixture(scope="module")
def server_on_mongodb(
    _model_server: Any,
    mongo_uri: str,
    mongo_client: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """One real server on MongoDB for the tests below that need no other settings, with a
    database of this module's own (conversations are keyed by MessageId: they do not meet)."""
    db = f"aiops_test_{uuid.uuid4().hex[:12]}"
    log_path = tmp_path_factory.mktemp("conversations") / "server.log"
    live = start_live_server(mongo_env(_model_server, mongo_uri, db), log_path)
    yield live
    live.stop()
    with contextlib.suppress(PyMongoError):
        mongo_client.drop_database(db)


@pytest.fixture
def server(model: Any, server_on_mongodb: LiveServer) -> LiveServer:
    """The module's server on MongoDB, the model empty, the log from here on."""
    return server_on_mongodb.since_now()


def first_turn(server: LiveServer, model: Any, key: str = FAKE_KEY) -> dict[str, Any]:
    model.reply(FIRST["raw_model_output"])
    status, answer, _ = server.post({**FIRST["request"], "openai_token": key})
    assert status == 200, answer
    return answer


def follow_up(
    answer: dict[str, Any], text: str = FOLLOW_UP["request"]["user_input"], key: str = FAKE_KEY
) -> dict[str, Any]:
    return {
        "user_input": text,
        "openai_token": key,
        "params": json.loads(answer["GenParamsStr"]),
        "parent_message_id": answer["MessageId"],
    }


def test_the_original_two_turn_example(server: LiveServer, model: Any) -> None:
    first = first_turn(server, model)
    model.reply(FOLLOW_UP["raw_model_output"])  # '{"cpu": 0.5, "memory": "512M",}'
    status, second, _ = server.post(follow_up(first))

    assert status == 200, second
    before, after = json.loads(first["GenParamsStr"]), json.loads(second["GenParamsStr"])
    assert after == {**before, "cpu": 0.5, "memory": "512M"}
    assert second["Changes"] == {"cpu": 0.5, "memory": "512M"}
    assert second["MessageId"] != first["MessageId"]

    sent = model.completions[1]["messages"]
    history = [m for m in sent[1:-1] if m["role"] in ("user", "assistant")]
    assert history[0] == {"role": "user", "content": "请帮我部署一个mysql"}
    assert history[1]["role"] == "assistant"
    assert json.loads(history[1]["content"])["changes"]["image_name"] == "mysql"
    # The generated root password is known now: masked towards the model, kept in the answer.
    password = before["environment"][0]["value"]
    assert password not in json.dumps(sent)
    assert after["environment"][0]["value"] == password


def test_two_requests_with_the_same_parent_make_two_branches(
    server: LiveServer, model: Any
) -> None:
    first = first_turn(server, model)
    model.reply('{"changes": {"instance": 2}}', '{"changes": {"instance": 3}}')
    _, two, _ = server.post(follow_up(first, "两个实例"))
    _, three, _ = server.post(follow_up(first, "三个实例"))
    assert json.loads(two["GenParamsStr"])["instance"] == 2
    assert json.loads(three["GenParamsStr"])["instance"] == 3

    model.reply('{"changes": {}}')
    status, _, _ = server.post(follow_up(three, "好的"))
    assert status == 200
    said = [m["content"] for m in model.completions[-1]["messages"] if m["role"] == "user"]
    assert "三个实例" in said and "两个实例" not in said


def test_another_key_cannot_continue_a_conversation(server: LiveServer, model: Any) -> None:
    first = first_turn(server, model)
    status, answer, _ = server.post(follow_up(first, key="sk-test-someone-else-0000000000"))
    assert status == 404 and answer["code"] == "conversation_not_found"
    status, unknown, _ = server.post({**follow_up(first), "parent_message_id": str(uuid.uuid4())})
    assert (status, unknown) == (404, answer)  # exactly like an unknown id
    assert len(model.completions) == 1


def test_history_survives_a_restart_of_the_service(
    model: Any, mongo_uri: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = mongo_env(model, mongo_uri, mongo_db_name)
    before = start_live_server(env, tmp_path / "before.log")
    try:
        first = first_turn(before, model)
    finally:
        before.stop()
    after = start_live_server(env, tmp_path / "after.log")
    try:
        model.reply(FOLLOW_UP["raw_model_output"])
        status, second, _ = after.post(follow_up(first))
    finally:
        after.stop()
    assert status == 200, second
    assert {"role": "user", "content": "请帮我部署一个mysql"} in model.completions[-1]["messages"]


def test_store_down(model: Any, dead_mongo_uri: str, tmp_path: Path) -> None:
    server = start_live_server(mongo_env(model, dead_mongo_uri, "aiops"), tmp_path / "down.log")
    try:
        started = time.monotonic()
        status, answer, _ = server.post(
            {**FIRST["request"], "openai_token": FAKE_KEY, "parent_message_id": str(uuid.uuid4())},
        )
        read_seconds = time.monotonic() - started
        assert status == 503 and answer["code"] == "store_unavailable"
        assert read_seconds < 15  # a bound against 30-second hangs, not a speed assertion

        # A new conversation still works; the turn cannot be saved, and the answer says so.
        first = first_turn(server, model)
        assert "MessageId" in {w["field"] for w in first["Warnings"]}
        assert json.loads(first["GenParamsStr"])["image_name"] == "mysql"
    finally:
        server.stop()


@pytest.mark.slow
def test_load_96_requests_at_concurrency_16(
    model: Any, mongo_uri: str, mongo_db_name: str, mongo_client: Any, tmp_path: Path
) -> None:
    answer = json.dumps({"changes": {"memory": "128M"}, "reply": "ok", "questions": []})

    def slow_model(body: dict[str, Any]) -> Scripted:
        return Scripted(content=answer, delay_s=0.05)

    model.responder = slow_model
    env = mongo_env(model, mongo_uri, mongo_db_name)
    server = start_live_server(env, tmp_path / "load.log")
    payload = {**FIRST["request"], "openai_token": FAKE_KEY}
    total = 96  # 6 per client: the bench (§5) measures throughput, this only that all succeed
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda _: server.post(payload), range(total)))
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    statuses = [status for status, _, _ in results]
    assert statuses == [200] * total
    ids = {answer["MessageId"] for _, answer, _ in results}
    assert len(ids) == total
    stored = mongo_client[mongo_db_name]["messages"].count_documents({"_id": {"$in": list(ids)}})
    assert stored == total
    assert model.most_in_flight > 1, "the service never had two model calls open at once"
    print(f"\nload: {total} requests, concurrency 16, 50 ms model: {total / elapsed:.1f} req/s")
