"""The service's logs as an operator reads them (Cloud Logging, CloudWatch): every line on stdout
is one JSON object; every request ends with exactly one request line carrying its id, method,
path, status, latency, model, calls, tokens and whether history was used; its `severity` is
INFO below 500, WARNING for a failure upstream (502/503/504), ERROR with the traceback for a
fault of ours (500). The key and the user's text are never logged.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

import pytest

from aiops.store import StoreUnavailable
from tests.fixtures.app import FAKE_KEY, LiveServer
from tests.fixtures.model_server import Scripted, ScriptedModel

FORM = {"app_name": "hello-world", "image_name": "nginx:1.27", "cpu": 1, "memory": "64M"}
# Words that appear nowhere else, so that finding them in a log line means the text leaked.
USER_TEXT = "zebra-quokka: give my staging app more memory"
REPLY = json.dumps({"changes": {"memory": "128M"}, "reply": "Memory is now 128M.", "questions": []})
USAGE = {"prompt_tokens": 700, "completion_tokens": 30, "total_tokens": 730}
REQUEST_FIELDS = {
    "time",
    "severity",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "latency_ms",
    "model",
    "llm_calls",
    "usage",
    "history",
    "history_turns",
}


def body(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"user_input": USER_TEXT, "openai_token": FAKE_KEY, "params": FORM}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not ...}


def post(client: Any, payload: dict[str, Any], **headers: str) -> Any:
    return client.post("/gen", json=payload, headers=headers)


def printed_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line printed to stdout, each parsed as one JSON object."""
    lines = capsys.readouterr().out.splitlines()
    parsed = [json.loads(line) for line in lines if line.strip()]
    assert all(isinstance(line, dict) for line in parsed)
    return parsed


def request_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("message") == "request"]


def the_request_line(capsys: pytest.CaptureFixture[str], response: Any) -> dict[str, Any]:
    """The one request line of `response` (found by its X-Request-Id)."""
    lines = request_lines(printed_lines(capsys))
    mine = [line for line in lines if line["request_id"] == response.headers["X-Request-Id"]]
    assert len(mine) == 1, lines
    return mine[0]


@pytest.fixture
def scripted(model: ScriptedModel) -> ScriptedModel:
    model.responder = lambda body: Scripted(content=REPLY, usage=USAGE)
    return model


def test_every_request_ends_with_exactly_one_json_line(
    client: Any, scripted: ScriptedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    responses = [
        client.get("/healthz"),
        client.options("/gen"),
        post(client, body()),
        client.post("/gen", data=b"{not json"),
        post(client, body(openai_token=...)),
        client.post("/nowhere", data=b"{}"),
        client.delete("/gen"),
    ]
    lines = request_lines(printed_lines(capsys))
    assert [line["request_id"] for line in lines] == [r.headers["X-Request-Id"] for r in responses]
    assert [line["status"] for line in lines] == [r.status_code for r in responses]
    assert [(line["method"], line["path"]) for line in lines] == [
        ("GET", "/healthz"),
        ("OPTIONS", "/gen"),
        ("POST", "/gen"),
        ("POST", "/gen"),
        ("POST", "/gen"),
        ("POST", "/nowhere"),
        ("DELETE", "/gen"),
    ]
    for line in lines:
        assert set(line) >= REQUEST_FIELDS, line
        assert line["severity"] == "INFO"
        assert isinstance(line["latency_ms"], int | float) and line["latency_ms"] >= 0
        assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_a_generation_line_has_the_model_calls_and_tokens(
    client: Any, scripted: ScriptedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    response = post(client, body(), **{"X-Request-Id": "page-1234"})
    assert response.status_code == 200
    line = the_request_line(capsys, response)
    assert line["request_id"] == "page-1234"
    assert line["model"] == "gpt-4o-mini"
    assert line["llm_calls"] == 1
    assert line["usage"] == {**USAGE, "cached_prompt_tokens": 0}
    assert line["history"] is False and line["history_turns"] == 0
    assert "error" not in line


def test_a_line_without_a_generation_has_empty_model_facts(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    line = the_request_line(capsys, client.get("/healthz"))
    assert line["model"] is None
    assert line["llm_calls"] == 0
    assert line["usage"] == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cached_prompt_tokens": 0,
    }
    assert line["history"] is False


def test_a_follow_up_line_says_history_was_used(
    client: Any, scripted: ScriptedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    first = post(client, body())
    capsys.readouterr()
    second = post(client, body(parent_message_id=first.get_json()["MessageId"]))
    assert second.status_code == 200
    line = the_request_line(capsys, second)
    assert line["history"] is True
    assert line["history_turns"] == 1


def test_a_retry_is_counted(
    client: Any, model: ScriptedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    model.reply(
        Scripted(content="no JSON here, sorry", usage=USAGE), Scripted(content=REPLY, usage=USAGE)
    )
    response = post(client, body())
    assert response.status_code == 200
    line = the_request_line(capsys, response)
    assert line["llm_calls"] == 2
    assert line["retried"] is True
    assert line["usage"]["total_tokens"] == 2 * USAGE["total_tokens"]


@pytest.mark.parametrize(
    ("script", "key_in", "status"),
    [
        pytest.param(lambda m: m.reply(REPLY), "body", 200, id="success"),
        pytest.param(lambda m: m.reply(REPLY), "header", 200, id="success-bearer"),
        pytest.param(lambda m: None, "nowhere", 401, id="no-key"),
        pytest.param(
            lambda m: m.fail(401, f"Incorrect API key provided: {FAKE_KEY}"),
            "body",
            401,
            id="bad-key",
        ),
        pytest.param(
            lambda m: m.fail(500, f"boom for {FAKE_KEY}").fail(500), "body", 502, id="upstream"
        ),
        pytest.param(lambda m: m.reply("nope", "still nope"), "body", 502, id="bad-model-output"),
    ],
)
def test_neither_the_key_nor_the_users_text_is_logged(
    client: Any,
    model: ScriptedModel,
    capsys: pytest.CaptureFixture[str],
    script: Any,
    key_in: str,
    status: int,
) -> None:
    script(model)
    payload = body() if key_in == "body" else body(openai_token=...)
    headers = {"Authorization": f"Bearer {FAKE_KEY}"} if key_in == "header" else {}
    response = post(client, payload, **headers)
    assert response.status_code == status
    printed = capsys.readouterr()
    everything = printed.out + printed.err
    assert len(request_lines_of(printed.out)) == 1
    assert FAKE_KEY not in everything
    assert "zebra" not in everything and "quokka" not in everything


def request_lines_of(out: str) -> list[dict[str, Any]]:
    return request_lines([json.loads(line) for line in out.splitlines() if line.strip()])


@pytest.mark.parametrize(
    ("status", "code"),
    [(502, "upstream_error"), (503, "store_unavailable"), (504, "upstream_timeout")],
)
def test_a_failure_upstream_is_a_warning_without_traceback(
    client: Any,
    model: ScriptedModel,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    code: str,
) -> None:
    payload = body()
    if status == 502:
        model.fail(500).fail(500)
    elif status == 503:
        from tests.fixtures.app import edge_app

        def unreachable(*args: Any) -> None:
            raise StoreUnavailable("conversation store unavailable (ServerSelectionTimeoutError)")

        monkeypatch.setattr(edge_app().store, "load", unreachable)
        payload = body(parent_message_id="7246d209-adbe-4ea3-9a66-2c5bea27d9e7")
    else:
        from tests.fixtures.app import fresh_app

        monkeypatch.setenv("AIOPS_LLM_TIMEOUT_S", "0.3")
        fresh_app()
        model.reply(Scripted(content=REPLY, delay_s=1.5))
    response = post(client, payload)
    assert response.status_code == status
    line = the_request_line(capsys, response)
    assert line["severity"] == "WARNING"
    assert line["status"] == status
    assert line["error"] == code
    assert "traceback" not in line


def test_an_internal_error_is_an_error_with_traceback_and_a_plain_500(
    client: Any,
    scripted: ScriptedModel,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.fixtures.app import edge_app

    def broken(turn: Any) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(edge_app().store, "save", broken)
    response = post(client, body())

    assert response.status_code == 500
    assert response.get_json() == {
        "error": "Something went wrong on our side; try again.",
        "code": "internal_error",
        "field": None,
    }
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    answer = response.get_data(as_text=True)
    assert "Traceback" not in answer and "disk" not in answer
    printed = capsys.readouterr()
    lines = request_lines_of(printed.out)
    assert len(lines) == 1
    line = lines[0]
    assert line["severity"] == "ERROR"
    assert line["status"] == 500 and line["error"] == "internal_error"
    assert line["traceback"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: the disk is on fire" in line["traceback"]
    assert line["model"] == "gpt-4o-mini" and line["llm_calls"] == 1
    assert FAKE_KEY not in printed.out + printed.err


def test_the_lines_go_to_stdout_not_stderr(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    response = client.get("/healthz")
    printed = capsys.readouterr()
    assert response.headers["X-Request-Id"] in printed.out
    assert response.headers["X-Request-Id"] not in printed.err


@pytest.mark.slow
def test_the_real_server_prints_only_json_lines_one_per_request(
    own_live_server: LiveServer, model: ScriptedModel
) -> None:
    """functions-framework under gunicorn, as deployed: gunicorn's access log is off (its log
    level is `error`), so the request line is not doubled by an access line. Its own server:
    the test stops it to read everything it printed, start to end."""
    model.responder = lambda body: Scripted(content=REPLY, usage=USAGE)
    sent = {
        "live-health": ("GET", "/healthz", None),
        "live-gen": ("POST", "/gen", json.dumps(body()).encode()),
        "live-bad": ("POST", "/gen", b"[]"),
        "live-405": ("PUT", "/gen", b""),
    }
    for request_id, (method, path, data) in sent.items():
        request = urllib.request.Request(
            own_live_server.url + path,
            data=data,
            method=method,
            headers={"X-Request-Id": request_id, "Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as error:
            error.close()
    own_live_server.stop()

    output = own_live_server.output()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    ids = [line["request_id"] for line in request_lines(lines)]
    for request_id in sent:
        assert ids.count(request_id) == 1, output
    assert FAKE_KEY not in output and "zebra" not in output
