"""The model call: one shared client per provider and the formats it accepted (`Providers`,
owned by the app), the caller's key per request, the response-format ladder (strict json_schema
→ json_object → plain text, remembered per base URL and model), wall-clock deadlines, and
reading what the provider answered — a completion in any of the shapes providers use, or a
failure, raised as `ModelError` (README "Providers").
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import openai
from openai import OpenAI

from aiops import clock, transport
from aiops.api import Usage
from aiops.messages import Text, text
from aiops.provider_errors import RETRYABLE, Failure, classify, retry_after_s, signals_of

log = logging.getLogger("aiops.llm")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Placeholder for the shared client: every request replaces it with the caller's own key.
_PLACEHOLDER_KEY = "sk-fake-placeholder-replaced-per-request"
_RETRY_PAUSE_S = 0.25


class Format(StrEnum):
    """How the answer's shape is asked for, richest first (the ladder's rungs)."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"

    def next(self) -> Format | None:
        ladder = list(Format)
        at = ladder.index(self)
        return ladder[at + 1] if at + 1 < len(ladder) else None


class Providers:
    """What a process keeps of its providers: one shared client per base URL (shared by all
    threads; the caller's key is set per request) and, per (base URL, model), the richest
    response format it accepted after rejecting a richer one. Owned by the app (aiops.app)."""

    def __init__(self) -> None:
        self._clients: dict[str, OpenAI] = {}
        self._lock = threading.Lock()
        self._format_by_target: dict[tuple[str, str], Format] = {}

    def client(self, base_url: str | None) -> OpenAI:
        """The client of one provider; created once, on first use."""
        base = base_url or DEFAULT_BASE_URL
        shared = self._clients.get(base)
        if shared is None:
            with self._lock:
                shared = self._clients.get(base)
                if shared is None:
                    http = transport.with_deadlines(openai.DefaultHttpxClient())
                    shared = OpenAI(
                        api_key=_PLACEHOLDER_KEY, base_url=base, max_retries=0, http_client=http
                    )
                    self._clients[base] = shared
        return shared

    def remembered_mode(self, base_url: str | None, model: str) -> Format:
        key = (base_url or DEFAULT_BASE_URL, model)
        return self._format_by_target.get(key, Format.JSON_SCHEMA)

    def remember(self, base_url: str | None, model: str, mode: Format) -> None:
        self._format_by_target[(base_url or DEFAULT_BASE_URL, model)] = mode

    def close(self) -> None:
        """Close the clients' connections (an app that is done: tests, a rebuilt app)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for shared in clients:
            shared.close()


class ModelError(Exception):
    """A model call that gave no usable completion: why, and what the caller can do about it.

    `message` is the service's own sentence (never the provider's text, which may echo the key).
    """

    def __init__(
        self,
        failure: Failure,
        message: Text | str,
        *,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(str(message))
        self.failure = failure
        self.text = message  # rendered in the request's language at the edge
        self.message = str(message)  # the English sentence
        self.field = field
        self.retry_after = retry_after
        self.calls = 0  # HTTP calls made before the failure (set by `complete`)
        self.facts: dict[str, str] = {}  # for the request's log line (never the key)


@dataclass
class Completion:
    text: str
    usage: Usage
    mode: Format
    cut_off: bool = False  # finish_reason "length": the answer stopped at the token limit


def _response_format(mode: Format, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode is Format.JSON_SCHEMA:
        return {
            "type": "json_schema",
            "json_schema": {"name": "form_update", "strict": True, "schema": schema},
        }
    if mode is Format.JSON_OBJECT:
        return {"type": "json_object"}
    return None


@dataclass
class _Call:
    """What stays the same over the attempts of one `complete`."""

    client: OpenAI
    base: str
    messages: list[dict[str, str]]
    model: str
    schema: dict[str, Any]
    extra_body: dict[str, Any]
    max_retries: int
    budget: _Budget
    made: int = 0  # HTTP calls made so far


def complete(
    messages: list[dict[str, str]],
    *,
    providers: Providers,
    api_key: str,
    model: str,
    schema: dict[str, Any],
    base_url: str | None,
    timeout_s: float,
    max_retries: int = 1,
    deadline: float | None = None,
    extra_body: dict[str, Any] | None = None,
) -> Completion:
    """Ask the model once, stepping down the format ladder only when the provider rejects the
    response format, with bounded transport retries. Each HTTP call ends within `timeout_s` of
    wall-clock time, and all of them by `deadline` (an aiops.clock.now() value)."""
    base = base_url or DEFAULT_BASE_URL
    call = _Call(
        providers.client(base).with_options(api_key=api_key),
        base,
        messages,
        model,
        schema,
        dict(extra_body or {}),
        max_retries,
        _Budget(timeout_s, deadline),
    )
    start = mode = providers.remembered_mode(base, model)
    while True:
        try:
            completion = _attempts(call, mode)
        except ModelError as error:
            step = mode.next() if error.failure is Failure.FORMAT_REJECTED else None
            if step is None:
                final = _final(error)
                final.calls, final.facts = call.made, error.facts
                raise final from None
            log.info("provider rejected response format", extra={"mode": str(mode)})
            mode = step
            continue
        if mode is not start:
            providers.remember(base, model, mode)
        completion.usage.llm_calls = call.made  # rejected formats and retries are calls too
        return completion


def _final(error: ModelError) -> ModelError:
    """A format rejection on the last rung is a refused parameter like any other."""
    if error.failure is not Failure.FORMAT_REJECTED:
        return error
    return _refused(400)


@dataclass
class _Budget:
    timeout_s: float
    deadline: float | None

    def call_deadline(self) -> float:
        """When the next HTTP call must end; none starts with less than a second left."""
        now = clock.now()
        if self.deadline is None:
            return now + self.timeout_s
        if self.deadline - now < 1:
            raise ModelError(Failure.TIMEOUT, text("model_budget_spent"))
        return min(now + self.timeout_s, self.deadline)


def _attempts(call: _Call, mode: Format) -> Completion:
    """One rung: the call, tried again after a transport failure or a 5xx."""
    attempt = 0
    while True:
        try:
            return _one_call(call, mode)
        except ModelError as error:
            if error.failure not in RETRYABLE or attempt >= call.max_retries:
                raise
            attempt += 1
            time.sleep(_RETRY_PAUSE_S)


def _one_call(call: _Call, mode: Format) -> Completion:
    # The messages are sent as-is too (the SDK's `messages=[]` is replaced by them in the body,
    # at the same place): the SDK would walk each through its TypedDict transform on every call
    # (~0.2 ms a message), which changes nothing in plain role/content strings. The masked
    # messages win over any `messages` in the extra body (AIOPS_EXTRA_BODY may not set one).
    body = {**call.extra_body, "messages": call.messages}
    response_format = _response_format(mode, call.schema)
    if response_format is not None:
        # Sent as-is: the SDK would otherwise deep-walk the schema on every call (~0.7 ms).
        body["response_format"] = response_format
    ends = call.budget.call_deadline()
    call.made += 1
    # Each socket operation's own limit; the transport cuts every one to the deadline `ends`.
    seconds = call.budget.timeout_s
    try:
        with transport.within(ends):
            raw = call.client.chat.completions.with_raw_response.create(
                model=call.model,
                messages=[],
                extra_body=body,
                timeout=httpx2.Timeout(seconds, connect=min(seconds, 10.0)),
            )
            content = raw.http_response.content
    except openai.APITimeoutError:
        raise _timeout(call.budget) from None
    except openai.APIConnectionError as exc:
        raise _unreachable(call.base, exc) from None
    except openai.APIStatusError as exc:
        raise _status_error(exc.status_code, exc.response, call.model) from None
    except httpx2.TimeoutException:  # raised past the SDK's own mapping (a body read late)
        raise _timeout(call.budget) from None
    except httpx2.HTTPError as exc:
        raise _unreachable(call.base, exc) from None
    return _completion(content, mode, call.model)


def _timeout(budget: _Budget) -> ModelError:
    if budget.deadline is not None and budget.deadline - clock.now() < 1:
        return ModelError(Failure.TIMEOUT, text("model_budget_spent"))
    return ModelError(Failure.TIMEOUT, text("model_timeout", seconds=f"{budget.timeout_s:g}"))


# --- failures ---------------------------------------------------------------------------------


def _status_error(status: int, response: Any, model: str) -> ModelError:
    try:
        body = response.content
    except Exception:  # a body that failed mid-way reads as no body
        body = b""
    failure = classify(status, signals_of(body))
    return _error_for(failure, status, model, retry_after_s(response.headers))


def _error_for(failure: Failure, status: int, model: str, retry_after: int | None) -> ModelError:
    """Our sentence for a classified failure: what it means and what to do."""
    if failure is Failure.RATE_LIMITED:
        wait = text("wait_seconds", seconds=retry_after) if retry_after else text("wait_a_little")
        return ModelError(
            failure, text("provider_rate_limited", wait=wait), retry_after=retry_after
        )
    if failure is Failure.UNKNOWN_MODEL:
        return ModelError(failure, text("provider_unknown_model", model=repr(model)), field="model")
    if failure is Failure.UNAVAILABLE:
        return ModelError(failure, text("provider_failed", status=status))
    if failure in (Failure.REFUSED, Failure.FORMAT_REJECTED):
        return _refused(status) if failure is Failure.REFUSED else ModelError(failure, "")
    message_id, field = _MESSAGES[failure]
    return ModelError(failure, text(message_id), field=field)


# Failure → (message id in aiops/messages.py, the request field the caller should fix).
_MESSAGES: dict[Failure, tuple[str, str | None]] = {
    Failure.INVALID_KEY: ("provider_invalid_key", "openai_token"),
    Failure.QUOTA: ("provider_quota", None),
    Failure.INPUT_TOO_LONG: ("provider_input_too_long", "user_input"),
    Failure.CONTENT_FILTERED: ("provider_content_filtered", None),
}


def _refused(status: int) -> ModelError:
    return ModelError(Failure.REFUSED, text("provider_refused", status=status))


def _not_a_completion() -> ModelError:
    return ModelError(Failure.NOT_A_COMPLETION, text("provider_not_a_completion"))


def _unreachable(base: str, exc: Exception) -> ModelError:
    """The provider could not be reached: where, and why (never the key)."""
    where, cause = shown_url(base), connection_cause(exc)
    log.warning("model provider unreachable", extra={"base_url": where, "cause": str(cause)})
    error = ModelError(Failure.UNREACHABLE, text("provider_unreachable", where=where, cause=cause))
    error.facts = {"base_url": where, "cause": str(cause)}
    return error


def shown_url(base: str) -> str:
    """`base` without user, password, query or fragment: safe to show and log."""
    try:
        parts = urlsplit(base)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "OPENAI_BASE_URL"


def connection_cause(exc: BaseException) -> Text:
    """A short name for why a connection failed: DNS, refused, TLS, reset, or other."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    said = " ".join(str(e) for e in chain).casefold()
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
        word in said
        for word in ("name or service not known", "name resolution", "nodename nor servname")
    ):
        return text("cause_dns")
    if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in said or "certificate" in said:
        return text("cause_tls")
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in said:
        return text("cause_refused")
    if "reset" in said or "disconnected" in said or "closed" in said:
        return text("cause_closed")
    return text("cause_network")


# --- reading a completion ---------------------------------------------------------------------


def _completion(content: bytes, mode: Format, model: str) -> Completion:
    """The completion in a 200's body; raises ModelError for an error object or anything else."""
    try:
        payload = json.loads(content) if content.strip() else None
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise _not_a_completion()
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _error_object(payload, content, model)
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise _not_a_completion()
    finish = choice.get("finish_reason")
    if finish in ("content_filter", "sensitive") or _refusal(message):
        raise ModelError(Failure.CONTENT_FILTERED, text(_MESSAGES[Failure.CONTENT_FILTERED][0]))
    if finish in ("insufficient_system_resource", "network_error"):
        raise ModelError(Failure.UNAVAILABLE, text("provider_stopped", reason=finish))
    return Completion(
        text=answer_text(message),
        usage=usage_of(payload.get("usage")),
        mode=mode,
        cut_off=finish in ("length", "model_context_window_exceeded"),
    )


def _error_object(payload: dict[str, Any], content: bytes, model: str) -> ModelError:
    """A 200 without choices: an error object (some providers answer errors so), else junk."""
    if not any(key in payload for key in ("error", "detail", "base_resp")) and not (
        payload.get("object") == "error" or ("code" in payload and "message" in payload)
    ):
        return _not_a_completion()
    signals = signals_of(content)
    status = next((int(c) for c in signals.codes if c.isdigit() and 400 <= int(c) < 600), 400)
    return _error_for(classify(status, signals), status, model, None)


def _refusal(message: dict[str, Any]) -> bool:
    refusal = message.get("refusal")
    return isinstance(refusal, str) and bool(refusal.strip()) and not _text(message.get("content"))


def answer_text(message: dict[str, Any]) -> str:
    """The answer's text: `content` (a string or a list of text parts); when that is empty,
    the reasoning field some servers put the whole answer in."""
    content = _text(message.get("content"))
    if content.strip():
        return content
    for name in ("reasoning_content", "reasoning"):
        reasoning = _text(message.get(name))
        if reasoning.strip():
            return reasoning
    return content


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = (_part_text(part) for part in value)
        return "".join(part for part in parts if part)
    return ""


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and part.get("type", "text") in ("text", "output_text"):
        text = part.get("text")
        return text if isinstance(text, str) else ""
    return ""


def usage_of(usage: Any) -> Usage:
    """Token counts in any provider's spelling; what is missing counts 0."""
    if not isinstance(usage, dict):
        return Usage(llm_calls=1)
    details = usage.get("prompt_tokens_details")
    cached = _count(details, "cached_tokens") or _count(usage, "prompt_cache_hit_tokens")
    return Usage(
        prompt_tokens=_count(usage, "prompt_tokens"),
        completion_tokens=_count(usage, "completion_tokens"),
        total_tokens=_count(usage, "total_tokens"),
        cached_prompt_tokens=cached,
        llm_calls=1,
    )


def _count(container: Any, name: str) -> int:
    value = container.get(name) if isinstance(container, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
