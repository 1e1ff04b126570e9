"""The model call through the real openai SDK against the scripted model: the response-format
ladder and its memory per base URL and model, reading every reply shape, usage, wall-clock
deadlines, and the failures it raises.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aiops import llm, prompt
from aiops.form import Limits
from aiops.provider_errors import RETRY_AFTER_CAP_S, Failure
from tests.fixtures.app import FAKE_KEY
from tests.fixtures.model_server import NO_USAGE, Scripted

SCHEMA = prompt.answer_schema(Limits())
MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "hi"}]
ANSWER = json.dumps({"changes": {}, "reply": "ok", "questions": []})
CONTEXT_400 = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 8227 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}


# What a process keeps of its providers (the app's): a new one for each test.
PROVIDERS = llm.Providers()


@pytest.fixture(autouse=True)
def _fresh_providers() -> Iterator[None]:
    global PROVIDERS
    PROVIDERS = llm.Providers()
    yield
    PROVIDERS.close()


def ask(
    model: Any, base_url: str | None = None, name: str = "gpt-4o-mini", **kwargs: Any
) -> llm.Completion:
    return llm.complete(
        MESSAGES,
        providers=PROVIDERS,
        api_key=FAKE_KEY,
        model=name,
        schema=SCHEMA,
        base_url=base_url or model.base_url,
        timeout_s=kwargs.pop("timeout_s", 5),
        **kwargs,
    )


def failure_of(model: Any, **kwargs: Any) -> llm.ModelError:
    with pytest.raises(llm.ModelError) as caught:
        ask(model, **kwargs)
    assert FAKE_KEY not in caught.value.message
    return caught.value


def formats(model: Any) -> list[str]:
    return [(r.get("response_format") or {}).get("type", "text") for r in model.requests]


# --- the format ladder ------------------------------------------------------------------------


def test_strict_json_schema_first(model: Any) -> None:
    model.reply(ANSWER)
    completion = ask(model)
    assert completion.text == ANSWER and completion.mode is llm.Format.JSON_SCHEMA
    sent = model.requests[0]["response_format"]
    assert sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"] == SCHEMA
    assert completion.usage.llm_calls == 1 and completion.usage.total_tokens > 0


def test_rejected_json_schema_falls_back_to_json_object_and_is_remembered(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER, ANSWER)
    assert ask(model).mode == "json_object"
    assert formats(model) == ["json_schema", "json_object"]
    assert PROVIDERS.remembered_mode(model.base_url, "gpt-4o-mini") is llm.Format.JSON_OBJECT

    assert ask(model).mode == "json_object"
    assert formats(model) == ["json_schema", "json_object", "json_object"]


def test_no_structured_output_at_all_falls_back_to_plain_text(model: Any) -> None:
    model.reject_formats = {"json_schema", "json_object"}
    model.reply(ANSWER)
    assert ask(model).mode == "text"
    assert formats(model) == ["json_schema", "json_object", "text"]
    assert PROVIDERS.remembered_mode(model.base_url, "gpt-4o-mini") is llm.Format.TEXT


def test_memory_is_per_base_url(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER)
    ask(model)
    other = model.base_url.replace("/v1", "/other/v1")
    model.reject_formats = set()
    model.reply(ANSWER)
    assert ask(model, other).mode == "json_schema"
    assert PROVIDERS.remembered_mode(model.base_url, "gpt-4o-mini") == "json_object"


def test_memory_is_per_model(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER)
    ask(model, name="deepseek-chat")
    model.reject_formats = set()
    model.reply(ANSWER)
    assert ask(model).mode == "json_schema"
    assert PROVIDERS.remembered_mode(model.base_url, "deepseek-chat") == "json_object"


def test_every_format_rejected_is_a_refusal_and_remembers_nothing(model: Any) -> None:
    model.reject_formats = {"json_schema", "json_object", "text"}
    error = failure_of(model)
    assert error.failure is Failure.REFUSED
    assert len(model.requests) == 3
    assert PROVIDERS.remembered_mode(model.base_url, "gpt-4o-mini") == "json_schema"


def test_a_400_that_is_not_about_the_format_is_final_after_one_call(model: Any) -> None:
    model.reply(Scripted(status=400, body=CONTEXT_400))
    error = failure_of(model)
    assert error.failure is Failure.INPUT_TOO_LONG and error.field == "user_input"
    assert formats(model) == ["json_schema"]
    assert PROVIDERS.remembered_mode(model.base_url, "gpt-4o-mini") == "json_schema"


def test_a_format_rejection_then_a_failure_remembers_nothing(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(Scripted(status=400, body=CONTEXT_400))
    assert failure_of(model).failure is Failure.INPUT_TOO_LONG
    assert formats(model) == ["json_schema", "json_object"]
    assert PROVIDERS.remembered_mode(model.base_url, "gpt-4o-mini") == "json_schema"


def test_a_refused_parameter_is_final_after_one_call(model: Any) -> None:
    model.reply(
        Scripted(
            status=400,
            body={
                "error": {
                    "message": "Unsupported value: 'temperature' does not support 0.7 with this "
                    "model. Only the default (1) value is supported.",
                    "type": "invalid_request_error",
                    "param": "temperature",
                    "code": "unsupported_value",
                }
            },
        )
    )
    error = failure_of(model)
    assert error.failure is Failure.REFUSED and "HTTP 400" in error.message
    assert len(model.requests) == 1


# --- the request ------------------------------------------------------------------------------


def test_the_key_is_sent_per_request_and_never_in_errors(model: Any) -> None:
    model.fail(401, f"Incorrect API key provided: {FAKE_KEY}")
    error = failure_of(model)
    assert error.failure is Failure.INVALID_KEY and error.field == "openai_token"
    assert model.headers[0]["authorization"] == f"Bearer {FAKE_KEY}"


def test_extra_body_is_merged_into_every_request(model: Any) -> None:
    model.reject_formats = {"json_schema"}
    model.reply(ANSWER)
    ask(model, extra_body={"enable_thinking": False, "top_k": 20})
    assert [r["enable_thinking"] for r in model.requests] == [False, False]
    assert all(r["top_k"] == 20 for r in model.requests)
    assert model.requests[1]["response_format"] == {"type": "json_object"}


def test_one_client_per_base_url_is_shared(model: Any) -> None:
    model.reply(ANSWER, ANSWER)
    ask(model)
    ask(model)
    assert PROVIDERS.client(model.base_url) is PROVIDERS.client(model.base_url)


# --- status errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (401, Failure.INVALID_KEY),
        (402, Failure.QUOTA),
        (403, Failure.REFUSED),
        (404, Failure.UNKNOWN_MODEL),
        (429, Failure.RATE_LIMITED),
        (500, Failure.UNAVAILABLE),
        (503, Failure.UNAVAILABLE),
    ],
)
def test_a_status_alone_gives_its_failure(model: Any, status: int, failure: Failure) -> None:
    model.fail(status).fail(status)
    assert failure_of(model).failure is failure


def test_a_5xx_is_tried_again_within_the_retries(model: Any) -> None:
    model.fail(503, "Server Overloaded").reply(ANSWER)
    assert ask(model, max_retries=1).text == ANSWER
    assert len(model.requests) == 2


def test_a_4xx_is_never_tried_again(model: Any) -> None:
    model.fail(429).reply(ANSWER)
    assert failure_of(model, max_retries=3).failure is Failure.RATE_LIMITED
    assert len(model.requests) == 1


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Retry-After", "7", 7),
        ("Retry-After", "0.4", 1),
        ("Retry-After", "86400", RETRY_AFTER_CAP_S),
        ("retry-after-ms", "1500", 2),
        ("Retry-After", "soon", None),
    ],
)
def test_retry_after_is_passed_on_capped(
    model: Any, header: str, value: str, expected: int | None
) -> None:
    model.fail(429, "Rate limit reached for gpt-4o", headers={header: value})
    error = failure_of(model)
    assert error.failure is Failure.RATE_LIMITED and error.retry_after == expected


def test_an_http_date_retry_after_becomes_seconds(model: Any) -> None:
    from email.utils import formatdate

    model.fail(429, "slow down", headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    retry_after = failure_of(model).retry_after
    assert retry_after is not None and 25 <= retry_after <= 31


def test_quota_is_never_a_rate_limit_and_has_no_retry_after(model: Any) -> None:
    body = {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    model.reply(Scripted(status=429, body=body, headers={"Retry-After": "20"}))
    error = failure_of(model, max_retries=2)
    assert error.failure is Failure.QUOTA and error.retry_after is None
    assert len(model.requests) == 1


def test_the_unknown_model_is_named(model: Any) -> None:
    model.fail(404, "The model `gpt-9` does not exist or you do not have access to it.")
    error = failure_of(model, name="gpt-9")
    assert error.failure is Failure.UNKNOWN_MODEL and error.field == "model"
    assert "'gpt-9'" in error.message


# --- 200 answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"<html><body>Please log in</body></html>", "text/html"),
        (b'"just a string"', "application/json"),
        (b'{"choices": [{}]}', "application/json"),
        (b'{"choices": []}', "application/json"),
        (b"", "application/json"),
        (b"not json at all", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
    ids=["html", "string", "no-message", "no-choices", "empty", "not-json", "array", "bytes"],
)
def test_a_200_that_is_no_completion_is_not_a_completion(
    model: Any, raw: bytes, content_type: str
) -> None:
    model.reply(Scripted(raw=raw, content_type=content_type))
    error = failure_of(model)
    assert error.failure is Failure.NOT_A_COMPLETION and "OPENAI_BASE_URL" in error.message
    assert len(model.requests) == 1


def test_a_200_that_is_an_error_object_is_read_as_that_error(model: Any) -> None:
    model.reply(
        Scripted(body={"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}})
    )
    assert failure_of(model).failure is Failure.QUOTA


def test_content_as_a_list_of_text_parts(model: Any) -> None:
    parts = [{"type": "text", "text": ANSWER[:10]}, {"type": "text", "text": ANSWER[10:]}]
    model.reply(Scripted(message={"role": "assistant", "content": parts}))
    assert ask(model).text == ANSWER


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("content", [None, ""])
def test_an_answer_only_in_the_reasoning_field_is_read(
    model: Any, field: str, content: str | None
) -> None:
    model.reply(Scripted(message={"role": "assistant", "content": content, field: ANSWER}))
    assert ask(model).text == ANSWER


def test_reasoning_beside_content_is_not_the_answer(model: Any) -> None:
    message = {"role": "assistant", "content": ANSWER, "reasoning_content": "let me think"}
    model.reply(Scripted(message=message))
    assert ask(model).text == ANSWER


def test_a_cut_off_answer_is_marked(model: Any) -> None:
    model.reply(Scripted(content=ANSWER[:20], finish_reason="length"))
    completion = ask(model)
    assert completion.cut_off and completion.text == ANSWER[:20]


@pytest.mark.parametrize("finish_reason", ["content_filter", "sensitive"])
def test_a_filtered_answer_is_content_filtered(model: Any, finish_reason: str) -> None:
    model.reply(Scripted(content="", finish_reason=finish_reason))
    assert failure_of(model).failure is Failure.CONTENT_FILTERED


def test_a_refusal_is_content_filtered(model: Any) -> None:
    message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    model.reply(Scripted(message=message))
    assert failure_of(model).failure is Failure.CONTENT_FILTERED


def test_missing_usage_counts_zero_tokens_and_one_call(model: Any) -> None:
    model.reply(Scripted(content=ANSWER, usage=NO_USAGE))
    usage = ask(model).usage
    assert (usage.total_tokens, usage.cached_prompt_tokens, usage.llm_calls) == (0, 0, 1)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 1500, "completion_tokens": 9, "total_tokens": 1509,
         "prompt_tokens_details": {"cached_tokens": 1280}},
        {"prompt_tokens": 1500, "completion_tokens": 9, "total_tokens": 1509,
         "prompt_cache_hit_tokens": 1280, "prompt_cache_miss_tokens": 220},
    ],
    ids=["openai", "deepseek"],
)  # fmt: skip
def test_cached_prompt_tokens_are_reported(model: Any, usage: dict[str, Any]) -> None:
    model.reply(Scripted(content=ANSWER, usage=usage))
    assert ask(model).usage.cached_prompt_tokens == 1280


# --- deadlines --------------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["headers", "body"])
def test_a_trickling_provider_is_cut_at_the_call_timeout(model: Any, what: str) -> None:
    """One byte every 0.5 s: each read succeeds, so only a wall-clock limit ends the call."""
    scripted = Scripted(content=ANSWER * 5, trickle_s=0.5, trickle_headers=what == "headers")
    model.reply(scripted)
    started = time.monotonic()
    error = failure_of(model, timeout_s=2, max_retries=0)
    assert error.failure is Failure.TIMEOUT
    assert time.monotonic() - started < 15  # a hang guard (the answer takes > 3 min), not speed


def test_a_trickling_provider_is_cut_at_the_request_deadline(model: Any) -> None:
    model.reply(Scripted(content=ANSWER * 5, trickle_s=0.5))
    started = time.monotonic()
    error = failure_of(model, timeout_s=30, deadline=time.monotonic() + 2.5)
    assert error.failure is Failure.TIMEOUT and "time budget" in error.message
    assert time.monotonic() - started < 15  # a hang guard, not a speed test


def test_the_deadline_bounds_every_attempt_and_retry(model: Any) -> None:
    model.reply(Scripted(content=ANSWER, delay_s=0.6), Scripted(content=ANSWER, delay_s=0.6))
    model.script[0] = Scripted(status=503, error={"message": "busy"}, delay_s=0.6)
    started = time.monotonic()
    error = failure_of(model, timeout_s=5, max_retries=3, deadline=time.monotonic() + 1.2)
    assert error.failure is Failure.TIMEOUT
    assert time.monotonic() - started < 5  # a bound against ignoring the deadline, not a speed test


def test_after_a_cut_call_the_client_serves_the_next_one(model: Any) -> None:
    model.reply(Scripted(content=ANSWER, trickle_s=0.5), ANSWER)
    assert failure_of(model, timeout_s=1.5, max_retries=0).failure is Failure.TIMEOUT
    assert ask(model).text == ANSWER


# --- an unreachable provider ------------------------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_a_refused_connection_names_the_url_and_the_cause(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = closed_port_url()
    with caplog.at_level(logging.WARNING, logger="aiops.llm"):
        error = failure_of(model, base_url=url, max_retries=0)
    assert error.failure is Failure.UNREACHABLE
    assert url in error.message and "connection refused" in error.message
    line = next(r for r in caplog.records if r.getMessage() == "model provider unreachable")
    assert line.base_url == url and "refused" in line.cause  # type: ignore[attr-defined]
    assert FAKE_KEY not in caplog.text


def test_an_unknown_host_is_a_dns_failure(model: Any) -> None:
    error = failure_of(model, base_url="http://no-such-provider.invalid/v1", max_retries=0)
    assert error.failure is Failure.UNREACHABLE
    assert "http://no-such-provider.invalid/v1" in error.message and "DNS" in error.message


def test_https_to_a_plain_http_server_is_a_tls_failure(model: Any) -> None:
    error = failure_of(model, base_url=model.base_url.replace("http:", "https:"), max_retries=0)
    assert error.failure is Failure.UNREACHABLE and "TLS" in error.message


def test_credentials_in_the_base_url_are_never_shown() -> None:
    shown = llm.shown_url("https://user:s3cret@proxy.example:8443/v1?key=abc#x")
    assert shown == "https://proxy.example:8443/v1"


@pytest.mark.parametrize("status", [200, 400])
def test_a_deeply_nested_body_is_no_500(model: Any, status: int) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    model.reply(Scripted(status=status, raw=deep, content_type="application/json"))
    failure = failure_of(model).failure
    assert failure in (Failure.NOT_A_COMPLETION, Failure.REFUSED)
