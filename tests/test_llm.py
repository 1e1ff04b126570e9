"""The model call through the real openai SDK against the scripted model: the response-format
ladder and its memory per base URL, usage, and error mapping.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from aiops import llm, prompt
from aiops.api import ApiError
from aiops.form import Limits
from tests.fixtures.app import FAKE_KEY
from tests.fixtures.model_server import Scripted

SCHEMA = prompt.answer_schema(Limits())
MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "hi"}]
ANSWER = json.dumps({"changes": {}, "reply": "ok", "questions": []})


@pytest.fixture(autouse=True)
def _forget() -> None:
    llm.forget_formats()


def ask(
    model: Any, base_url: str | None = None, name: str = "gpt-4o-mini", **kwargs: Any
) -> llm.Completion:
    return llm.complete(
        MESSAGES,
        api_key=FAKE_KEY,
        model=name,
        schema=SCHEMA,
        base_url=base_url or model.base_url,
        timeout_s=kwargs.pop("timeout_s", 5),
        **kwargs,
    )


def formats(model: Any) -> list[str]:
    return [(r.get("response_format") or {}).get("type", "text") for r in model.requests]


def test_strict_json_schema_first(model: Any) -> None:
    model.reply(ANSWER)
    completion = ask(model)
    assert completion.text == ANSWER and completion.mode == "json_schema"
    sent = model.requests[0]["response_format"]
    assert sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"] == SCHEMA
    assert completion.usage.llm_calls == 1 and completion.usage.total_tokens > 0


def test_rejected_json_schema_falls_back_to_json_object_and_is_remembered(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER, ANSWER)
    assert ask(model).mode == "json_object"
    assert formats(model) == ["json_schema", "json_object"]
    assert llm.remembered_mode(model.base_url, "gpt-4o-mini") == "json_object"

    assert ask(model).mode == "json_object"
    assert formats(model) == ["json_schema", "json_object", "json_object"]


def test_no_structured_output_at_all_falls_back_to_plain_text(model: Any) -> None:
    model.reject_formats = {"json_schema", "json_object"}
    model.reply(ANSWER)
    assert ask(model).mode == "text"
    assert formats(model) == ["json_schema", "json_object", "text"]
    assert llm.remembered_mode(model.base_url, "gpt-4o-mini") == "text"


def test_memory_is_per_base_url(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER)
    ask(model)
    other = model.base_url.replace("/v1", "/other/v1")
    model.reject_formats = set()
    model.reply(ANSWER)
    assert ask(model, other).mode == "json_schema"
    assert llm.remembered_mode(model.base_url, "gpt-4o-mini") == "json_object"


def test_every_format_rejected_is_an_upstream_error_and_remembers_nothing(model: Any) -> None:
    model.reject_formats = {"json_schema", "json_object", "text"}
    with pytest.raises(ApiError) as caught:
        ask(model)
    assert caught.value.code == "upstream_error"
    assert llm.remembered_mode(model.base_url, "gpt-4o-mini") == "json_schema"


def test_the_key_is_sent_per_request_and_never_in_errors(model: Any) -> None:
    model.fail(401, f"Incorrect API key provided: {FAKE_KEY}")
    with pytest.raises(ApiError) as caught:
        ask(model)
    assert caught.value.code == "invalid_token"
    assert FAKE_KEY not in str(caught.value.body())
    assert model.headers[0]["authorization"] == f"Bearer {FAKE_KEY}"


def test_one_client_per_base_url_is_shared(model: Any) -> None:
    model.reply(ANSWER, ANSWER)
    ask(model)
    ask(model)
    assert llm.client(model.base_url) is llm.client(model.base_url)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "invalid_token"),
        (403, "upstream_error"),
        (404, "upstream_error"),
        (429, "rate_limited"),
        (500, "upstream_error"),
    ],
)
def test_provider_errors_map_to_api_errors(model: Any, status: int, code: str) -> None:
    model.fail(status).fail(status)
    with pytest.raises(ApiError) as caught:
        ask(model)
    assert caught.value.code == code


def test_memory_is_per_model(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER)
    ask(model, name="deepseek-chat")
    model.reject_formats = set()
    model.reply(ANSWER)
    assert ask(model).mode == "json_schema"
    assert llm.remembered_mode(model.base_url, "deepseek-chat") == "json_object"


@pytest.mark.parametrize(
    "raw",
    [b"<html><body>Please log in</body></html>", b'"just a string"', b'{"choices": [{}]}', b""],
    ids=["html-page", "string", "choice-without-message", "empty"],
)
def test_a_200_that_is_no_completion_is_an_upstream_error(model: Any, raw: bytes) -> None:
    model.reply(Scripted(raw=raw))
    with pytest.raises(ApiError) as caught:
        ask(model)
    assert caught.value.code == "upstream_error"


def test_the_deadline_bounds_every_attempt_and_retry(model: Any) -> None:
    model.reply(Scripted(content=ANSWER, delay_s=0.6), Scripted(content=ANSWER, delay_s=0.6))
    model.script[0] = Scripted(status=503, error={"message": "busy"}, delay_s=0.6)
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        ask(model, timeout_s=5, max_retries=3, deadline=time.monotonic() + 1.2)
    assert caught.value.code == "upstream_timeout"
    assert time.monotonic() - started < 5  # a bound against ignoring the deadline, not a speed test
