"""The AWS Lambda entry (`aiops.aws.lambda_handler`) with API Gateway HTTP API events (payload
format 2.0): the example events in tests/data/events/ give the answers next to them, and the
adapter's own duties (base64 bodies, header case, stage prefixes, the body limit, request ids)
are checked one by one.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

import pytest

from tests.fixtures.app import FAKE_KEY, ROOT
from tests.fixtures.model_server import Scripted, ScriptedModel

EVENTS = ROOT / "tests" / "data" / "events"
EXAMPLES = sorted(path.name.removesuffix(".event.json") for path in EVENTS.glob("*.event.json"))
REPLY = json.dumps({"changes": {"memory": "128M"}, "reply": "Memory is now 128M.", "questions": []})
USAGE = {"prompt_tokens": 800, "completion_tokens": 20, "total_tokens": 820}


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """What the Lambda runtime would send back to API Gateway (it must survive json.dumps)."""
    from aiops import aws

    answer = aws.lambda_handler(copy.deepcopy(event), None)
    return json.loads(json.dumps(answer))


def body_of(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"]) if answer["body"] else ""


def matches(expected: Any, actual: Any) -> bool:
    """`actual` equals `expected`, where "<uuid>" stands for a UUID and "<text>" for any
    non-empty string."""
    if expected == "<uuid>":
        return isinstance(actual, str) and str(uuid.UUID(actual)) == actual
    if expected == "<text>":
        return isinstance(actual, str) and bool(actual.strip())
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(value, actual[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return type(expected) is type(actual) and expected == actual


@pytest.fixture
def scripted(service_env: ScriptedModel) -> ScriptedModel:
    """The service set up for in-process calls; its model always answers REPLY."""
    service_env.responder = lambda body: Scripted(content=REPLY, usage=USAGE)
    return service_env


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 9
    for name in EXAMPLES:
        assert (EVENTS / f"{name}.answer.json").is_file(), f"{name} has no answer file"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_event_gives_its_answer(scripted: ScriptedModel, name: str) -> None:
    event = load(f"{name}.event.json")
    expected = load(f"{name}.answer.json")
    answer = invoke(event)
    assert answer["statusCode"] == expected["statusCode"], answer["body"]
    assert answer["headers"] == expected["headers"]
    assert answer["isBase64Encoded"] is False
    assert isinstance(answer["body"], str)
    assert matches(expected["body"], body_of(answer)), answer["body"]
    assert FAKE_KEY not in json.dumps(answer)


def test_the_examples_are_http_api_v2_events() -> None:
    for name in EXAMPLES:
        event = load(f"{name}.event.json")
        context = event["requestContext"]
        assert event["version"] == "2.0", name
        assert event["routeKey"] == context["routeKey"], name
        assert event["rawPath"] == context["http"]["path"], name
        assert isinstance(event["isBase64Encoded"], bool), name
        assert context["requestId"], name


def test_only_generations_ask_the_model(scripted: ScriptedModel) -> None:
    asked: dict[str, int] = {}
    for name in EXAMPLES:
        before = len(scripted.requests)
        invoke(load(f"{name}.event.json"))
        asked[name] = len(scripted.requests) - before
    generating = {"post_gen", "post_gen_base64", "post_gen_bearer_mixed_case_headers"}
    assert {name for name, calls in asked.items() if calls} == generating
    assert all(asked[name] == 1 for name in generating)


def test_the_key_reaches_the_model_from_body_or_bearer_header(scripted: ScriptedModel) -> None:
    for name in ("post_gen", "post_gen_bearer_mixed_case_headers"):
        scripted.headers.clear()
        assert invoke(load(f"{name}.event.json"))["statusCode"] == 200
        assert scripted.headers[-1]["authorization"] == f"Bearer {FAKE_KEY}"


def test_a_base64_body_is_the_same_request_as_a_plain_one(scripted: ScriptedModel) -> None:
    plain = load("post_gen.event.json")
    encoded = load("post_gen_base64.event.json")
    assert base64.b64decode(encoded["body"]).decode() == plain["body"]
    answers = [body_of(invoke(event)) for event in (plain, encoded)]
    for answer in answers:
        answer.pop("MessageId")
    assert answers[0] == answers[1]
    assert all("more memory, please" in json.dumps(r["messages"]) for r in scripted.requests)


def test_request_id_is_api_gateways_unless_the_caller_sent_one(scripted: ScriptedModel) -> None:
    event = load("get_healthz.event.json")
    assert invoke(event)["headers"]["X-Request-Id"] == event["requestContext"]["requestId"]
    event["headers"]["x-request-id"] = "from-the-page-42"
    assert invoke(event)["headers"]["X-Request-Id"] == "from-the-page-42"


def test_request_id_is_generated_without_either(scripted: ScriptedModel) -> None:
    event = load("get_healthz.event.json")
    del event["requestContext"]["requestId"]
    first, second = (invoke(event)["headers"]["X-Request-Id"] for _ in range(2))
    assert first and second and first != second


def test_header_names_are_read_in_any_case(
    scripted: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.app import fresh_app

    monkeypatch.setenv("AIOPS_CORS_ORIGINS", "https://cloud.sealos.io")
    fresh_app()
    scripted.responder = lambda body: Scripted(content=REPLY, usage=USAGE)
    event = load("post_gen_bearer_mixed_case_headers.event.json")
    assert event["headers"]["Origin"] == "https://cloud.sealos.io"
    answer = invoke(event)
    assert answer["statusCode"] == 200
    assert answer["headers"]["Access-Control-Allow-Origin"] == "https://cloud.sealos.io"
    assert answer["headers"]["Vary"] == "Origin"


@pytest.mark.parametrize("encode", [False, True], ids=["plain", "base64"])
def test_a_body_over_the_limit_is_413(scripted: ScriptedModel, encode: bool) -> None:
    event = load("post_gen.event.json")
    payload = json.loads(event["body"])
    payload["user_input"] = "x" * 70_000
    text = json.dumps(payload)
    event["body"] = base64.b64encode(text.encode()).decode() if encode else text
    event["isBase64Encoded"] = encode
    answer = invoke(event)
    assert answer["statusCode"] == 413
    assert answer["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert answer["headers"]["Access-Control-Allow-Origin"] == "*"
    assert matches({"error": "<text>", "code": "payload_too_large", "field": None}, body_of(answer))
    assert scripted.requests == []


def test_a_body_at_the_limit_is_read(scripted: ScriptedModel) -> None:
    event = load("post_gen.event.json")
    payload = json.loads(event["body"])
    payload["params"]["note"] = ""
    room = 65536 - len(json.dumps(payload).encode())
    payload["params"]["note"] = "n" * room
    event["body"] = json.dumps(payload)
    assert len(event["body"].encode()) == 65536
    answer = invoke(event)
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(body_of(answer)["GenParamsStr"])["note"] == "n" * room


@pytest.mark.parametrize(
    ("stage", "raw_path", "status"),
    [
        ("$default", "/healthz", 200),
        ("prod", "/prod/healthz", 200),
        ("prod", "/prod", 200),  # the stage's root is `/`: the reference page
        ("healthz", "/healthz/healthz", 200),
        ("prod", "/healthz", 200),  # a custom domain mapping drops the stage from rawPath
    ],
)
def test_the_stage_is_not_part_of_the_path(
    scripted: ScriptedModel, stage: str, raw_path: str, status: int
) -> None:
    event = load("get_healthz.event.json")
    event["requestContext"]["stage"] = stage
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    assert invoke(event)["statusCode"] == status


def test_a_head_request_has_no_body(scripted: ScriptedModel) -> None:
    event = load("get_healthz.event.json")
    event["requestContext"]["http"]["method"] = "HEAD"
    answer = invoke(event)
    assert answer["statusCode"] == 200
    assert answer["body"] == ""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="missing"),
        # a JSON event can carry a lone surrogate; the adapter must pass it on, not crash
        pytest.param('{"params": {}, "note": "\ud800"}', id="lone-surrogate"),
    ],
)
def test_a_broken_body_is_a_json_answer_not_a_crash(
    scripted: ScriptedModel, body: str | None
) -> None:
    event = load("post_gen.event.json")
    if body is None:
        del event["body"]
    else:
        event["body"] = body
    answer = invoke(event)
    assert 400 <= answer["statusCode"] < 500
    assert set(body_of(answer)) == {"error", "code", "field"}


def test_a_key_in_the_event_never_reaches_the_answer(scripted: ScriptedModel) -> None:
    scripted.responder = lambda body: Scripted(
        status=401, error={"message": f"Incorrect API key provided: {FAKE_KEY}"}
    )
    answer = invoke(load("post_gen.event.json"))
    assert answer["statusCode"] == 401
    assert body_of(answer)["code"] == "invalid_token"
    assert FAKE_KEY not in json.dumps(answer)
