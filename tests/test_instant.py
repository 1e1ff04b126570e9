"""Instant edits (README "Instant edits"), seen from outside: the real server in a subprocess over
real HTTP, the scripted model over real HTTP behind it.

The table (tests/data/instant_cases.json) holds exact edits with the exact `Changes` each must
answer without the model, and requests of every kind the instant path must leave to the model.
The scripted model always answers something recognisably different (it renames the app to
`from-the-model`), so an answer tells which path made it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import FAKE_KEY, LiveServer, fresh_app
from tests.fixtures.model_server import Scripted, ScriptedModel

CASES = json.loads((Path(__file__).parent / "data" / "instant_cases.json").read_text())
FORMS: dict[str, dict[str, Any]] = CASES["forms"]
MODEL_ANSWER = {"changes": {"app_name": "from-the-model"}, "reply": "MODEL ANSWER"}
_CJK = re.compile(r"[\u3400-\u9fff]")


def _scripted(_request: dict[str, Any]) -> Scripted:
    return Scripted(content=json.dumps(MODEL_ANSWER))


@pytest.fixture
def server(shared_live_server: LiveServer) -> LiveServer:
    """The shared real server for the whole table (default settings: instant edits on)."""
    return shared_live_server.since_now()


@pytest.fixture
def scripted(_model_server: ScriptedModel) -> ScriptedModel:
    _model_server.reset()
    _model_server.responder = _scripted
    return _model_server


def generate(server: LiveServer, user: str, form: dict[str, Any], **extra: Any) -> dict[str, Any]:
    payload = {"user_input": user, "openai_token": FAKE_KEY, "params": form, **extra}
    status, answer, _ = server.post(payload)
    assert status == 200, answer
    return answer


def _id(case: dict[str, Any]) -> str:
    return case["user"].replace("\n", " ")[:40]


def test_the_table_is_as_large_as_promised() -> None:
    def chinese(cases: list[dict[str, Any]]) -> int:
        return sum(1 for case in cases if _CJK.search(case["user"]))

    instant, model = CASES["instant"], CASES["model"]
    assert len(instant) >= 200 and chinese(instant) * 2 >= len(instant)
    assert len(model) >= 120 and chinese(model) * 2 >= len(model) * 0.9
    for kind in {case["class"] for case in model}:
        of_kind = [case for case in model if case["class"] == kind]
        assert 0 < chinese(of_kind) < len(of_kind), f"{kind}: both languages"
    assert {
        "vague",
        "question",
        "negation",
        "condition",
        "alternative",
        "self-correction",
        "unresolvable",
        "more-than-an-edit",
        "missing-target",
    } <= {case["class"] for case in model}


@pytest.mark.parametrize("case", CASES["instant"], ids=_id)
def test_an_exact_edit_is_answered_without_the_model(
    server: LiveServer, scripted: ScriptedModel, case: dict[str, Any]
) -> None:
    form = FORMS[case["form"]]
    answer = generate(server, case["user"], form)
    assert scripted.requests == []  # no model was asked
    assert answer["Model"] == "instant"
    assert answer["Changes"] == case["changes"]
    after = json.loads(answer["GenParamsStr"])
    assert after == {**form, **case["changes"]}  # the complete form, nothing else changed
    assert answer["Questions"] == []
    assert answer["Usage"] == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cached_prompt_tokens": 0,
        "llm_calls": 0,
    }
    assert bool(_CJK.search(answer["Reply"])) == bool(_CJK.search(case["user"]))
    warned = {re.split(r"[.\[]", w["field"])[0] for w in answer["Warnings"]}
    assert set(case["warned"]) <= warned
    if not case["warned"]:  # no rule changed what was asked
        assert not warned & set(case["changes"]), answer["Warnings"]


@pytest.mark.parametrize("case", CASES["model"], ids=_id)
def test_anything_else_goes_to_the_model(
    server: LiveServer, scripted: ScriptedModel, case: dict[str, Any]
) -> None:
    answer = generate(server, case["user"], FORMS[case["form"]])
    assert len(scripted.requests) == 1, case["class"]
    assert answer["Model"] != "instant"
    assert answer["Changes"] == {"app_name": "from-the-model"}
    assert answer["Reply"] == "MODEL ANSWER"
    assert answer["Usage"]["llm_calls"] == 1


# --- the instant answer in a conversation ------------------------------------------------------


def test_an_instant_turn_is_saved_and_the_next_model_turn_sees_it(
    server: LiveServer, scripted: ScriptedModel
) -> None:
    first = generate(server, "把内存调到2G", FORMS["api"])
    assert first["Model"] == "instant"
    after = json.loads(first["GenParamsStr"])
    second = generate(
        server, "内存够用吗？", after, parent_message_id=first["MessageId"]
    )  # a question: the model's
    assert second["Model"] != "instant"
    messages = scripted.requests[0]["messages"]
    history = [m["content"] for m in messages if m["role"] in ("user", "assistant")][:-1]
    assert any("把内存调到2G" in text for text in history)
    assert any('"memory":"2G"' in text.replace(" ", "") for text in history)
    assert any(first["Reply"] in text for text in history)


def test_instant_turns_chain_on_each_other(server: LiveServer, scripted: ScriptedModel) -> None:
    first = generate(server, "Scale to 3 replicas.", FORMS["api"])
    second = generate(
        server,
        "One more instance",
        json.loads(first["GenParamsStr"]),
        parent_message_id=first["MessageId"],
    )
    assert second["Model"] == "instant" and second["Changes"] == {"instance": 4}
    assert scripted.requests == []


def test_an_unknown_parent_is_refused_even_for_an_instant_edit(
    server: LiveServer, scripted: ScriptedModel
) -> None:
    payload = {
        "user_input": "把内存调到2G",
        "openai_token": FAKE_KEY,
        "params": FORMS["api"],
        "parent_message_id": "no-such-turn",
    }
    status, answer, _ = server.post(payload)
    assert status == 404 and answer["code"] == "conversation_not_found"
    assert scripted.requests == []


def test_the_key_is_still_required(server: LiveServer, scripted: ScriptedModel) -> None:
    status, answer, _ = server.post({"user_input": "把内存调到2G", "params": FORMS["api"]})
    assert status == 401 and answer["code"] == "missing_token"


def test_a_snapped_value_carries_the_form_s_warning(
    server: LiveServer, scripted: ScriptedModel
) -> None:
    answer = generate(server, "内存改成 3G", FORMS["api"])
    assert answer["Changes"] == {"memory": "4G"}
    assert any(w["field"] == "memory" and "4G" in w["message"] for w in answer["Warnings"]), answer[
        "Warnings"
    ]
    assert "4G" in answer["Reply"]


def test_the_reply_says_what_changed_in_the_user_s_language(
    server: LiveServer, scripted: ScriptedModel
) -> None:
    zh = generate(server, "给 2 核 CPU 和 4G 内存", FORMS["api"])
    assert "内存" in zh["Reply"] and "4G" in zh["Reply"] and "2 核" in zh["Reply"]
    en = generate(server, "Remove the DEBUG environment variable", FORMS["api"])
    assert "DEBUG" in en["Reply"] and "removed" in en["Reply"]
    assert "orders:*" not in en["Reply"]  # names only, never a variable's value


def test_a_pasted_key_goes_the_model_s_way(server: LiveServer, scripted: ScriptedModel) -> None:
    answer = generate(server, f"Add OPENAI_API_KEY={FAKE_KEY}", FORMS["api"])
    assert answer["Model"] != "instant" and len(scripted.requests) == 1


def test_the_setting_turns_instant_edits_off(
    client: Any, scripted: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The setting, read from the environment as a server reads it at start (the app made
    afresh); the in-process client is enough, this checks an answer, not gunicorn."""
    monkeypatch.setenv("AIOPS_INSTANT_EDITS", "false")
    fresh_app()
    payload = {"user_input": "把内存调到2G", "openai_token": FAKE_KEY, "params": FORMS["api"]}
    response = client.post("/gen", json=payload)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["Model"] != "instant" and len(scripted.requests) == 1


def test_one_more_of_nothing_named_counts_instances_only_after_an_instance_turn(
    server: LiveServer, scripted: ScriptedModel
) -> None:
    scaled = generate(server, "Scale to 3 replicas.", FORMS["api"])
    more = generate(
        server,
        "再加一个",
        json.loads(scaled["GenParamsStr"]),
        parent_message_id=scaled["MessageId"],
    )
    assert more["Model"] == "instant" and more["Changes"] == {"instance": 4}
    assert scripted.requests == []

    added = generate(server, "加一个环境变量 TZ=Asia/Shanghai", FORMS["api"])
    another = generate(
        server,
        "再加一个",
        json.loads(added["GenParamsStr"]),
        parent_message_id=added["MessageId"],
    )  # another variable? which? the model's to ask
    assert another["Model"] != "instant" and len(scripted.requests) == 1


# --- every exact edit, made doubtful, is no longer exact ---------------------------------------

DOUBTS = [
    *("不要", "别", "如果需要的话，", "先别", "能不能", "为什么", "要是可以，", "或者"),
    *("don't ", "do not ", "if needed, ", "maybe ", "should I ", "why ", "never ", "what if "),
]
AFTERTHOUGHTS = [
    *(
        "吗",
        "？",
        "，还是4G",
        "，不对",
        "，如果需要的话",
        "，然后部署 redis",
        "，好不好",
        "，可以吗",
    ),
    *(" 或 8G", "，再说吧", "?", " if needed", " or 4G", ", no wait", " and deploy postgres"),
    *(" maybe", " unless it's expensive", ", right?", " instead", " or not"),
]


def test_the_database_qualifier_asks_the_catalogue_it_is_given() -> None:
    """In process: "给数据库…" is this app only when the catalogue passed in (the app's) says its
    image is a database; a catalogue without that entry leaves the request to the model."""
    from aiops import catalog, instant
    from aiops.form import Limits

    known = catalog.load()
    mysql = FORMS["mysql"]
    assert instant.propose("给数据库 2 核 CPU", mysql, Limits(), known) == {"cpu": "2"}
    entry = known.for_image(mysql["image_name"])
    assert entry is not None and entry.category == "database"
    without = catalog.Catalog(e for e in known.entries if e.id != entry.id)
    assert instant.propose("给数据库 2 核 CPU", mysql, Limits(), without) is None


def test_an_exact_edit_with_a_doubt_added_is_left_to_the_model() -> None:
    """In process (aiops.instant.propose): each of the table's edits with a negation, condition,
    question or alternative before or after it. The table test shows what None leads to."""
    from aiops import catalog, instant
    from aiops.form import Limits

    known = catalog.load()
    escaped = [
        text
        for case in CASES["instant"]
        for text in [d + case["user"] for d in DOUBTS]
        + [case["user"].rstrip(".") + a for a in AFTERTHOUGHTS]
        if instant.propose(text, FORMS[case["form"]], Limits(), known) is not None
    ]
    assert escaped == []
