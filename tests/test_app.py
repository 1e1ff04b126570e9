"""The app (aiops/app.py, README "Layout"): what a process keeps between requests is one value,
made at start and passed down; two apps in one process share nothing, and an edge serves with
the app it made at start."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiops import llm
from aiops.app import App
from aiops.routes import Request, respond
from aiops.settings import Settings
from tests.fixtures.app import FAKE_KEY, START_FORM

ANSWER = json.dumps({"changes": [{"field": "memory", "value": "128M"}]})


def gen(app: App, **fields: Any) -> Any:
    payload = {"user_input": "more memory", "openai_token": FAKE_KEY, "params": START_FORM}
    body = json.dumps({**payload, **fields}).encode()
    answer = respond(Request("POST", "/gen", {"content-type": "application/json"}, body), app)
    return answer.status, json.loads(answer.body)


def test_two_apps_in_one_process_serve_with_their_own_settings() -> None:
    ours = App.from_settings(Settings(cors_origins="https://ours.example"))
    theirs = App.from_settings(Settings(cors_origins="https://theirs.example"))
    headers = {"origin": "https://ours.example"}
    first = respond(Request("OPTIONS", "/gen", headers, b""), ours)
    second = respond(Request("OPTIONS", "/gen", headers, b""), theirs)
    assert first.headers["Access-Control-Allow-Origin"] == "https://ours.example"
    assert "Access-Control-Allow-Origin" not in second.headers


def test_two_apps_keep_their_own_conversations(model: Any) -> None:
    model.reply(ANSWER, ANSWER)
    settings = Settings(openai_base_url=model.base_url)
    ours, theirs = App.from_settings(settings), App.from_settings(settings)
    status, answer = gen(ours)
    assert status == 200
    status, refused = gen(theirs, parent_message_id=answer["MessageId"])
    assert (status, refused["code"]) == (404, "conversation_not_found")
    assert len(model.requests) == 1  # refused before any model call


def test_a_format_one_app_learned_is_not_another_apps(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER, ANSWER, ANSWER)
    settings = Settings(openai_base_url=model.base_url)
    learned, fresh = App.from_settings(settings), App.from_settings(settings)
    assert gen(learned)[0] == 200
    assert learned.providers.remembered_mode(model.base_url, settings.model) == "json_object"
    assert fresh.providers.remembered_mode(model.base_url, settings.model) == "json_schema"
    assert gen(fresh)[0] == 200
    sent = [r["response_format"]["type"] for r in model.requests]
    assert sent == ["json_schema", "json_object", "json_schema", "json_object"]


def test_closing_an_app_closes_its_provider_clients(model: Any) -> None:
    app = App.from_settings(Settings(openai_base_url=model.base_url))
    app.warm_up()
    client = app.providers.client(model.base_url)
    app.close()
    assert client.is_closed()
    assert app.providers.client(model.base_url) is not client  # a new one if used again


def test_the_edge_reads_the_environment_once_at_start(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_CORS_ORIGINS", "https://cloud.sealos.io")
    answer = client.options("/gen", headers={"Origin": "https://other.example"})
    # the app made at start (every origin allowed by default) serves, not the new setting
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_providers_share_one_client_per_base_url() -> None:
    providers = llm.Providers()
    first = providers.client("http://127.0.0.1:9/v1")
    assert providers.client("http://127.0.0.1:9/v1") is first
    assert providers.client("http://127.0.0.1:8/v1") is not first
    providers.close()
