"""The model call: one shared client per provider, the caller's key per request, the
response-format ladder (strict json_schema → json_object → plain text, remembered per base URL
and model), and the mapping of provider failures to API errors.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import openai
from openai import OpenAI

from aiops.api import ApiError, Usage

log = logging.getLogger("aiops.llm")

MODES: tuple[str, ...] = ("json_schema", "json_object", "text")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Placeholder for the shared client: every request replaces it with the caller's own key.
_PLACEHOLDER_KEY = "sk-fake-placeholder-replaced-per-request"
_RETRY_PAUSE_S = 0.25

_clients: dict[str, OpenAI] = {}
_clients_lock = threading.Lock()
# (base URL, model) → index into MODES of the richest response format it accepted.
_mode_by_target: dict[tuple[str, str], int] = {}


@dataclass
class Completion:
    text: str
    usage: Usage
    mode: str


def client(base_url: str | None) -> OpenAI:
    """The process-wide client of one provider; created once, shared by all threads."""
    base = base_url or DEFAULT_BASE_URL
    shared = _clients.get(base)
    if shared is None:
        with _clients_lock:
            shared = _clients.get(base)
            if shared is None:
                shared = OpenAI(api_key=_PLACEHOLDER_KEY, base_url=base, max_retries=0)
                _clients[base] = shared
    return shared


def forget_formats() -> None:
    """Forget what each provider accepted (tests, or after a provider upgrade)."""
    _mode_by_target.clear()


def remembered_mode(base_url: str | None, model: str) -> str:
    return MODES[_mode_by_target.get((base_url or DEFAULT_BASE_URL, model), 0)]


def _response_format(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "form_update", "strict": True, "schema": schema},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def complete(
    messages: list[dict[str, str]],
    *,
    api_key: str,
    model: str,
    schema: dict[str, Any],
    base_url: str | None,
    timeout_s: float,
    max_retries: int = 1,
    deadline: float | None = None,
) -> Completion:
    """Ask the model once, with format fallbacks and bounded transport retries. Each attempt
    gets `timeout_s`, cut to what is left before `deadline` (a time.monotonic() value)."""
    base = base_url or DEFAULT_BASE_URL
    per_request = client(base).with_options(api_key=api_key)
    budget = _Budget(timeout_s, deadline)
    start = _mode_by_target.get((base, model), 0)
    for index in range(start, len(MODES) - 1):
        try:
            completion = _call(
                per_request, messages, model, MODES[index], schema, max_retries, budget
            )
        except _FormatRejected:
            log.info("provider rejected response format", extra={"mode": MODES[index]})
            continue
        _remember(base, model, index, start)
        return completion
    completion = _call(per_request, messages, model, "text", schema, max_retries, budget)
    _remember(base, model, len(MODES) - 1, start)
    return completion


def _remember(base: str, model: str, index: int, start: int) -> None:
    if index != start:
        _mode_by_target[(base, model)] = index


@dataclass
class _Budget:
    timeout_s: float
    deadline: float | None

    def next_timeout(self) -> float:
        """The timeout of the next attempt; none starts with less than a second left."""
        if self.deadline is None:
            return self.timeout_s
        left = self.deadline - time.monotonic()
        if left < 1:
            raise ApiError(
                "upstream_timeout",
                "The model did not answer within this request's time budget; try again.",
            )
        return min(self.timeout_s, left)


class _FormatRejected(Exception):
    pass


def _call(
    client: OpenAI,
    messages: list[dict[str, str]],
    model: str,
    mode: str,
    schema: dict[str, Any],
    max_retries: int,
    budget: _Budget,
) -> Completion:
    kwargs: dict[str, Any] = {"model": model, "messages": messages}
    response_format = _response_format(mode, schema)
    if response_format is not None:
        # Sent as-is: the SDK would otherwise deep-walk the schema on every call (~0.7 ms).
        kwargs["extra_body"] = {"response_format": response_format}
    attempt = 0
    while True:
        try:
            response = client.chat.completions.create(**kwargs, timeout=budget.next_timeout())
            return _completion(response, mode)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if mode != "text":
                raise _FormatRejected from exc
            raise _upstream_error(exc, model) from None
        except openai.APITimeoutError:
            raise ApiError(
                "upstream_timeout",
                "The model did not answer in time; try again, or ask for a smaller change.",
            ) from None
        except (openai.APIConnectionError, openai.InternalServerError) as exc:
            if attempt >= max_retries:
                raise _upstream_error(exc, model) from None
            attempt += 1
            time.sleep(_RETRY_PAUSE_S)
        except openai.APIError as exc:
            raise _upstream_error(exc, model) from None
        except _NotACompletion:
            raise ApiError(
                "upstream_error",
                "The provider answered with something that is not a chat completion; "
                "check OPENAI_BASE_URL.",
            ) from None


class _NotACompletion(Exception):
    pass


def _completion(response: Any, mode: str) -> Completion:
    """Our view of the SDK's answer; a 200 that is no completion (an HTML page from a proxy,
    a bare string) raises _NotACompletion."""
    try:
        choices = response.choices
        choice = choices[0] if choices else None
        if choice is not None and choice.message is None:
            raise TypeError("a choice without a message")
        text = (choice.message.content if choice is not None else "") or ""
        usage = response.usage
        if not isinstance(text, str):
            raise TypeError(type(text).__name__)
        return Completion(
            text=text,
            usage=Usage(
                prompt_tokens=_count(usage, "prompt_tokens"),
                completion_tokens=_count(usage, "completion_tokens"),
                total_tokens=_count(usage, "total_tokens"),
                llm_calls=1,
            ),
            mode=mode,
        )
    except (AttributeError, TypeError, IndexError, KeyError) as exc:
        raise _NotACompletion from exc


def _count(usage: Any, name: str) -> int:
    value = getattr(usage, name, 0) or 0
    return value if isinstance(value, int) else 0


def _upstream_error(exc: Exception, model: str) -> ApiError:
    """Map a provider failure to our error; never copy the provider's text (it may echo the key)."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.AuthenticationError):
        return ApiError(
            "invalid_token",
            "The provider rejected the API key; check openai_token.",
            "openai_token",
        )
    if isinstance(exc, openai.RateLimitError):
        response = getattr(exc, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        return ApiError(
            "rate_limited",
            "The provider rate-limited this key (or its quota is used up); wait and try again.",
            retry_after=retry_after,
        )
    if isinstance(exc, openai.NotFoundError):
        return ApiError(
            "upstream_error", f"The provider does not know the model {model!r} (404).", "model"
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return ApiError(
            "upstream_error", f"The provider refused this key access to model {model!r} (403)."
        )
    if isinstance(exc, openai.APIConnectionError):
        return ApiError("upstream_error", "The model provider could not be reached; try again.")
    suffix = f" (HTTP {status})" if status else ""
    return ApiError("upstream_error", f"The model provider failed{suffix}; try again.")
